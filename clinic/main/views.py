import sqlalchemy as sa
from flask import render_template
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError

from clinic.auth.access import public, roles_required
from clinic.auth.models import Role
from clinic.extensions import db
from clinic.main import bp
from clinic.review.board import build_board


@bp.route("/")
@roles_required(*Role)
def index() -> str:
    board = None if current_user.role == Role.ADMIN else build_board()
    return render_template("main/index.html", board=board)


@bp.route("/healthz")
@public
def healthz() -> tuple[dict[str, str], int]:
    try:
        db.session.execute(sa.text("SELECT 1"))
    except SQLAlchemyError:
        db.session.rollback()
        return {"status": "database unavailable"}, 503
    return {"status": "ok"}, 200
