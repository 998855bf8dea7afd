"""Extensions, created unbound and bound to the app in the factory."""

from flask import request
from flask_bootstrap import Bootstrap5
from flask_limiter import Limiter
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from clinic.database import Base


def client_address() -> str:
    """The request's client address (behind PROXY_FIX_X_FOR trusted proxies: the client's)."""
    return request.remote_addr or "unknown"


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
limiter = Limiter(key_func=client_address)
bootstrap = Bootstrap5()
