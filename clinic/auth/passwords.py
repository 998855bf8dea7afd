"""Password policy and hashing (scrypt, via Werkzeug).

Strength is judged by zxcvbn (the Python port of Dropbox's estimator, with its frequency lists of
leaked passwords, words, names and keyboard patterns) rather than a short hand-made list: a
password must reach a minimum score (PASSWORD_MIN_SCORE, 0 to 4, default 3: "safely
unguessable"), with the person's own details and the clinic's obvious words counted as the first
things a guesser tries. A refusal says why in words, from zxcvbn's feedback.

Two readings are judged and the weaker one counts: the whole password, and the password without
the digits and symbols at its ends. zxcvbn scores every added piece as at least 10,000 guesses, so
`Summer2026!!` (a word, a year, two marks: the first thing a guessing rule tries) reaches score 3
on its own; without its decoration it is one word.
"""

from __future__ import annotations

import string
import threading
from collections.abc import Iterable
from datetime import date
from functools import cache

from flask import current_app
from werkzeug.security import check_password_hash, generate_password_hash
from zxcvbn import zxcvbn

MIN_LENGTH = 12
MAX_LENGTH = 128
# zxcvbn's own bound: its matching grows faster than the length (a random 128-character password
# takes seconds). Past it, the first characters are judged: a strong start makes a strong whole.
JUDGED_LENGTH = 72
DECORATION = string.digits + string.punctuation + string.whitespace

TOO_WEAK = "This password is too easy to guess."
HAS_USERNAME = "The password must not contain the username."
FALLBACK_ADVICE = "Add another word or two. Uncommon words are better."
PERSONAL_ADVICE = "Leave out your name and username."
CONTEXT_ADVICE = "Leave out the clinic's words and the date (seasons, months, years)."
DECORATION_ADVICE = "Digits and symbols at the start or end add little: guessers try those first."

# The words a guesser tries first against this clinic's staff, after the person's own details:
# the workplace, the date (seasons, months, years) and the words of every password form.
CONTEXT_WORDS = (
    "clinic",
    "ketamine",
    "esketamine",
    "infusion",
    "nurse",
    "clinician",
    "doctor",
    "admin",
    "password",
    "welcome",
    "spring",
    "summer",
    "autumn",
    "fall",
    "winter",
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)

# zxcvbn keeps the user inputs of a call in a module-level dictionary: two threads judging at
# once (gthread workers) would judge one person's password against the other's details.
_zxcvbn_lock = threading.Lock()


@cache
def _dummy_hash(method: str) -> str:
    """Checked when the username does not exist, so a failed login costs the same either way."""
    return generate_password_hash("not-a-real-password-placeholder", method=method)


def _personal_words(username: str, full_name: str) -> list[str]:
    words = [username, full_name, *full_name.replace("-", " ").split()]
    return [word.lower() for word in words if len(word) >= 2]


def _years() -> list[str]:
    # zxcvbn's own year pattern stops at 2019.
    this_year = date.today().year
    return [str(year) for year in range(this_year + 1, this_year - 100, -1)]


def _judge(candidate: str, user_inputs: list[str]) -> dict:
    with _zxcvbn_lock:
        return zxcvbn(candidate[:JUDGED_LENGTH], user_inputs=user_inputs)


def _weakest_reading(password: str, user_inputs: list[str]) -> tuple[dict, bool]:
    """zxcvbn's result for the weaker of the two readings, and whether that is the stripped one."""
    whole = _judge(password, user_inputs)
    core = password.strip(DECORATION)
    if not core or core == password:
        return whole, False
    stripped = _judge(core, user_inputs)
    if stripped["guesses"] < whole["guesses"]:
        return stripped, True
    return whole, False


def _advice(result: dict, stripped: bool, personal: Iterable[str]) -> list[str]:
    feedback = result["feedback"]
    advice = [feedback["warning"]] if feedback["warning"] else []
    user_words = {
        match.get("matched_word")
        for match in result["sequence"]
        if match.get("dictionary_name") == "user_inputs"
    }
    if user_words & set(personal):
        advice.append(PERSONAL_ADVICE)
    elif user_words:
        advice.append(CONTEXT_ADVICE)
    if stripped:
        advice.append(DECORATION_ADVICE)
    advice.extend(feedback["suggestions"] or [FALLBACK_ADVICE])
    return list(dict.fromkeys(advice))


def password_problems(password: str, username: str = "", full_name: str = "") -> list[str]:
    """What is wrong with a proposed password, in words a user can act on."""
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(f"Use at least {MIN_LENGTH} characters.")
    if len(password) > MAX_LENGTH:
        problems.append(f"Use at most {MAX_LENGTH} characters.")
        return problems
    if username and username.lower() in password.lower():
        problems.append(HAS_USERNAME)
        return problems
    personal = _personal_words(username, full_name)
    result, stripped = _weakest_reading(password, [*personal, *CONTEXT_WORDS, *_years()])
    if result["score"] < int(current_app.config["PASSWORD_MIN_SCORE"]):
        problems.append(" ".join([TOO_WEAK, *_advice(result, stripped, personal)]))
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
