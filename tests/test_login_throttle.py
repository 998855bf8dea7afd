"""Failed sign-ins hold further attempts, never a signed-in session (issue 12, finding 1).

Before: five wrong passwords for a username locked the account for 15 minutes and rotated its
session token, so a stranger could sign the nurse at the chair out and keep her out, again and
again. Now a stranger's failures hold the attempts made with that username from devices it has
not signed in on, and from the stranger's address; her open session goes on, and her own device
still signs her in. An admin can clear what was counted. See clinic/auth/throttle.py.

The stranger's client comes from another address than the nurse's (the test client's default
127.0.0.1), as across a clinic's network.
"""

from __future__ import annotations

import json
import re
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa
from itsdangerous import URLSafeTimedSerializer

from clinic.auth import throttle
from clinic.auth.known_devices import COOKIE_NAME, SALT
from clinic.auth.models import Role, SignInThrottle, ThrottleScope, User
from clinic.database import utcnow
from tests.conftest import PASSWORD, login
from tests.helpers import audit_actions

STRANGER_ADDRESS = "203.0.113.9"
WRONG = "wrong-password-guess"
REFUSED = "Sign-in failed: check the username and password."


def client_from(app, address: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


@pytest.fixture
def stranger(app):
    return client_from(app, STRANGER_ADDRESS)


def guess(client, username: str, times: int, password: str = WRONG) -> list[int]:
    return [login(client, username, password).status_code for _ in range(times)]


def counts(db, scope: ThrottleScope | None = None) -> list[SignInThrottle]:
    db.session.expire_all()
    query = sa.select(SignInThrottle).order_by(SignInThrottle.id)
    if scope is not None:
        query = query.where(SignInThrottle.scope == scope)
    return list(db.session.scalars(query))


def token_of(db, user: User) -> str:
    db.session.expire_all()
    return db.session.get(User, user.id).session_token


def end_holds(db) -> None:
    """Move every hold into the past, as if its wait were over."""
    db.session.execute(
        sa.update(SignInThrottle)
        .where(SignInThrottle.held_until.is_not(None))
        .values(held_until=utcnow() - timedelta(seconds=1))
    )
    db.session.commit()


def page_text(response, username: str) -> str:
    """The page, with the username echoed in its field and the signed CSRF tokens (stamped with
    the second they were made) left out."""
    text = response.get_data(as_text=True).replace(username, "X")
    return re.sub(r'name="csrf[-_]token"[^>]*>', "", text)


def assert_refused(response) -> None:
    assert response.status_code == 200
    assert REFUSED in response.get_data(as_text=True)


def signs_in(client, username: str) -> bool:
    response = login(client, username)
    return response.status_code == 302


# --- the nurse at the chair --------------------------------------------------------------------


def test_a_strangers_wrong_passwords_do_not_end_her_open_session(client, db, charting, stranger):
    nurse, chart = charting["nurse"], f"/sessions/{charting['session'].id}"
    token = token_of(db, nurse)

    assert guess(stranger, nurse.username, 12) == [200] * 12

    assert client.get(chart).status_code == 200
    assert token_of(db, nurse) == token
    assert counts(db, ThrottleScope.ACCOUNT)[0].held_until > utcnow()


def test_a_strangers_wrong_passwords_do_not_keep_her_out_of_her_known_device(
    app, client, db, make_user, stranger
):
    nurse = make_user(Role.NURSE)
    assert signs_in(client, nurse.username)  # her tablet now knows her
    client.post("/logout")

    guess(stranger, nurse.username, 12)
    assert not signs_in(stranger, nurse.username)  # held, even with the right password

    response = login(client, nurse.username)
    assert response.status_code == 302 and response.location == "/"
    # She is told, and the count the stranger ran up is cleared by her sign-in.
    page = client.get("/password").get_data(as_text=True)
    assert "failed sign-in attempt(s) with your username were made recently" in page
    assert counts(db, ThrottleScope.ACCOUNT) == []


def test_another_user_of_her_shared_tablet_is_not_held_by_her_slips(app, client, db, make_user):
    nurse, colleague = make_user(Role.NURSE), make_user(Role.NURSE)
    for person in (nurse, colleague):
        assert signs_in(client, person.username)
        client.post("/logout")
    guess(client, nurse.username, 5)
    assert not signs_in(client, nurse.username)  # her own key on this tablet holds
    assert signs_in(client, colleague.username)
    client.post("/logout")
    # Her slips on her tablet counted there, not on her username: another device still works.
    assert counts(db, ThrottleScope.ACCOUNT) == []
    assert signs_in(client_from(app, "198.51.100.7"), nurse.username)


# --- the stranger ------------------------------------------------------------------------------


def test_the_fifth_failure_holds_the_username_on_unknown_devices(app, db, make_user, stranger):
    nurse = make_user(Role.NURSE)
    guess(stranger, nurse.username, 4)
    [count] = counts(db, ThrottleScope.ACCOUNT)
    assert (count.failures, count.held_until) == (4, None)

    guess(stranger, nurse.username, 1)
    [count] = counts(db, ThrottleScope.ACCOUNT)
    assert count.failures == 5 and count.user_id == nurse.id
    assert timedelta(seconds=25) < count.held_until - utcnow() <= timedelta(seconds=30)

    # Held: the right password is refused, from the stranger's address and from any other
    # device that has not signed the nurse in before.
    assert_refused(login(stranger, nurse.username))
    assert not signs_in(client_from(app, "198.51.100.7"), nurse.username)
    # A held attempt does not lengthen the hold.
    assert counts(db, ThrottleScope.ACCOUNT)[0].failures == 5


def test_each_failure_after_a_hold_doubles_the_wait_up_to_fifteen_minutes(db, make_user, stranger):
    nurse = make_user(Role.NURSE)
    guess(stranger, nurse.username, 5)
    waits = []
    for _ in range(7):
        end_holds(db)
        before = utcnow()
        guess(stranger, nurse.username, 1)
        waits.append(counts(db, ThrottleScope.ACCOUNT)[0].held_until - before)
    expected = [60, 120, 240, 480, 900, 900, 900]
    for wait, seconds in zip(waits, expected, strict=True):
        assert timedelta(seconds=seconds) <= wait < timedelta(seconds=seconds + 5), waits


def test_the_wait_doubles_from_the_threshold_on(app):
    waits = [throttle.wait_after(n, ThrottleScope.ACCOUNT) for n in range(1, 12)]
    assert waits[:4] == [None] * 4
    assert [wait.total_seconds() for wait in waits[4:]] == [30, 60, 120, 240, 480, 900, 900]
    assert throttle.wait_after(10_000, ThrottleScope.ACCOUNT) == timedelta(minutes=15)
    assert throttle.wait_after(19, ThrottleScope.ADDRESS) is None
    assert throttle.wait_after(20, ThrottleScope.ADDRESS) == timedelta(seconds=30)


def test_failures_are_forgotten_after_a_quiet_hour(db, make_user, stranger):
    nurse = make_user(Role.NURSE)
    guess(stranger, nurse.username, 4)
    db.session.execute(
        sa.update(SignInThrottle).values(last_failed_at=utcnow() - timedelta(minutes=61))
    )
    db.session.commit()
    guess(stranger, nurse.username, 1)
    [count] = counts(db, ThrottleScope.ACCOUNT)
    assert (count.failures, count.held_until) == (1, None)


def test_an_unknown_username_is_held_like_a_real_one(db, make_user, stranger):
    nurse = make_user(Role.NURSE)
    real = [login(stranger, nurse.username, WRONG) for _ in range(6)]
    ghost = [login(stranger, "no-such-person", WRONG) for _ in range(6)]
    for one, other in zip(real, ghost, strict=True):
        assert one.status_code == other.status_code == 200
        assert page_text(one, nurse.username) == page_text(other, "no-such-person")
    held = [count for count in counts(db, ThrottleScope.ACCOUNT) if count.held_until]
    assert len(held) == 2


def test_the_message_names_no_account_state(db, make_user, stranger):
    nurse = make_user(Role.NURSE)
    first = page_text(login(stranger, nurse.username, WRONG), nurse.username)
    guess(stranger, nurse.username, 5)
    held = page_text(login(stranger, nurse.username), nurse.username)  # right password, held
    assert first == held
    assert REFUSED in held
    for word in ("locked", "held until", "exists", "inactive", "disabled", "unknown"):
        assert word not in held.lower()


def test_the_address_limit_holds_every_device_from_that_address(app, client, db, make_user):
    nurse = make_user(Role.NURSE)
    assert signs_in(client, nurse.username)
    client.post("/logout")
    spray = client_from(app, "192.0.2.50")
    for n in range(20):  # one guess each for many usernames: password spraying
        login(spray, f"someone-{n}", WRONG)
    [address] = counts(db, ThrottleScope.ADDRESS)
    assert address.failures == 20 and address.held_until > utcnow()
    # Her known device at the same address is held too; from hers, she signs in.
    same_address = client_from(app, "192.0.2.50")
    same_address.set_cookie(COOKIE_NAME, client.get_cookie(COOKIE_NAME).value)
    assert not signs_in(same_address, nurse.username)
    assert signs_in(client, nurse.username)


def test_a_made_up_known_device_cookie_is_ignored(app, db, make_user, stranger):
    nurse = make_user(Role.NURSE)
    guess(stranger, nurse.username, 5)
    forged = URLSafeTimedSerializer("not-the-secret-key", salt=SALT).dumps(
        {"d": "x", "u": [nurse.id]}
    )
    for value in (forged, "garbage", ""):
        stranger.set_cookie(COOKIE_NAME, value)
        assert not signs_in(stranger, nurse.username)


def test_the_known_device_cookie_is_signed_httponly_and_kept_ninety_days(client, make_user):
    nurse = make_user(Role.NURSE)
    response = login(client, nurse.username)
    header = next(
        h for h in response.headers.getlist("Set-Cookie") if h.startswith(COOKIE_NAME + "=")
    )
    assert "HttpOnly" in header and "SameSite=Lax" in header
    assert f"Max-Age={90 * 24 * 3600}" in header
    assert nurse.username not in header


def test_keys_hold_no_typed_username(db, make_user, stranger):
    nurse = make_user(Role.NURSE)
    guess(stranger, nurse.username, 2)
    guess(stranger, "maybe-a-password-typed-here", 2)
    rows = counts(db)
    assert {row.scope for row in rows} == {ThrottleScope.ACCOUNT, ThrottleScope.ADDRESS}
    for row in rows:
        assert len(row.key) == 64
        assert nurse.username not in row.key and STRANGER_ADDRESS not in row.key
    assert not any("maybe-a-password" in event.changes for event in audit_actions("login_failed"))


def test_an_inactive_account_counts_failures_whatever_the_password(db, make_user, stranger):
    nurse = make_user(Role.NURSE)
    nurse.active = False
    db.session.commit()
    guess(stranger, nurse.username, 2)
    guess(stranger, nurse.username, 2, password=PASSWORD)
    assert counts(db, ThrottleScope.ACCOUNT)[0].failures == 4


def test_holds_are_audited(db, make_user, stranger):
    nurse = make_user(Role.NURSE)
    guess(stranger, nurse.username, 6)
    [held] = audit_actions("sign_in_held")
    assert held.entity_id == str(nurse.id)
    assert json.loads(held.changes)["scope"] == "account"
    refusals = [json.loads(event.changes) for event in audit_actions("login_failed")]
    assert refusals[-1] == {"reason": "held", "scope": "account"}


def test_parallel_wrong_passwords_are_each_counted(app, db, make_user):
    """One upsert per failure: parallel guesses cannot each read the same count."""
    nurse = make_user(Role.NURSE)
    username = nurse.username  # read here: the main thread's session is not for the threads
    db.session.rollback()  # and end its transaction: on SQLite it holds the write lock
    start = threading.Barrier(10)
    answers: list[int] = []

    def one_guess(n: int) -> None:
        with app.app_context():
            client = client_from(app, f"203.0.113.{n + 10}")
            start.wait()
            answers.append(login(client, username, f"wrong-guess-{n}").status_code)

    threads = [threading.Thread(target=one_guess, args=(n,)) for n in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert answers == [200] * 10
    [count] = counts(db, ThrottleScope.ACCOUNT)
    assert count.failures >= 5 and count.held_until > utcnow()
    # Each guess was counted, or refused as held once the count had reached the hold: none lost.
    held = [event for event in audit_actions("login_failed") if '"held"' in event.changes]
    assert count.failures + len(held) == 10


# --- an admin clears it ------------------------------------------------------------------------


def test_an_admin_clears_the_hold_and_it_is_audited(app, client, db, login_as, make_user, stranger):
    nurse = make_user(Role.NURSE)
    guess(stranger, nurse.username, 5)
    new_tablet = client_from(app, "198.51.100.7")
    assert not signs_in(new_tablet, nurse.username)

    admin = login_as(Role.ADMIN)
    assert "Sign-in held" in client.get("/staff/").get_data(as_text=True)
    page = client.get(f"/staff/{nurse.id}").get_data(as_text=True)
    assert "from devices it has not signed in on: 5" in page and "held until" in page

    response = client.post(f"/staff/{nurse.id}/sign-in-holds")
    assert response.status_code == 302
    [event] = audit_actions("sign_in_holds_cleared")
    assert event.actor_id == admin.id and event.entity_id == str(nurse.id)
    [cleared] = json.loads(event.changes)["cleared"]
    assert (cleared["scope"], cleared["failures"]) == ("account", 5)
    assert "None counted." in client.get(f"/staff/{nurse.id}").get_data(as_text=True)

    assert signs_in(new_tablet, nurse.username)
    # The stranger's address keeps its own count.
    assert counts(db, ThrottleScope.ADDRESS)[0].failures == 5


def test_clearing_nothing_writes_nothing(client, db, login_as, make_user):
    nurse = make_user(Role.NURSE)
    login_as(Role.ADMIN)
    response = client.post(f"/staff/{nurse.id}/sign-in-holds", follow_redirects=True)
    assert "No failed sign-ins were counted" in response.get_data(as_text=True)
    assert audit_actions("sign_in_holds_cleared") == []


def test_an_admins_password_reset_clears_the_hold(app, client, db, login_as, make_user, stranger):
    nurse = make_user(Role.NURSE)
    guess(stranger, nurse.username, 6)
    login_as(Role.ADMIN)
    temporary = "walnut-meadow-temporary"
    assert client.post(f"/staff/{nurse.id}/password", data={"password": temporary}).status_code
    assert counts(db, ThrottleScope.ACCOUNT) == []
    assert signs_in(client_from(app, "198.51.100.7"), nurse.username) is False  # old password
    assert login(client_from(app, "198.51.100.8"), nurse.username, temporary).status_code == 302


# --- re-entered passwords ----------------------------------------------------------------------


def change_password(client, current: str):
    new = "a-new-long-passphrase-1"
    return client.post(
        "/password",
        data={"current_password": current, "new_password": new, "confirm_password": new},
    )


def test_five_wrong_current_passwords_end_the_session_and_hold_her_everywhere(
    app, client, db, make_user
):
    nurse = make_user(Role.NURSE)
    assert signs_in(client, nurse.username)

    for _ in range(5):
        assert change_password(client, "not-my-password-at-all").status_code == 200

    events = audit_actions("reauthentication_failed")
    assert len(events) == 5 and '"purpose":"password change"' in events[0].changes
    assert client.get("/password").status_code == 302  # signed out: someone at her workstation
    # held on every device, her own included, until the wait is over or an admin clears it
    assert not signs_in(client, nurse.username)
    assert not signs_in(client_from(app, "198.51.100.7"), nurse.username)
    end_holds(db)
    assert signs_in(client, nurse.username)
    assert counts(db, ThrottleScope.REAUTH) == []


def test_a_strangers_failures_and_her_slip_at_signing_do_not_add_up(client, db, charting, stranger):
    nurse, chart = charting["nurse"], f"/sessions/{charting['session'].id}"
    guess(stranger, nurse.username, 4)
    assert change_password(client, "not-my-password-at-all").status_code == 200
    assert client.get(chart).status_code == 200
    assert [count.failures for count in counts(db, ThrottleScope.ACCOUNT)] == [4]
    assert [count.failures for count in counts(db, ThrottleScope.REAUTH)] == [1]
