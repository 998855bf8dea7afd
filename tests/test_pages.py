"""Pages: security headers, health check, error pages, CSRF, local assets."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from clinic import create_app
from clinic.audit.models import AuditEvent
from clinic.auth.models import Role, User
from clinic.auth.services import find_user_by_username
from clinic.extensions import db as _db
from tests.conftest import BASE_CONFIG, PASSWORD
from tests.second_factor_codes import fresh_code


def csp_directives(response) -> dict[str, str]:
    policy = response.headers["Content-Security-Policy"]
    return {
        part.strip().split(" ", 1)[0]: part.strip().partition(" ")[2] for part in policy.split(";")
    }


def assert_security_headers(response) -> None:
    directives = csp_directives(response)
    assert "'unsafe-inline'" not in directives["script-src"]
    assert "'unsafe-eval'" not in directives["script-src"]
    assert directives["frame-ancestors"] == "'none'"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_login_page_has_security_headers_and_is_not_cached(client):
    response = client.get("/login")
    assert response.status_code == 200
    assert_security_headers(response)
    assert response.headers["Cache-Control"] == "no-store"


def test_signed_in_pages_have_security_headers_and_are_not_cached(client, login_as):
    login_as(Role.ADMIN)
    for path in ("/staff/", "/audit/", "/password"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert_security_headers(response)
        assert response.headers["Cache-Control"] == "no-store", path


def test_error_pages_and_redirects_have_security_headers(client):
    for response in (client.get("/no-such-page"), client.get("/staff/")):
        assert_security_headers(response)
        assert response.headers["Cache-Control"] == "no-store"


def test_healthz_answers_200_with_a_database_round_trip(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_healthz_answers_503_when_the_database_is_unreachable(tmp_path):
    unreachable = f"sqlite:///{tmp_path}/missing-directory/clinic.sqlite3"
    down = create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": unreachable})
    try:
        response = down.test_client().get("/healthz")
        assert response.status_code == 503
        assert response.json == {"status": "database unavailable"}
    finally:
        with down.app_context():
            _db.engine.dispose()


def test_page_needing_the_database_answers_a_friendly_503_when_it_is_down(tmp_path):
    unreachable = f"sqlite:///{tmp_path}/missing-directory/clinic.sqlite3"
    down = create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": unreachable})
    try:
        response = down.test_client().post(
            "/login", data={"username": "someone", "password": "some-password-1"}
        )
        assert response.status_code == 503
        assert "Temporarily unavailable" in response.get_data(as_text=True)
    finally:
        with down.app_context():
            _db.engine.dispose()


def test_unknown_page_answers_the_friendly_404(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    page = response.get_data(as_text=True)
    assert "Not found" in page and "There is no page at this address." in page
    assert "<html" in page


def test_wrong_method_answers_the_friendly_405(client, login_as):
    login_as(Role.NURSE)
    response = client.get("/logout")
    assert response.status_code == 405
    page = response.get_data(as_text=True)
    assert "This page cannot be used that way." in page
    assert "<html" in page


def test_unknown_record_answers_404_to_an_admin(client, login_as):
    login_as(Role.ADMIN)
    assert client.get("/staff/424242").status_code == 404


# --- CSRF -------------------------------------------------------------------------------------

CSRF_ON = {"WTF_CSRF_ENABLED": True}


def csrf_token(client, path: str) -> str:
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
        r'id="csrf_token" name="csrf_token" type="hidden" value="([^"]+)"', page
    )
    assert match, "no CSRF token on " + path
    return match.group(1)


def sign_in_with_token(client, username: str) -> None:
    token = csrf_token(client, "/login")
    response = client.post(
        "/login", data={"username": username, "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302
    if response.location.startswith("/login/code"):  # the second factor's step, its own token
        token = csrf_token(client, response.location)
        code = fresh_code(find_user_by_username(username))
        response = client.post(response.location, data={"code": code, "csrf_token": token})
        assert response.status_code == 302
        assert not response.location.startswith("/login")


@pytest.mark.parametrize("app_config", [CSRF_ON])
def test_login_without_csrf_token_is_refused_and_writes_nothing(client, make_user, db, app_config):
    user = make_user(Role.NURSE)
    events_before = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))
    client.get("/login")
    response = client.post("/login", data={"username": user.username, "password": PASSWORD})
    assert response.status_code == 400
    assert "form expired" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) == events_before
    assert db.session.get(User, user.id).last_login_at is None


@pytest.mark.parametrize("app_config", [CSRF_ON])
def test_staff_form_without_csrf_token_is_refused_and_writes_nothing(
    client, make_user, db, app_config
):
    admin = make_user(Role.ADMIN)
    sign_in_with_token(client, admin.username)
    events_before = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))
    data = {
        "username": "forged",
        "full_name": "Forged Account",
        "credentials": "",
        "role": "admin",
        "password": "independent-harbour-pass-123",
    }
    response = client.post("/staff/new", data=data)
    assert response.status_code == 400
    assert response.headers["Cache-Control"] == "no-store"
    db.session.expire_all()
    assert db.session.scalar(sa.select(User).where(User.username == "forged")) is None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) == events_before
    # The same form with its token goes through: the refusal was about the token.
    data["csrf_token"] = csrf_token(client, "/staff/new")
    assert client.post("/staff/new", data=data).status_code == 302


@pytest.mark.parametrize("app_config", [CSRF_ON])
def test_logout_without_csrf_token_does_not_sign_out(client, make_user, app_config):
    user = make_user(Role.NURSE)
    sign_in_with_token(client, user.username)
    assert client.post("/logout").status_code == 400
    assert client.get("/password").status_code == 200


# --- assets -----------------------------------------------------------------------------------


def test_login_page_loads_nothing_from_another_host(client):
    page = client.get("/login").get_data(as_text=True)
    assert "http://" not in page and "https://" not in page
    assert not re.search(r'(src|href)="//', page)
    stylesheets = re.findall(r'<link[^>]+rel="stylesheet"[^>]+href="([^"]+)"', page)
    stylesheets += re.findall(r'<link[^>]+href="([^"]+)"[^>]+rel="stylesheet"', page)
    bootstrap_css = [href for href in stylesheets if "bootstrap" in href]
    assert bootstrap_css, stylesheets
    for href in bootstrap_css:
        assert href.startswith("/")
        assert client.get(href).status_code == 200
    for src in re.findall(r'<script[^>]+src="([^"]+)"', page):
        assert src.startswith("/")
        assert client.get(src).status_code == 200, src


def test_pages_carry_no_inline_script(client, login_as):
    login_as(Role.ADMIN)
    for path in ("/login", "/staff/", "/audit/"):
        page = client.get(path).get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page), path
        assert not re.search(r"\son[a-z]+=", page), path
