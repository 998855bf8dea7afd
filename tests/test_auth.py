"""Signing in and out: audit, password policy, session lifetime, cookie replay.

What failed sign-ins hold (and what they must not) is in tests/test_login_throttle.py.
"""

from __future__ import annotations

import re
import time

import pytest
import sqlalchemy as sa

from clinic import create_app
from clinic.audit.models import AuditEvent
from clinic.auth.models import Role, User
from tests.conftest import BASE_CONFIG, PASSWORD, login
from tests.helpers import audit_actions
from tests.second_factor_codes import fresh_code

NEW_PASSWORD = "a-brand-new-passphrase-77"
# A page every signed-in role may open (the home page belongs to the clinical features).
PROBE = "/password"


def actions(db, user_id: int | None = None) -> list[str]:
    query = sa.select(AuditEvent.action).order_by(AuditEvent.id)
    if user_id is not None:
        query = query.where(AuditEvent.entity_id == str(user_id))
    return list(db.session.scalars(query))


def reload(db, user: User) -> User:
    db.session.expire_all()
    return db.session.get(User, user.id)


def session_cookie(client) -> str:
    cookie = client.get_cookie("clinic_session")
    assert cookie is not None
    return cookie.value


def replay(client, value: str) -> None:
    client.set_cookie("clinic_session", value)


def without_tokens(page: str) -> str:
    return re.sub(r'name="csrf[-_]token"[^>]*>', "", page)


def assert_signed_out(client) -> None:
    response = client.get(PROBE)
    assert response.status_code == 302
    assert response.location.startswith("/login")


# --- signing in -------------------------------------------------------------------------------


def test_correct_password_signs_in_and_opens_the_home_page(client, make_user):
    user = make_user(Role.NURSE)
    response = login(client, user.username)
    assert response.status_code == 302
    assert response.location == "/"
    assert client.get(PROBE).status_code == 200


def test_username_is_matched_case_insensitively(client, make_user):
    make_user(Role.NURSE, username="Jane.Doe")
    assert login(client, "jane.doe").status_code == 302


def test_wrong_password_is_refused(client, make_user):
    user = make_user(Role.NURSE)
    response = login(client, user.username, "not-the-password-at-all")
    assert response.status_code == 200
    assert "Sign-in failed" in response.get_data(as_text=True)
    assert_signed_out(client)


def test_failure_message_is_identical_for_unknown_username_and_wrong_password(client, make_user):
    make_user(Role.NURSE, username="known-user")
    unknown = login(client, "nobody-here", "some-wrong-password-1").get_data(as_text=True)
    wrong = login(client, "known-user", "some-wrong-password-1").get_data(as_text=True)
    assert "Sign-in failed" in unknown
    # The pages differ only by the username echoed back in the field (and the CSRF tokens,
    # signed with the second they were made in).
    assert without_tokens(unknown.replace("nobody-here", "X")) == without_tokens(
        wrong.replace("known-user", "X")
    )


def test_inactive_account_is_refused_with_the_same_message(client, db, make_user):
    user = make_user(Role.NURSE)
    user.active = False
    db.session.commit()
    response = login(client, user.username)
    assert response.status_code == 200
    assert "Sign-in failed" in response.get_data(as_text=True)


# --- audit of sign-in events ------------------------------------------------------------------


def test_login_failed_login_logout_and_password_change_are_audited(client, db, make_user):
    user = make_user(Role.NURSE)
    login(client, user.username, "wrong-password-guess")
    login(client, user.username)
    client.post(
        "/password",
        data={
            "current_password": PASSWORD,
            "new_password": NEW_PASSWORD,
            "confirm_password": NEW_PASSWORD,
        },
    )
    client.post("/logout")
    assert actions(db, user.id) == [
        "staff_created",
        "login_failed",
        "login",
        "password_changed",
        "logout",
    ]
    stored = db.session.scalars(sa.select(AuditEvent.changes)).all()
    assert not any(NEW_PASSWORD in text or PASSWORD in text for text in stored)


def test_failed_login_with_unknown_username_is_audited_without_the_typed_name(client, db):
    login(client, "ghost-user", "whatever-password-1")
    event = audit_actions("login_failed")[0]
    assert event is not None and event.actor_id is None
    assert "ghost-user" not in event.changes
    assert "whatever-password-1" not in event.changes


# --- password policy --------------------------------------------------------------------------


def change_password(client, new: str, current: str = PASSWORD, confirm: str | None = None):
    return client.post(
        "/password",
        data={
            "current_password": current,
            "new_password": new,
            "confirm_password": new if confirm is None else confirm,
        },
    )


@pytest.mark.parametrize(
    ("new_password", "message"),
    [
        ("short-pw-1", "at least 12 characters"),
        ("1qaz2wsx3edc", "too easy to guess"),
        ("PASSWORD1234", "too easy to guess"),
        ("aaaaaaaaaaaaaaaa", "too easy to guess"),
    ],
)
def test_password_policy_refuses_weak_passwords(client, login_as, db, new_password, message):
    user = login_as(Role.NURSE)
    response = change_password(client, new_password)
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert reload(db, user).password_hash == user.password_hash


def test_password_must_not_contain_the_username(client, login_as, db):
    login_as(Role.NURSE, username="marguerite")
    response = change_password(client, "Marguerite-loves-tea")
    assert "must not contain the username" in response.get_data(as_text=True)


def test_password_change_needs_the_current_password(client, login_as):
    login_as(Role.NURSE)
    response = change_password(client, NEW_PASSWORD, current="not-my-password-x")
    assert "current password is not correct" in response.get_data(as_text=True)


def test_password_change_needs_matching_confirmation(client, login_as):
    login_as(Role.NURSE)
    response = change_password(client, NEW_PASSWORD, confirm=NEW_PASSWORD + "x")
    assert "The two entries differ." in response.get_data(as_text=True)


def test_changed_password_works_and_old_one_does_not(client, login_as, db):
    user = login_as(Role.NURSE)
    response = change_password(client, NEW_PASSWORD)
    assert response.status_code == 302
    assert client.get(PROBE).status_code == 200  # still signed in on this device
    client.post("/logout")
    assert login(client, user.username).status_code == 200
    assert login(client, user.username, NEW_PASSWORD).status_code == 302


def test_must_change_password_user_reaches_only_password_and_logout(client, login_as, db):
    user = login_as(Role.ADMIN, must_change_password=True)
    for path in ("/", "/staff/", "/audit/", f"/staff/{user.id}"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.location == "/password", path
    assert client.get("/password").status_code == 200
    assert change_password(client, NEW_PASSWORD).status_code == 302
    assert not reload(db, user).must_change_password
    assert client.get("/staff/").status_code == 200


def test_must_change_password_user_can_log_out(client, login_as):
    login_as(Role.NURSE, must_change_password=True)
    response = client.post("/logout")
    assert response.status_code == 302
    assert response.location.startswith("/login")
    assert_signed_out(client)


def test_first_login_with_must_change_goes_to_password_page(client, make_user):
    user = make_user(Role.NURSE, must_change_password=True)
    response = login(client, user.username)
    assert response.location == "/password"


# --- cookie replay ----------------------------------------------------------------------------


def test_cookie_replayed_after_logout_is_refused(client, login_as):
    login_as(Role.NURSE)
    copied = session_cookie(client)
    client.post("/logout")
    replay(client, copied)
    assert_signed_out(client)


def test_cookie_replayed_after_password_change_is_refused(client, login_as):
    login_as(Role.NURSE)
    copied = session_cookie(client)
    assert change_password(client, NEW_PASSWORD).status_code == 302
    assert client.get(PROBE).status_code == 200  # the current cookie carries the new token
    replay(client, copied)
    assert_signed_out(client)


def _admin_client(app, make_user):
    admin = make_user(Role.ADMIN)
    admin_client = app.test_client()
    assert login(admin_client, admin.username).status_code == 302
    return admin_client


def test_cookie_replayed_after_role_change_is_refused(app, client, login_as, make_user, db):
    nurse = login_as(Role.NURSE)
    copied = session_cookie(client)
    admin_client = _admin_client(app, make_user)
    response = admin_client.post(
        f"/staff/{nurse.id}",
        data={"full_name": nurse.full_name, "credentials": "MD", "role": "clinician"},
    )
    assert response.status_code == 302
    assert reload(db, nurse).role == Role.CLINICIAN
    replay(client, copied)
    assert_signed_out(client)


def test_cookie_replayed_after_deactivation_is_refused(app, client, login_as, make_user):
    nurse = login_as(Role.NURSE)
    copied = session_cookie(client)
    admin_client = _admin_client(app, make_user)
    assert admin_client.post(f"/staff/{nurse.id}/deactivate").status_code == 302
    replay(client, copied)
    assert_signed_out(client)


def test_unchanged_cookie_keeps_working(client, login_as):
    login_as(Role.NURSE)
    copied = session_cookie(client)
    assert client.get(PROBE).status_code == 200
    replay(client, copied)
    assert client.get(PROBE).status_code == 200


# --- session lifetime -------------------------------------------------------------------------


def test_idle_session_is_signed_out(client, login_as):
    login_as(Role.NURSE)
    with client.session_transaction() as session:
        session["seen_at"] = int(time.time()) - 16 * 60
    response = client.get(PROBE)
    assert response.status_code == 302
    assert response.location.startswith("/login")
    assert_signed_out(client)


def test_recently_active_session_stays_signed_in(client, login_as):
    login_as(Role.NURSE)
    with client.session_transaction() as session:
        session["seen_at"] = int(time.time()) - 14 * 60
    assert client.get(PROBE).status_code == 200


def test_activity_resets_the_idle_clock(client, login_as):
    login_as(Role.NURSE)
    with client.session_transaction() as session:
        session["seen_at"] = int(time.time()) - 14 * 60
    client.get(PROBE)
    with client.session_transaction() as session:
        assert int(time.time()) - session["seen_at"] < 5


def test_session_older_than_twelve_hours_is_signed_out_even_when_active(client, login_as):
    login_as(Role.NURSE)
    now = int(time.time())
    with client.session_transaction() as session:
        session["login_at"] = now - 12 * 3600 - 60
        session["seen_at"] = now
    assert_signed_out(client)


def test_session_under_twelve_hours_stays_signed_in(client, login_as):
    login_as(Role.NURSE)
    now = int(time.time())
    with client.session_transaction() as session:
        session["login_at"] = now - 11 * 3600
        session["seen_at"] = now
    assert client.get(PROBE).status_code == 200


# --- next -------------------------------------------------------------------------------------


def test_next_path_on_this_host_is_followed(client, make_user):
    user = make_user(Role.ADMIN)
    response = client.post(
        "/login?next=/staff/", data={"username": user.username, "password": PASSWORD}
    )
    # The second factor's step carries it along.
    assert response.location == "/login/code?next=/staff/"
    response = client.post(response.location, data={"code": fresh_code(user)})
    assert response.location == "/staff/"


@pytest.mark.parametrize(
    "target",
    [
        "//evil.com",
        "https://evil.com/x",
        "/\\evil.com",
        "\\\\evil.com",
        "/\t/evil.com",
        "javascript:alert(1)",
        "evil.com",
    ],
)
def test_next_to_another_host_is_ignored(client, make_user, target):
    user = make_user(Role.NURSE)
    response = client.post(
        "/login",
        query_string={"next": target},
        data={"username": user.username, "password": PASSWORD},
    )
    assert response.status_code == 302
    assert response.location == "/"


# --- rate limit -------------------------------------------------------------------------------


@pytest.mark.parametrize("app_config", [{"LOGIN_RATE_LIMIT": "3 per minute"}])
def test_login_posts_are_rate_limited_per_address(client, app_config):
    for _ in range(3):
        assert login(client, "someone", "wrong-password-1").status_code == 200
    response = login(client, "someone", "wrong-password-1")
    assert response.status_code == 429
    assert "Too many" in response.get_data(as_text=True)
    assert client.get("/login").status_code == 200  # viewing the page is not limited


# --- cookies ----------------------------------------------------------------------------------


def test_session_cookie_is_httponly_and_samesite_lax(client, make_user):
    user = make_user(Role.NURSE)
    response = login(client, user.username)
    header = next(
        h for h in response.headers.getlist("Set-Cookie") if h.startswith("clinic_session=")
    )
    assert "HttpOnly" in header
    assert "SameSite=Lax" in header
    assert "Secure" not in header  # testing runs over plain http


def test_session_cookie_is_secure_in_production(database_url, monkeypatch):
    monkeypatch.delenv("CLINIC_ENV", raising=False)
    production = create_app(
        {
            "CLINIC_ENV": "production",
            "SECRET_KEY": BASE_CONFIG["SECRET_KEY"],
            "AUDIT_KEY": BASE_CONFIG["AUDIT_KEY"],
            "SQLALCHEMY_DATABASE_URI": database_url,
            "WEB_CONCURRENCY": 1,  # the rate limit's memory:// storage is whole in one worker
        }
    )
    assert production.config["SESSION_COOKIE_SECURE"] is True
    assert production.config["SESSION_COOKIE_HTTPONLY"] is True
    assert production.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    with production.test_client() as client:
        response = client.get("/login", base_url="https://localhost")
        header = next(
            h for h in response.headers.getlist("Set-Cookie") if h.startswith("clinic_session=")
        )
    assert "Secure" in header and "HttpOnly" in header and "SameSite=Lax" in header
    with production.app_context():
        from clinic.extensions import db

        db.engine.dispose()
