"""The clinic application: session records of a ketamine infusion clinic."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from clinic.clinic_time import format_local
from clinic.config import build_config
from clinic.extensions import bootstrap, csrf, db, limiter, login_manager, migrate
from clinic.form_rendering import install as install_form_rendering
from clinic.request_bounds import BoundedIntConverter, install_text_checks
from clinic.sqlite_support import install_sqlite_hooks


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(__name__, template_folder="../templates", instance_relative_config=True)
    app.config.from_mapping(build_config(app.instance_path, config))
    app.jinja_env.add_extension("jinja2.ext.do")
    app.jinja_env.filters["localtime"] = format_local
    register_extensions(app)
    register_blueprints(app)
    register_cli_commands(app)
    register_error_pages(app)
    register_request_hooks(app)
    return app


def register_extensions(app: Flask) -> None:
    install_sqlite_hooks()
    install_form_rendering()
    install_text_checks()
    db.init_app(app)
    migrate.init_app(app, db, directory=str(Path(app.root_path).parent / "migrations"))
    csrf.init_app(app)
    limiter.init_app(app)
    bootstrap.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to continue."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"
    login_manager.user_loader(_load_user)
    if app.config["PROXY_FIX_X_FOR"]:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=app.config["PROXY_FIX_X_FOR"])  # type: ignore[method-assign]


def _load_user(session_token: str) -> Any:
    from clinic.auth.models import USER_BY_SESSION_TOKEN

    return db.session.scalar(USER_BY_SESSION_TOKEN, {"session_token": session_token})


def register_blueprints(app: Flask) -> None:
    # Imported here, not at the top: importing any clinic module runs this package first, and
    # must not load every feature's views with it.
    from clinic.audit.views import bp as audit
    from clinic.auth.second_factor_views import bp as second_step
    from clinic.auth.views import bp as auth
    from clinic.instruments.views import bp as instruments
    from clinic.main.views import bp as main
    from clinic.orders.views import bp as orders
    from clinic.patients.consents.views import bp as consents
    from clinic.patients.courses.views import bp as courses
    from clinic.patients.views import bp as patients
    from clinic.register.views import bp as register
    from clinic.review.views import bp as review
    from clinic.sessions.views import bp as sessions
    from clinic.staff.views import bp as staff

    # Before any route is added: `<int:...>` takes no id larger than the database holds.
    app.url_map.converters["int"] = BoundedIntConverter
    for blueprint in (
        auth,
        second_step,
        main,
        staff,
        patients,
        consents,
        courses,
        orders,
        review,
        sessions,
        instruments,
        register,
        audit,
    ):
        app.register_blueprint(blueprint)


def register_cli_commands(app: Flask) -> None:
    from clinic.cli import register_cli

    register_cli(app)


def register_error_pages(app: Flask) -> None:
    from clinic.errors import register_error_handlers

    register_error_handlers(app)


def register_request_hooks(app: Flask) -> None:
    from clinic.auth.access import enforce_access
    from clinic.auth.session_guard import check_session_clock
    from clinic.security_headers import register_security_headers

    app.before_request(check_session_clock)
    app.before_request(enforce_access)
    register_security_headers(app)

    @app.context_processor
    def template_helpers() -> dict[str, Any]:
        from clinic.auth.forms import LogoutForm
        from clinic.auth.models import Role
        from clinic.navigation import nav_links

        # formdata=None: the sign-out button is never filled from the request being answered,
        # whose body may be the very one refused (a 413 page must not parse it again).
        return {"logout_form": LogoutForm(formdata=None), "Role": Role, "nav_links": nav_links()}
