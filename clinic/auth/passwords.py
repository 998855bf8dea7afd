"""Password policy and hashing (scrypt, via Werkzeug)."""

from __future__ import annotations

from functools import cache
from importlib import resources

from flask import current_app
from werkzeug.security import check_password_hash, generate_password_hash

MIN_LENGTH = 12
MAX_LENGTH = 128


@cache
def _dummy_hash(method: str) -> str:
    """Checked when the username does not exist, so a failed login costs the same either way."""
    return generate_password_hash("not-a-real-password-placeholder", method=method)


@cache
def _common_passwords() -> frozenset[str]:
    text = resources.files("clinic.auth").joinpath("common_passwords.txt").read_text("utf-8")
    return frozenset(
        line.strip().lower() for line in text.splitlines() if line.strip() and line[0] != "#"
    )


def password_problems(password: str, username: str = "") -> list[str]:
    """What is wrong with a proposed password, in words a user can act on."""
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(f"Use at least {MIN_LENGTH} characters.")
    if len(password) > MAX_LENGTH:
        problems.append(f"Use at most {MAX_LENGTH} characters.")
    lowered = password.lower()
    if lowered in _common_passwords() or len(set(lowered)) <= 2:
        problems.append("This password is too common; choose one that is hard to guess.")
    elif username and username.lower() in lowered:
        problems.append("The password must not contain the username.")
    return problems


def _method() -> str:
    return str(current_app.config["PASSWORD_HASH_METHOD"])


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=_method())


def verify_password(password_hash: str | None, password: str) -> bool:
    if password_hash is None:
        check_password_hash(_dummy_hash(_method()), password)
        return False
    return check_password_hash(password_hash, password)
