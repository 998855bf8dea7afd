"""Deny by default: every route declares its roles, and the declaration is enforced."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from clinic import create_app
from clinic.auth.access import declared_roles, is_public
from clinic.auth.models import Role
from clinic.extensions import db as _db
from tests.conftest import BASE_CONFIG, PASSWORD, login
from tests.second_factor_codes import fresh_code

# The only endpoints reachable without signing in: signing in (on its page, its second step's
# code or enrolment, or on the lock screen of a page locked at the idle limit), static files and
# the health check.
PUBLIC_ENDPOINTS = {
    "auth.login",
    "second_factor.code",
    "second_factor.enrol",
    "auth.unlock",
    "static",
    "bootstrap.static",
    "main.healthz",
}


def test_every_endpoint_declares_its_roles(app):
    undeclared, unexpected_public = [], []
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        if is_public(rule.endpoint, view):
            if rule.endpoint not in PUBLIC_ENDPOINTS:
                unexpected_public.append(rule.rule)
        elif not declared_roles(view):
            undeclared.append(f"{rule.rule} ({rule.endpoint})")
    assert undeclared == [], "routes without @roles_required"
    assert unexpected_public == [], "routes declared public"


def test_public_endpoints_are_exactly_sign_in_static_and_healthz(app):
    public = {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if is_public(rule.endpoint, app.view_functions[rule.endpoint])
    }
    assert public == PUBLIC_ENDPOINTS


def test_route_added_without_declaration_is_refused_at_runtime(database_url, make_user):
    fresh = create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": database_url})

    @fresh.route("/undeclared")
    def undeclared() -> str:
        return "this should never be served"

    username = make_user(Role.ADMIN).username
    # The fresh app has sessions of its own: end ours so that it holds no SQLite lock.
    _db.session.rollback()
    try:
        client = fresh.test_client()
        anonymous = client.get("/undeclared")
        assert anonymous.status_code == 302
        assert anonymous.location.startswith("/login")
        assert login(client, username).status_code == 302
        refused = client.get("/undeclared")
        assert refused.status_code == 403
        assert "this should never be served" not in refused.get_data(as_text=True)
    finally:
        with fresh.app_context():
            _db.engine.dispose()


def test_roles_required_needs_at_least_one_role():
    from clinic.auth.access import roles_required

    with pytest.raises(ValueError):
        roles_required()


def test_anonymous_is_redirected_to_login_with_next(client):
    response = client.get("/staff/?page=2")
    assert response.status_code == 302
    parts = urlsplit(response.location)
    assert parts.path == "/login"
    assert parse_qs(parts.query) == {"next": ["/staff/?page=2"]}


def test_anonymous_post_is_redirected_to_login_without_next(client):
    response = client.post("/staff/new", data={"username": "x"})
    assert response.status_code == 302
    assert urlsplit(response.location).path == "/login"
    assert "next" not in response.location


def test_login_form_follows_next_back_to_the_refused_page(client, make_user):
    admin = make_user(Role.ADMIN)
    login_page = client.get("/audit/").location
    response = client.post(login_page, data={"username": admin.username, "password": PASSWORD})
    response = client.post(response.location, data={"code": fresh_code(admin)})
    assert response.location == "/audit/"


def test_wrong_role_gets_the_friendly_403_page(client, login_as):
    login_as(Role.NURSE)
    response = client.get("/staff/")
    assert response.status_code == 403
    page = response.get_data(as_text=True)
    assert "Not allowed" in page
    assert "Your role does not give access to this page." in page
    assert "<html" in page  # the site's page, not a bare error


ADMIN_PAGES = ["/staff/", "/staff/new", "/staff/{admin_id}", "/audit/"]
ADMIN_POSTS = [
    "/staff/new",
    "/staff/{admin_id}",
    "/staff/{admin_id}/password",
    "/staff/{admin_id}/deactivate",
    "/staff/{admin_id}/reactivate",
]


@pytest.mark.parametrize(
    ("role", "expected"), [(Role.NURSE, 403), (Role.CLINICIAN, 403), (Role.ADMIN, 200)]
)
def test_staff_and_audit_pages_admit_only_admins(client, login_as, make_user, role, expected):
    other_admin = make_user(Role.ADMIN)
    login_as(role)
    for path in ADMIN_PAGES:
        url = path.format(admin_id=other_admin.id)
        assert client.get(url).status_code == expected, url


@pytest.mark.parametrize("role", [Role.NURSE, Role.CLINICIAN])
def test_staff_changes_are_refused_to_clinical_roles(client, login_as, make_user, db, role):
    other_admin = make_user(Role.ADMIN)
    login_as(role)
    for path in ADMIN_POSTS:
        url = path.format(admin_id=other_admin.id)
        response = client.post(
            url,
            data={
                "username": "intruder",
                "full_name": "Intruder",
                "role": "admin",
                "password": "intruder-password-123",
            },
        )
        assert response.status_code == 403, url
    db.session.expire_all()
    assert other_admin.active and other_admin.full_name != "Intruder"
