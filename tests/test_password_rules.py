"""The password rules at their boundaries, and the hash the clinic stores in production.

Each expectation is written out here (12 and 128 characters, the passwords zxcvbn must refuse and
why, the five passwords remembered, the method prefix of the stored hash) rather than read from
clinic.auth.passwords, so a change of the rule fails a test instead of moving the test along
with it.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from clinic.auth import passwords
from clinic.auth.models import PasswordHistory, Role, User
from clinic.auth.passwords import hash_password, password_problems, verify_password
from clinic.config import build_config
from tests.conftest import PASSWORD, login

TOO_SHORT = "Use at least 12 characters."
TOO_LONG = "Use at most 128 characters."
TOO_WEAK = "This password is too easy to guess."
HAS_USERNAME = "The password must not contain the username."
# Werkzeug's default scrypt parameters (N=2**15, r=8, p=1): what production stores when
# PASSWORD_HASH_METHOD is not set in the environment. The suite's BASE_CONFIG sets a cheaper one.
PRODUCTION_METHOD = "scrypt:32768:8:1"
TEST_METHOD = "scrypt:1024:8:1"


def of_length(length: int) -> str:
    """A password nobody would call common, exactly `length` characters long."""
    text = "orchid-lantern-47-" * (length // 18 + 1)
    return text[:length]


def change_password(client, new: str):
    return client.post(
        "/password",
        data={"current_password": PASSWORD, "new_password": new, "confirm_password": new},
    )


def stored_hash(db, user: User) -> str:
    db.session.expire_all()
    return db.session.get(User, user.id).password_hash


def method_of(password_hash: str) -> str:
    method, salt, digest = password_hash.split("$")
    assert salt and digest
    return method


# --- length, through the change-password page --------------------------------------------------


@pytest.mark.parametrize(
    ("length", "refusal"),
    [(11, TOO_SHORT), (12, None), (128, None), (129, TOO_LONG)],
)
def test_password_length_is_twelve_to_one_hundred_and_twenty_eight_characters(
    client, db, login_as, length, refusal
):
    user = login_as(Role.NURSE, username="nurse-lengths")
    new_password = of_length(length)
    assert len(new_password) == length
    response = change_password(client, new_password)
    if refusal is None:
        assert response.status_code == 302, response.get_data(as_text=True)
        assert verify_password(stored_hash(db, user), new_password)
    else:
        assert response.status_code == 200
        assert refusal in response.get_data(as_text=True)
        assert stored_hash(db, user) == user.password_hash


def test_length_rule_says_both_limits_in_words(app):
    assert password_problems(of_length(11)) == [TOO_SHORT]
    assert password_problems(of_length(12)) == []
    assert password_problems(of_length(128)) == []
    assert password_problems(of_length(129)) == [TOO_LONG]


# --- strength: zxcvbn, with the person's details and the clinic's words -------------------------


@pytest.mark.parametrize(
    ("candidate", "reason"),
    [
        ("Summer2026!!", "Leave out the clinic's words and the date"),
        ("Clinic2026!!", "Leave out the clinic's words and the date"),
        ("abcabcabcabc", 'Repeats like "abcabcabc"'),
        ("abababababab", 'Repeats like "abcabcabc"'),
        ("AaBbAaBbAaBb", 'Repeats like "abcabcabc"'),  # case does not help
        ("zzzzzzzzzzzzzzzz", 'Repeats like "aaa"'),
        ("1qaz2wsx3edc", "This is a very common password."),
        ("Password1234", "This is a top-10 common password."),
    ],
)
def test_a_guessable_password_is_refused_and_told_why(app, candidate, reason):
    [problem] = password_problems(candidate)
    assert problem.startswith(TOO_WEAK)
    assert reason in problem


def test_digits_and_symbols_at_the_ends_do_not_make_a_word_strong(app):
    # zxcvbn alone gives `Summer2026!!` its score 3: each added piece counts 10,000 guesses.
    [problem] = password_problems("Summer2026!!")
    assert "Digits and symbols at the start or end add little" in problem
    assert password_problems("saffron-kettle-harbour-2026!!") == []


def test_the_persons_name_counts_as_a_first_guess(app):
    assert password_problems("Jeanne Dupont 1980", "nurse-7") == []
    [problem] = password_problems("Jeanne Dupont 1980", "nurse-7", "Jeanne Dupont")
    assert problem.startswith(TOO_WEAK)
    assert "Leave out your name and username." in problem


@pytest.mark.parametrize("candidate", [of_length(12), "juniper-kettle-harbour", PASSWORD])
def test_a_password_of_unlikely_words_is_accepted(app, candidate):
    assert password_problems(candidate) == []


@pytest.mark.parametrize(
    ("min_score", "candidate", "refused"),
    [
        (0, "Summer2026!!", False),
        (3, "orchid-lante", False),  # zxcvbn's score 3
        (4, "orchid-lante", True),
        (4, "juniper-kettle-harbour", False),
    ],
)
def test_the_minimum_score_is_a_setting(app, monkeypatch, min_score, candidate, refused):
    monkeypatch.setitem(app.config, "PASSWORD_MIN_SCORE", min_score)
    assert bool(password_problems(candidate)) is refused


def test_a_weak_password_is_refused_at_the_change_password_page(client, db, login_as):
    user = login_as(Role.NURSE)
    response = change_password(client, "xyxyxyxyxyxyxyxy")
    assert TOO_WEAK in response.get_data(as_text=True)
    assert stored_hash(db, user) == user.password_hash


def test_a_very_long_password_is_judged_in_bounded_time(app):
    # zxcvbn's matching grows faster than the length: it judges the first 72 characters.
    started = time.monotonic()
    assert password_problems("".join(chr(33 + (i * 7) % 90) for i in range(128))) == []
    assert time.monotonic() - started < 5


# --- the username -------------------------------------------------------------------------------


def test_a_password_containing_the_username_is_refused_whatever_its_case(app):
    assert password_problems("quiet-Marguerite-harbour-walk", "marguerite") == [HAS_USERNAME]
    assert password_problems("quiet-marguerite-harbour-walk", "MARGUERITE") == [HAS_USERNAME]
    assert password_problems("quiet-marguerite-harbour-walk", "jeanne") == []


def test_without_a_username_no_part_of_the_password_counts_as_one(app):
    for candidate in ("quiet-marguerite-harbour-walk", "xxxx-marks-the-spot", "null-and-void-none"):
        assert password_problems(candidate) == []
        assert password_problems(candidate, "") == []


def test_a_short_common_password_gets_both_reasons(app):
    too_short, too_weak = password_problems("aaaa")
    assert too_short == TOO_SHORT
    assert too_weak.startswith(TOO_WEAK)


# --- the latest passwords do not come back ------------------------------------------------------

EARLIER = [f"{word}-kettle-harbour" for word in ("juniper", "walnut", "meadow", "copper")]


def change_from(client, current: str, new: str):
    return client.post(
        "/password",
        data={"current_password": current, "new_password": new, "confirm_password": new},
    )


def history_of(db, user: User) -> list[str]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            sa.select(PasswordHistory.password_hash)
            .where(PasswordHistory.user_id == user.id)
            .order_by(PasswordHistory.id)
        )
    )


def test_none_of_the_last_five_passwords_comes_back(client, db, login_as):
    user = login_as(Role.NURSE)
    current = PASSWORD
    for new in EARLIER:
        assert change_from(client, current, new).status_code == 302
        current = new
    # PASSWORD and the four after it are the last five: none may come back.
    for old in (PASSWORD, *EARLIER[:-1]):
        response = change_from(client, current, old)
        assert response.status_code == 200
        assert "You used this password before" in response.get_data(as_text=True)
        assert verify_password(stored_hash(db, user), current)
    assert change_from(client, current, "saffron-kettle-harbour").status_code == 302
    # Five changes on, the first password has left the history.
    assert change_from(client, "saffron-kettle-harbour", PASSWORD).status_code == 302
    assert verify_password(stored_hash(db, user), PASSWORD)


def test_the_history_keeps_the_latest_hashes_only(client, db, login_as):
    user = login_as(Role.NURSE)
    assert len(history_of(db, user)) == 1  # the first password
    current = PASSWORD
    for new in [*EARLIER, "saffron-kettle-harbour", "thistle-kettle-harbour"]:
        assert change_from(client, current, new).status_code == 302
        current = new
    history = history_of(db, user)
    assert len(history) == 5
    assert history[-1] == stored_hash(db, user)
    assert not any(verify_password(old, PASSWORD) for old in history)


@pytest.mark.parametrize("app_config", [{"PASSWORD_HISTORY": 2}])
def test_how_many_passwords_are_remembered_is_a_setting(client, db, login_as, app_config):
    login_as(Role.NURSE)
    assert change_from(client, PASSWORD, EARLIER[0]).status_code == 302
    assert change_from(client, EARLIER[0], EARLIER[1]).status_code == 302
    assert change_from(client, EARLIER[1], EARLIER[0]).status_code == 200
    assert change_from(client, EARLIER[1], PASSWORD).status_code == 302


def test_an_admin_reset_does_not_let_the_old_password_back(app, client, db, login_as, make_user):
    nurse = make_user(Role.NURSE)
    login_as(Role.ADMIN)
    temporary = "walnut-meadow-temporary"
    reset = client.post(f"/staff/{nurse.id}/password", data={"password": temporary})
    assert reset.status_code == 302
    nurse_client = app.test_client()
    assert login(nurse_client, nurse.username, temporary).location == "/password"
    response = change_from(nurse_client, temporary, PASSWORD)
    assert "You used this password before" in response.get_data(as_text=True)
    assert change_from(nurse_client, temporary, temporary).status_code == 200
    assert change_from(nurse_client, temporary, EARLIER[0]).status_code == 302


# --- verifying ---------------------------------------------------------------------------------


def test_an_unknown_user_never_verifies(app):
    assert verify_password(None, PASSWORD) is False
    assert verify_password(None, "") is False


def test_an_empty_hash_never_verifies(app):
    assert verify_password("", PASSWORD) is False
    assert verify_password("", "") is False


def test_a_hash_verifies_its_own_password_only(app):
    password_hash = hash_password(PASSWORD)
    assert verify_password(password_hash, PASSWORD) is True
    assert verify_password(password_hash, PASSWORD + "x") is False


def test_an_unknown_user_costs_a_check_with_the_configured_method(app, monkeypatch):
    """A failed login takes as long whether or not the username exists."""
    checked: list[str] = []
    real_check = passwords.check_password_hash

    def spy(password_hash: str, password: str) -> bool:
        checked.append(password_hash)
        return real_check(password_hash, password)

    monkeypatch.setattr(passwords, "check_password_hash", spy)
    assert verify_password(None, PASSWORD) is False
    assert [method_of(password_hash) for password_hash in checked] == [TEST_METHOD]


def test_the_configured_method_is_used_for_new_hashes(app):
    assert method_of(hash_password(PASSWORD)) == TEST_METHOD


# --- the production hash method ----------------------------------------------------------------


def production_hash_method(tmp_path) -> str:
    """The method the configuration gives when the environment does not set one."""
    return build_config(str(tmp_path), {"CLINIC_ENV": "development"})["PASSWORD_HASH_METHOD"]


def test_production_hashes_with_werkzeug_default_scrypt(app, monkeypatch, tmp_path):
    monkeypatch.delenv("PASSWORD_HASH_METHOD", raising=False)
    monkeypatch.setitem(app.config, "PASSWORD_HASH_METHOD", production_hash_method(tmp_path))
    password_hash = hash_password(PASSWORD)
    assert method_of(password_hash) == PRODUCTION_METHOD
    assert verify_password(password_hash, PASSWORD) is True
    assert verify_password(password_hash, PASSWORD.upper()) is False


def test_a_password_changed_in_production_is_stored_with_scrypt_and_signs_in(
    client, db, login_as, app, monkeypatch, tmp_path
):
    user = login_as(Role.NURSE)
    monkeypatch.delenv("PASSWORD_HASH_METHOD", raising=False)
    monkeypatch.setitem(app.config, "PASSWORD_HASH_METHOD", production_hash_method(tmp_path))
    new_password = "juniper-kettle-harbour-93"
    assert change_password(client, new_password).status_code == 302
    assert method_of(stored_hash(db, user)) == PRODUCTION_METHOD
    client.post("/logout")
    assert login(client, user.username, new_password).status_code == 302


# --- what the estimator is told to guess first (mutation testing found these unpinned) ---------


def test_the_estimator_guesses_each_year_from_a_century_ago_to_next_year(app):
    this_year = datetime.now(UTC).year
    years = passwords._years()
    assert years[:2] == [str(this_year + 1), str(this_year)]
    assert years[-1] == str(this_year - 99)
    assert len(years) == 101


def test_the_estimator_guesses_the_username_the_full_name_and_each_part_of_it(app):
    assert passwords._personal_words("jd", "Mary-Jane Watson") == [
        "jd",
        "mary-jane watson",
        "mary",
        "jane",
        "watson",
    ]
    assert passwords._personal_words("j", "A Watson") == ["a watson", "watson"]


@pytest.mark.parametrize(
    ("candidate", "refusal"),
    [
        (
            "Summer2026!!",
            "This password is too easy to guess. Leave out the clinic's words and the date"
            " (seasons, months, years). Digits and symbols at the start or end add little:"
            " guessers try those first. Add another word or two. Uncommon words are better."
            " Capitalization doesn't help very much.",
        ),
        (
            "kestrel1999!",
            "This password is too easy to guess. This is a very common password. Digits and"
            " symbols at the start or end add little: guessers try those first. Add another"
            " word or two. Uncommon words are better.",
        ),
    ],
)
def test_a_refusal_is_one_text_with_every_reason_in_order(app, candidate, refusal):
    assert password_problems(candidate) == [refusal]
