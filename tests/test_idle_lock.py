"""The idle logoff locks the page in place: the lock screen's sign-in, and `next` after a logoff.

The server's limits are unchanged (tests/test_auth.py); what is tested here is what the page's
lock (static/js/session.js, driven in tests/browser/test_chart_touch.py) relies on: a public
sign-in answering with a fresh CSRF token, with the sign-in page's checks, and a sign-in after
an idle logoff that leads back to the page the person was on.
"""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest

from clinic.auth.models import Role
from tests.conftest import PASSWORD
from tests.factories import open_session_as
from tests.helpers import audit_actions

IDLE = 16 * 60  # past the default 15-minute limit


def idle_for(client, seconds: int) -> None:
    with client.session_transaction() as session:
        session["seen_at"] = int(time.time()) - seconds


def next_of(location: str) -> str | None:
    return parse_qs(urlsplit(location).query).get("next", [None])[0]


def test_idle_logoff_of_a_page_leads_back_to_it_after_signing_in(client, login_as):
    nurse = login_as(Role.NURSE)
    chart = f"/sessions/{open_session_as(nurse).id}"
    idle_for(client, IDLE)

    response = client.get(chart)

    assert response.status_code == 302
    assert urlsplit(response.location).path == "/login"
    assert next_of(response.location) == chart
    back = client.post(response.location, data={"username": nurse.username, "password": PASSWORD})
    assert back.status_code == 302 and back.location == chart


def test_idle_logoff_of_a_post_leads_back_to_the_page_it_was_sent_from(client, login_as):
    nurse = login_as(Role.NURSE)
    chart = f"/sessions/{open_session_as(nurse).id}"
    idle_for(client, IDLE)

    response = client.post(
        f"{chart}/monitoring",
        data={"heart_rate": "80"},
        headers={"Referer": f"http://localhost{chart}"},
    )

    assert response.status_code == 302
    assert next_of(response.location) == chart


def test_a_referrer_from_another_site_is_not_followed(client, login_as):
    nurse = login_as(Role.NURSE)
    chart = f"/sessions/{open_session_as(nurse).id}"
    idle_for(client, IDLE)

    response = client.post(f"{chart}/monitoring", headers={"Referer": "https://evil.example/x"})

    assert response.status_code == 302
    assert next_of(response.location) is None


def test_lock_screen_gets_a_token_without_being_signed_in(client):
    response = client.get("/session/unlock")

    assert response.status_code == 200
    assert response.is_json and response.get_json()["csrf_token"]


def test_lock_screen_sign_in_starts_a_fresh_session_and_answers_with_a_token(client, login_as):
    nurse = login_as(Role.NURSE)
    chart = f"/sessions/{open_session_as(nurse).id}"
    idle_for(client, IDLE)
    assert client.get(chart).status_code == 302  # the server ended the session

    response = client.post(
        "/session/unlock", data={"username": nurse.username, "password": PASSWORD}
    )

    assert response.status_code == 200
    assert response.get_json()["csrf_token"]
    assert client.get(chart).status_code == 200
    assert [e.actor_id for e in audit_actions("login")][-1] == nurse.id


def test_lock_screen_refuses_a_wrong_password_as_the_sign_in_page_does(client, login_as):
    nurse = login_as(Role.NURSE)
    idle_for(client, IDLE)
    client.get("/")

    response = client.post("/session/unlock", data={"username": nurse.username, "password": "x"})

    assert response.status_code == 401
    assert response.get_json()["error"].startswith("Sign-in failed")
    assert urlsplit(client.get("/").location).path == "/login"


def test_lock_screen_sign_in_needs_the_password(client, login_as):
    nurse = login_as(Role.NURSE)

    response = client.post("/session/unlock", data={"username": nurse.username})

    assert response.status_code == 400
    assert response.get_json()["error"] == "Enter your password."


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}])
def test_lock_screen_sign_in_needs_the_token_it_handed_out(client, make_user, app_config):
    nurse = make_user(Role.NURSE)
    credentials = {"username": nurse.username, "password": PASSWORD}

    assert client.post("/session/unlock", data=credentials).status_code == 400
    token = client.get("/session/unlock").get_json()["csrf_token"]
    response = client.post("/session/unlock", data={**credentials, "csrf_token": token})

    assert response.status_code == 200
    assert response.get_json()["csrf_token"] != token  # a new session, a new token


def test_every_signed_in_page_carries_the_lock_and_its_limit(client, login_as):
    login_as(Role.NURSE)

    html = client.get("/").get_data(as_text=True)

    assert '<meta name="idle-timeout-seconds" content="900">' in html
    assert '<meta name="session-unlock-url" content="/session/unlock">' in html
    assert 'id="session-lock"' in html and 'id="idle-warning"' in html
    assert "<script>" not in html  # the lock is static/js/session.js: no inline script
