"""The password rules at their boundaries, and the hash the clinic stores in production.

Each expectation is written out here (12 and 128 characters, three distinct characters, the
method prefix of the stored hash) rather than read from clinic.auth.passwords, so a change of
the rule fails a test instead of moving the test along with it.
"""

from __future__ import annotations

from importlib import resources

import pytest

from clinic.auth import passwords
from clinic.auth.models import Role, User
from clinic.auth.passwords import hash_password, password_problems, verify_password
from clinic.config import build_config
from tests.conftest import PASSWORD, login

TOO_SHORT = "Use at least 12 characters."
TOO_LONG = "Use at most 128 characters."
TOO_COMMON = "This password is too common; choose one that is hard to guess."
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


def test_length_rule_says_both_limits_in_words():
    assert password_problems(of_length(11)) == [TOO_SHORT]
    assert password_problems(of_length(12)) == []
    assert password_problems(of_length(128)) == []
    assert password_problems(of_length(129)) == [TOO_LONG]


# --- distinct characters ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("candidate", "refused"),
    [
        ("abababababab", True),  # two distinct characters
        ("AaBbAaBbAaBb", True),  # two once lowered: case does not count
        ("abcabcabcabc", False),  # three distinct characters
        ("zzzzzzzzzzzzzzzz", True),  # one
    ],
)
def test_a_password_needs_three_distinct_characters(candidate, refused):
    assert password_problems(candidate) == ([TOO_COMMON] if refused else [])


def test_two_distinct_characters_are_refused_at_the_change_password_page(client, db, login_as):
    user = login_as(Role.NURSE)
    response = change_password(client, "xyxyxyxyxyxyxyxy")
    assert TOO_COMMON in response.get_data(as_text=True)
    assert stored_hash(db, user) == user.password_hash


# --- the common list and the username -----------------------------------------------------------


def test_a_listed_password_is_refused_whatever_its_case():
    assert password_problems("1qaz2wsx3edc") == [TOO_COMMON]
    assert password_problems("Password1234") == [TOO_COMMON]


def test_the_comment_lines_of_the_common_list_are_not_entries():
    text = resources.files("clinic.auth").joinpath("common_passwords.txt").read_text("utf-8")
    comments = [line for line in text.splitlines() if line.startswith("#")]
    assert comments
    for line in comments:
        assert password_problems(line) == [], line


def test_a_password_containing_the_username_is_refused_whatever_its_case():
    assert password_problems("my-Marguerite-2024", "marguerite") == [HAS_USERNAME]
    assert password_problems("my-marguerite-2024", "MARGUERITE") == [HAS_USERNAME]
    assert password_problems("my-marguerite-2024", "jeanne") == []


def test_without_a_username_no_part_of_the_password_counts_as_one():
    for candidate in ("my-marguerite-2024", "xxxx-marks-the-spot", "null-and-void-none"):
        assert password_problems(candidate) == []
        assert password_problems(candidate, "") == []


def test_a_short_common_password_gets_both_reasons():
    assert password_problems("aaaa") == [TOO_SHORT, TOO_COMMON]


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
