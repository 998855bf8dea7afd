"""Who may reach which view: declared on the view, enforced once for every request.

Deny by default: `enforce_access` runs before every request and refuses any endpoint that
declares neither roles nor `public`, so a view whose decorator was forgotten is unreachable
instead of open.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import abort, current_app, flash, redirect, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from clinic.auth.models import Role

F = TypeVar("F", bound=Callable[..., Any])

ALLOWED_WHILE_PASSWORD_EXPIRED = frozenset({"auth.change_password", "auth.logout"})
ALWAYS_PUBLIC = frozenset({"static", "bootstrap.static"})


def roles_required(*roles: Role) -> Callable[[F], F]:
    """Declare the roles admitted to a view."""
    if not roles:
        raise ValueError("roles_required needs at least one role")

    def mark(view: F) -> F:
        view.allowed_roles = frozenset(roles)  # type: ignore[attr-defined]
        return view

    return mark


def public(view: F) -> F:
    """Declare a view reachable without signing in (login, health check)."""
    view.public = True  # type: ignore[attr-defined]
    return view


def declared_roles(view: Callable[..., Any]) -> frozenset[Role] | None:
    return getattr(view, "allowed_roles", None)


def is_public(endpoint: str | None, view: Callable[..., Any] | None) -> bool:
    return endpoint in ALWAYS_PUBLIC or bool(getattr(view, "public", False))


def safe_next(target: str | None) -> str | None:
    """A `next` target only when it is a path on this host."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target:
        return None
    return target


def page_to_return_to() -> str | None:
    """Where signing in again leads: the page asked for, or, for a post, the page it was sent
    from (the post itself is not repeated). Only a path on this host."""
    if request.method == "GET":
        return safe_next(request.full_path.rstrip("?"))
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc != request.host:
        return None
    return safe_next(referrer.path + (f"?{referrer.query}" if referrer.query else ""))


def enforce_access() -> Response | None:
    endpoint = request.endpoint
    if endpoint is None:  # no route matched: let the 404/405 handlers answer
        return None
    view = current_app.view_functions.get(endpoint)
    if is_public(endpoint, view):
        return None
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login", next=page_to_return_to()))
    if current_user.must_change_password and endpoint not in ALLOWED_WHILE_PASSWORD_EXPIRED:
        flash("Choose a new password before you continue.", "warning")
        return redirect(url_for("auth.change_password"))
    roles = declared_roles(view) if view else None
    if roles is None or current_user.role not in roles:
        abort(403)
    return None
