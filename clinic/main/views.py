import sqlalchemy as sa
from flask import render_template
from sqlalchemy.exc import SQLAlchemyError

from clinic.auth.access import public, roles_required
from clinic.auth.models import Role
from clinic.extensions import db
from clinic.main import bp


@bp.route("/")
@roles_required(*Role)
def index() -> str:
    return render_template("main/index.html")


@bp.route("/healthz")
@public
def healthz() -> tuple[dict[str, str], int]:
    try:
        db.session.execute(sa.text("SELECT 1"))
    except SQLAlchemyError:
        db.session.rollback()
        return {"status": "database unavailable"}, 503
    return {"status": "ok"}, 200
