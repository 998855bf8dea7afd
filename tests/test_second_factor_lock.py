"""The lock screen's sign-in (a page locked at the idle limit, clinic/auth/views.py `unlock`)
asks the second factor's code of whoever has one, as the sign-in page does."""

from __future__ import annotations

from clinic.auth.models import Role
from tests.conftest import PASSWORD
from tests.second_factor_codes import fresh_code


def signed_in(client) -> bool:
    return client.get("/").status_code == 200


def test_the_lock_screen_asks_the_code_of_whoever_has_one(client, db, login_as, app):
    clinician = login_as(Role.CLINICIAN)
    page = client.get("/").get_data(as_text=True)
    assert 'id="session-lock-code"' in page
    client.post("/logout")
    credentials = {"username": clinician.username, "password": PASSWORD}

    refused = client.post("/session/unlock", data=credentials)
    assert refused.status_code == 401
    assert "The code is not correct" in refused.get_json()["error"]
    assert not signed_in(client)

    unlocked = client.post("/session/unlock", data={**credentials, "code": fresh_code(clinician)})
    assert unlocked.status_code == 200 and unlocked.get_json()["csrf_token"]
    assert signed_in(client)


def test_the_lock_screen_has_no_code_field_for_a_nurse_without_one(client, login_as):
    login_as(Role.NURSE)
    assert 'id="session-lock-code"' not in client.get("/").get_data(as_text=True)
