"""A second factor (issue 12, "To add"; DESIGN.md §6): TOTP (RFC 6238) and recovery codes.

Enrolment at the first sign-in that asks for it (clinicians and admins; nurses when configured),
the code at every sign-in after the password, with lockout and limits as for passwords, the code
again at signing a session (the lock screen: tests/test_second_factor_lock.py), an admin's reset
(audited, told at the next sign-in), and a password reset that leaves the second factor alone.
Codes are computed here with pyotp from the secret the page shows, as a phone's app would.
"""

from __future__ import annotations

import json
import re
import time
from datetime import timedelta
from urllib.parse import urlsplit

import pyotp
import pytest
import sqlalchemy as sa

from clinic.audit.models import AuditEvent
from clinic.auth import second_factor
from clinic.auth.models import RecoveryCode, Role, SignInThrottle, ThrottleScope, User
from clinic.auth.sign_in_steps import PENDING
from clinic.database import utcnow
from clinic.sessions.models import InfusionSession, SessionStatus, Signature
from tests.conftest import PASSWORD, login
from tests.factories import insert_administration, make_ready_to_sign, open_session_as
from tests.helpers import audit_actions
from tests.second_factor_codes import TOTP_SECRET, code_at, current_step, enrol, fresh_code

STRANGER_ADDRESS = "203.0.113.9"
CODE_PAGE = "/login/code"
ENROL_PAGE = "/login/second-factor"


def password_step(client, username: str, password: str = PASSWORD, next_page: str = ""):
    query = {"next": next_page} if next_page else {}
    return client.post(
        "/login", query_string=query, data={"username": username, "password": password}
    )


def path_of(response) -> str:
    return urlsplit(response.location).path


def shown_secret(page: str) -> str:
    match = re.search(r'data-testid="second-factor-secret">([A-Z2-7 ]+)<', page)
    assert match, "no secret on the enrolment page"
    return match.group(1).replace(" ", "")


def signed_in(client) -> bool:
    return client.get("/").status_code == 200


def events(db, action: str) -> list[AuditEvent]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        )
    )


def fresh(db, user: User) -> User:
    db.session.expire_all()
    return db.session.get(User, user.id)


def end_holds(db) -> None:
    db.session.execute(
        sa.update(SignInThrottle)
        .where(SignInThrottle.held_until.is_not(None))
        .values(held_until=utcnow() - timedelta(seconds=1))
    )
    db.session.commit()


def enrol_in_browser(client, username: str) -> tuple[str, list[str]]:
    """Password, the enrolment page, its first code: the secret shown and the recovery codes."""
    assert path_of(password_step(client, username)) == ENROL_PAGE
    secret = shown_secret(client.get(ENROL_PAGE).get_data(as_text=True))
    response = client.post(ENROL_PAGE, data={"code": pyotp.TOTP(secret).now()})
    assert response.status_code == 200, response.get_data(as_text=True)
    page = response.get_data(as_text=True)
    codes = re.findall(r"<code class=\"fs-5\">([a-z2-7]{4}(?:-[a-z2-7]{4}){3})</code>", page)
    return secret, codes


# --- who is asked -------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.CLINICIAN, Role.ADMIN])
def test_clinicians_and_admins_set_up_a_second_factor_at_their_first_sign_in(
    client, db, make_user, role
):
    user = make_user(role, second_factor=False)
    response = password_step(client, user.username)
    assert path_of(response) == ENROL_PAGE
    assert not signed_in(client)  # the password alone signs nobody in

    page = client.get(ENROL_PAGE).get_data(as_text=True)
    secret = shown_secret(page)
    assert len(secret) == 32
    assert 'src="data:image/svg+xml' in page  # the QR code, drawn on the server
    uri = second_factor.provisioning_uri(user, secret)
    assert uri.startswith(f"otpauth://totp/Clinic:{user.username}?") and f"secret={secret}" in uri
    # A reload shows the same secret: an app that scanned it still matches.
    assert shown_secret(client.get(ENROL_PAGE).get_data(as_text=True)) == secret

    wrong = client.post(ENROL_PAGE, data={"code": "000000"})
    assert wrong.status_code == 422
    assert "The code does not match" in wrong.get_data(as_text=True)
    assert not signed_in(client)

    response = client.post(ENROL_PAGE, data={"code": pyotp.TOTP(secret).now()})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    codes = re.findall(r"<code class=\"fs-5\">([a-z2-7-]{19})</code>", page)
    assert len(codes) == len(set(codes)) == 10
    assert "shown only\n      this once" in page
    assert signed_in(client)

    stored = fresh(db, user)
    assert stored.has_second_factor and stored.second_factor_enrolled_at is not None
    assert secret not in stored.second_factor_secret  # encrypted
    assert second_factor.unseal(stored.second_factor_secret) == secret
    hashes = db.session.scalars(sa.select(RecoveryCode).where(RecoveryCode.user_id == user.id))
    digests = [row.digest for row in hashes]
    assert len(digests) == 10
    assert not any(code.replace("-", "") in digest for code in codes for digest in digests)
    # Neither the secret nor a recovery code lands in the trail.
    trail = " ".join(event.changes for event in events(db, "second_factor_enrolled"))
    trail += " ".join(event.changes for event in events(db, "login"))
    assert secret not in trail and not any(code in trail for code in codes)
    assert [json.loads(e.changes) for e in events(db, "login")] == [{"second_factor": "enrolled"}]
    # Shown once: the enrolment page is gone once signed in.
    assert client.get(ENROL_PAGE).location == "/"


def test_nurses_are_not_asked_by_default(client, make_user):
    nurse = make_user(Role.NURSE)
    response = password_step(client, nurse.username)
    assert response.location == "/"


@pytest.mark.parametrize("app_config", [{"SECOND_FACTOR_FOR_NURSES": True}])
def test_nurses_set_one_up_when_the_clinic_asks_it_of_them(client, make_user, app_config):
    nurse = make_user(Role.NURSE)
    assert path_of(password_step(client, nurse.username)) == ENROL_PAGE
    secret, codes = enrol_in_browser(client, make_user(Role.NURSE).username)
    assert len(secret) == 32 and len(codes) == 10


def test_a_nurse_who_set_one_up_is_asked_for_its_code(client, make_user):
    nurse = make_user(Role.NURSE, second_factor=True)
    assert path_of(password_step(client, nurse.username)) == CODE_PAGE


# --- the code at sign-in -----------------------------------------------------------------------


def test_sign_in_takes_the_password_then_the_code(client, db, make_user):
    clinician = make_user(Role.CLINICIAN)
    response = password_step(client, clinician.username, next_page="/patients/")
    assert response.location == "/login/code?next=/patients/"
    page = client.get(response.location).get_data(as_text=True)
    assert "Sign in: your code" in page

    response = client.post(response.location, data={"code": fresh_code(clinician)})
    assert response.location == "/patients/"
    assert signed_in(client)
    assert [json.loads(e.changes) for e in events(db, "login")] == [
        {"second_factor": "authenticator"}
    ]
    assert fresh(db, clinician).last_login_at is not None


def test_half_way_through_a_sign_in_nothing_else_is_served(client, db, make_user):
    clinician = make_user(Role.CLINICIAN)
    seeded = open_session_as(clinician)
    assert path_of(password_step(client, clinician.username)) == CODE_PAGE

    for url in ("/", "/patients/", f"/sessions/{seeded.id}", "/password", "/staff/", "/audit/"):
        response = client.get(url)
        assert response.status_code == 302 and path_of(response) == "/login", url
    # Nor may it skip to the enrolment page, or sign a session.
    assert path_of(client.get(ENROL_PAGE)) == "/login"
    response = client.post(f"/sessions/{seeded.id}/sign", data={"password": PASSWORD})
    assert path_of(response) == "/login"
    assert events(db, "login") == []
    assert fresh(db, clinician).last_login_at is None


def test_the_code_step_is_not_reached_without_the_password(client, make_user):
    make_user(Role.CLINICIAN)
    response = client.post(CODE_PAGE, data={"code": code_at(current_step())})
    assert path_of(response) == "/login"
    assert not signed_in(client)


def test_the_code_step_lapses(client, make_user):
    clinician = make_user(Role.CLINICIAN)
    password_step(client, clinician.username)
    with client.session_transaction() as cookie:
        cookie[PENDING] = {**cookie[PENDING], "at": int(time.time()) - 11 * 60}
    response = client.post(CODE_PAGE, data={"code": fresh_code(clinician)})
    assert path_of(response) == "/login"
    assert not signed_in(client)


def test_a_password_reset_meanwhile_ends_the_code_step(client, db, make_user):
    clinician = make_user(Role.CLINICIAN)
    password_step(client, clinician.username)
    fresh(db, clinician).rotate_session_token()  # as a password reset or deactivation does
    db.session.commit()
    assert path_of(client.post(CODE_PAGE, data={"code": fresh_code(clinician)})) == "/login"
    assert not signed_in(client)


def test_a_code_works_once(client, db, make_user, app):
    clinician = make_user(Role.CLINICIAN)
    code = fresh_code(clinician)
    assert login(client, clinician.username, code=code).location == "/"
    client.post("/logout")

    other = app.test_client()
    response = login(other, clinician.username, code=code)
    assert response.status_code == 422
    assert "This code was used already" in response.get_data(as_text=True)
    assert [json.loads(e.changes)["reason"] for e in events(db, "login_failed")] == [
        "code already used"
    ]


def test_the_code_of_the_step_before_or_after_passes_and_no_older_one(db, make_user):
    clinician = make_user(Role.CLINICIAN)
    clinician.second_factor_last_step = None
    now = time.time()
    step = pyotp.TOTP(TOTP_SECRET).timecode(now)
    check = second_factor.check_code
    assert not check(clinician, code_at(step - 2), now).accepted
    assert not check(clinician, code_at(step + 2), now).accepted
    assert check(clinician, code_at(step - 1), now).accepted
    assert check(clinician, code_at(step + 1), now).accepted
    # The step before is now older than the last one spent.
    assert check(clinician, code_at(step), now).spent


ODD_CODES = [
    " ",
    "12345",
    "1234567",
    "12 34 56 78",
    "abcdef",
    "\uff11\uff12\uff13\uff14\uff15\uff16",  # full-width digits: not ASCII
    "\u0661\u0662\u0663\u0664\u0665\u0666",  # Arabic-Indic digits
    "\u00e9" * 16,  # as long as a recovery code, not one
    "<script>alert(1)</script>",
    "9" * 40,
]


@pytest.mark.parametrize("code", ODD_CODES)
def test_whatever_is_typed_as_a_code_is_refused_with_a_message(client, db, make_user, code):
    clinician = make_user(Role.CLINICIAN)
    assert path_of(password_step(client, clinician.username)) == CODE_PAGE
    response = client.post(CODE_PAGE, data={"code": code})
    assert response.status_code == 422
    assert "<script>alert" not in response.get_data(as_text=True)
    assert not signed_in(client)

    newcomer = make_user(Role.CLINICIAN, second_factor=False)
    assert path_of(password_step(client, newcomer.username)) == ENROL_PAGE
    client.get(ENROL_PAGE)
    response = client.post(ENROL_PAGE, data={"code": code})
    assert response.status_code == 422
    assert not fresh(db, newcomer).has_second_factor


def test_wrong_codes_are_counted_and_hold_further_attempts(client, db, make_user, app):
    clinician = make_user(Role.CLINICIAN)
    assert path_of(password_step(client, clinician.username)) == CODE_PAGE
    answers = [client.post(CODE_PAGE, data={"code": "123456"}) for _ in range(5)]
    assert [answer.status_code for answer in answers] == [422] * 5
    assert "The code is not correct" in answers[0].get_data(as_text=True)

    # Held now: even the right code is refused, and the sign-in starts over.
    response = client.post(CODE_PAGE, data={"code": fresh_code(clinician)})
    assert path_of(response) == "/login"
    assert "Sign-in failed" in client.get("/login").get_data(as_text=True)
    assert not signed_in(client)
    # And so is the password, on this device and any other it has not signed in on.
    assert password_step(app.test_client(), clinician.username).status_code == 200
    reasons = [json.loads(e.changes)["reason"] for e in events(db, "login_failed")]
    assert reasons[:5] == ["bad code"] * 5 and "held" in reasons[5:]
    assert events(db, "sign_in_held")

    end_holds(db)
    assert login(client, clinician.username).location == "/"


def test_typing_the_password_again_does_not_start_the_count_of_codes_afresh(client, make_user):
    clinician = make_user(Role.CLINICIAN)
    for _ in range(5):
        assert path_of(password_step(client, clinician.username)) == CODE_PAGE
        assert client.post(CODE_PAGE, data={"code": "654321"}).status_code == 422
    response = password_step(client, clinician.username)
    assert response.status_code == 200
    assert "Sign-in failed" in response.get_data(as_text=True)


@pytest.mark.parametrize("app_config", [{"LOGIN_RATE_LIMIT": "3 per minute"}])
def test_the_code_step_has_the_sign_in_rate_limit(client, make_user, app_config):
    clinician = make_user(Role.CLINICIAN)
    password_step(client, clinician.username)
    answers = [client.post(CODE_PAGE, data={"code": "111111"}).status_code for _ in range(4)]
    assert answers == [422, 422, 422, 429]


def test_a_recovery_code_signs_in_once(client, db, make_user, app):
    clinician = make_user(Role.CLINICIAN, second_factor=False)
    _, codes = enrol_in_browser(client, clinician.username)
    client.post("/logout")

    response = login(client, clinician.username, code=codes[3].upper().replace("-", " "))
    assert response.location == "/"
    page = client.get("/").get_data(as_text=True)
    assert "You signed in with a recovery code; 9 left" in page
    assert [json.loads(e.changes) for e in events(db, "recovery_code_used")] == [
        {"recovery_codes_left": 9}
    ]
    client.post("/logout")

    again = login(app.test_client(), clinician.username, code=codes[3])
    assert again.status_code == 422
    assert second_factor.recovery_codes_left(fresh(db, clinician)) == 9


# --- signing a session ---------------------------------------------------------------------------


def sign(client, session_id: int, **data: str):
    return client.post(f"/sessions/{session_id}/sign", data=data)


def test_signing_a_session_takes_the_password_and_the_code(client, db, login_as):
    clinician = login_as(Role.CLINICIAN)
    session_id = open_session_as(clinician).id
    make_ready_to_sign(db.session.get(InfusionSession, session_id), clinician)
    assert 'name="code"' in client.get(f"/sessions/{session_id}").get_data(as_text=True)

    refused = sign(client, session_id, password=PASSWORD)
    assert refused.status_code == 422
    assert "The code is not correct" in refused.get_data(as_text=True)
    refused = sign(client, session_id, password="not-the-password", code=fresh_code(clinician))
    assert refused.status_code == 422
    db.session.expire_all()
    assert db.session.get(InfusionSession, session_id).status != SessionStatus.SIGNED
    reasons = [json.loads(e.changes)["reason"] for e in events(db, "signature_failed")]
    assert reasons == ["bad code", "bad password"]
    reauth = db.session.scalars(
        sa.select(SignInThrottle).where(SignInThrottle.scope == ThrottleScope.REAUTH)
    ).one()
    assert reauth.failures == 2

    signed = sign(client, session_id, password=PASSWORD, code=fresh_code(clinician))
    assert signed.status_code == 302
    db.session.expire_all()
    assert db.session.get(InfusionSession, session_id).status == SessionStatus.SIGNED
    assert db.session.scalar(sa.select(Signature.signer_id)) == clinician.id


def test_a_code_spent_at_sign_in_does_not_sign(client, db, make_user):
    clinician = make_user(Role.CLINICIAN)
    code = fresh_code(clinician)
    login(client, clinician.username, code=code)
    session_id = open_session_as(clinician).id
    insert_administration(session_id, clinician.id)
    make_ready_to_sign(db.session.get(InfusionSession, session_id), clinician)
    response = sign(client, session_id, password=PASSWORD, code=code)
    assert response.status_code == 422
    assert "This code was used already" in response.get_data(as_text=True)


def test_a_clinician_without_a_second_factor_cannot_sign(db, make_user):
    from clinic.sessions.services.signoff import WrongCodeError, sign_session

    clinician = make_user(Role.CLINICIAN, second_factor=False)
    session_id = open_session_as(clinician).id
    make_ready_to_sign(db.session.get(InfusionSession, session_id), clinician)
    with pytest.raises(WrongCodeError):
        sign_session(clinician, session_id, PASSWORD, "")


# --- an admin's resets ----------------------------------------------------------------------------


def test_a_password_reset_leaves_the_second_factor_in_place(client, db, login_as, make_user, app):
    admin = login_as(Role.ADMIN)
    clinician = make_user(Role.CLINICIAN)
    secret_before = clinician.second_factor_secret
    response = client.post(
        f"/staff/{clinician.id}/password", data={"password": "temporary-pass-2026"}
    )
    assert response.status_code == 302

    stored = fresh(db, clinician)
    assert stored.second_factor_secret == secret_before
    assert second_factor.recovery_codes_left(stored) == 10
    # The admin who set the password still cannot sign in as her: the code is asked.
    other = app.test_client()
    response = password_step(other, clinician.username, "temporary-pass-2026")
    assert path_of(response) == CODE_PAGE
    assert not signed_in(other)
    response = other.post(CODE_PAGE, data={"code": fresh_code(clinician)})
    assert path_of(response) == "/password"  # then she chooses her own password
    assert events(db, "staff_password_reset")[0].actor_id == admin.id


def test_an_admins_reset_of_the_second_factor_is_audited_and_told_at_the_next_sign_in(
    client, db, login_as, make_user, app
):
    admin = login_as(Role.ADMIN)
    clinician = make_user(Role.CLINICIAN)
    hers = app.test_client()
    assert login(hers, clinician.username).location == "/"
    detail = client.get(f"/staff/{clinician.id}").get_data(as_text=True)
    assert "10 of 10 recovery codes unused" in detail

    response = client.post(f"/staff/{clinician.id}/second-factor", follow_redirects=True)
    assert "Second factor of" in response.get_data(as_text=True)
    assert "asked at the next sign-in" in response.get_data(as_text=True)

    [event] = events(db, "second_factor_reset")
    assert event.actor_id == admin.id and event.entity_id == str(clinician.id)
    assert json.loads(event.changes) == {
        "had_second_factor": True,
        "recovery_codes_removed": 10,
        "must_enrol_second_factor": True,
    }
    stored = fresh(db, clinician)
    assert stored.second_factor_secret is None and stored.must_enrol_second_factor
    assert second_factor.recovery_codes_left(stored) == 0
    assert not signed_in(hers)  # her open session ended with it

    # Her next sign-in tells her, and has her set up her app again; the old one's codes are dead.
    response = password_step(hers, clinician.username)
    assert path_of(response) == ENROL_PAGE
    page = hers.get(ENROL_PAGE).get_data(as_text=True)
    assert "An admin reset your second factor on" in page
    response = hers.post(ENROL_PAGE, data={"code": code_at(current_step() + 1)})
    assert response.status_code == 422
    secret = shown_secret(page)
    assert secret != TOTP_SECRET
    assert hers.post(ENROL_PAGE, data={"code": pyotp.TOTP(secret).now()}).status_code == 200
    stored = fresh(db, clinician)
    assert stored.second_factor_reset_at is None and not stored.must_enrol_second_factor


def test_only_an_admin_resets_a_second_factor(client, db, login_as, make_user):
    login_as(Role.CLINICIAN)
    other = make_user(Role.CLINICIAN)
    assert client.post(f"/staff/{other.id}/second-factor").status_code == 403
    assert fresh(db, other).has_second_factor


def test_an_unreadable_secret_lets_no_code_pass(app, db, make_user):
    clinician = make_user(Role.CLINICIAN)
    sealed = clinician.second_factor_secret
    app.config["AUDIT_KEY"] = "another-audit-key-that-is-long-enough-0123"
    try:
        assert second_factor.unseal(sealed) is None
        assert not second_factor.check_code(clinician, code_at(current_step() + 1)).accepted
    finally:
        app.config["AUDIT_KEY"] = "test-audit-key-that-is-long-enough-0123456789"


def test_setting_one_up_again_replaces_the_recovery_codes(db, make_user):
    nurse = make_user(Role.NURSE)
    first = enrol(nurse)
    second = enrol(nurse, pyotp.random_base32())
    assert len(first) == len(second) == 10 and not set(first) & set(second)
    assert second_factor.recovery_codes_left(fresh(db, nurse)) == 10
    assert [json.loads(e.changes)["replaced"] for e in audit_actions("second_factor_enrolled")] == [
        False,
        True,
    ]
