"""The baseline: the least a Flask page on this stack costs, `SELECT 1` through Flask-SQLAlchemy.

Served by gunicorn with the clinic's settings in the same run, it turns requests per second, which
depend on the machine, into a ratio that does not: a page at 0.6 does 60 % of the work-free page's
throughput here and on a server alike.

    DATABASE_URL=sqlite:///x.sqlite3 gunicorn bench.baseline_app:app
"""

from __future__ import annotations

import os

import sqlalchemy as sa
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


def create_app() -> Flask:
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
    # The clinic's engine options (clinic/config.py), so the pool behaves the same on both sides.
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {"pool_pre_ping": True}
    db.init_app(app)

    @app.get("/")
    def select_one() -> str:
        return f"{db.session.scalar(sa.text('SELECT 1'))}\n"

    return app


app = create_app()
