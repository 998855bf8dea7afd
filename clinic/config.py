"""Settings from the environment.

`CLINIC_ENV` is `production` unless said otherwise, so a forgotten variable fails closed: production
refuses to start without `SECRET_KEY` and `AUDIT_KEY`. Development keeps generated keys in the
instance folder so that sessions and the audit chain survive a restart.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ENVIRONMENTS = ("production", "development", "testing")


class ConfigError(RuntimeError):
    pass


def _int_env(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return default if raw in (None, "") else int(raw)


def _instance_secret(instance_path: str, name: str) -> str:
    path = Path(instance_path) / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def build_config(instance_path: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    overrides = dict(overrides or {})
    env = overrides.get("CLINIC_ENV") or os.environ.get("CLINIC_ENV", "production")
    if env not in ENVIRONMENTS:
        raise ConfigError(f"CLINIC_ENV must be one of {', '.join(ENVIRONMENTS)}, not {env!r}")
    production = env == "production"

    default_db = "sqlite:///" + str(Path(instance_path) / "clinic.sqlite3")
    config: dict[str, Any] = {
        "CLINIC_ENV": env,
        "TESTING": env == "testing",
        "SECRET_KEY": os.environ.get("SECRET_KEY"),
        "AUDIT_KEY": os.environ.get("AUDIT_KEY"),
        # Production has no fallback: a forgotten DATABASE_URL must not start on a local file.
        "SQLALCHEMY_DATABASE_URI": os.environ.get("DATABASE_URL")
        or (None if production else default_db),
        # hide_parameters: a database error logged with its statement must not carry the
        # values (names, notes) bound into it.
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True, "hide_parameters": True},
        "CLINIC_TIMEZONE": os.environ.get("CLINIC_TIMEZONE", "America/New_York"),
        "IDLE_TIMEOUT_MINUTES": _int_env("IDLE_TIMEOUT_MINUTES", 15),
        "ABSOLUTE_SESSION_HOURS": _int_env("ABSOLUTE_SESSION_HOURS", 12),
        # Failed sign-ins hold further attempts (clinic/auth/throttle.py): from the threshold's
        # failure on (per username, per known device, per person re-entering a password; a higher
        # one per client address), for a wait doubling from the first up to LOCKOUT_MINUTES.
        # Counts are forgotten after a quiet spell; a device keeps knowing its accounts for days.
        "LOCKOUT_THRESHOLD": _int_env("LOCKOUT_THRESHOLD", 5),
        "LOCKOUT_MINUTES": _int_env("LOCKOUT_MINUTES", 15),
        "LOCKOUT_ADDRESS_THRESHOLD": _int_env("LOCKOUT_ADDRESS_THRESHOLD", 20),
        "LOCKOUT_FIRST_WAIT_SECONDS": _int_env("LOCKOUT_FIRST_WAIT_SECONDS", 30),
        "LOCKOUT_FORGET_MINUTES": _int_env("LOCKOUT_FORGET_MINUTES", 60),
        "KNOWN_DEVICE_DAYS": _int_env("KNOWN_DEVICE_DAYS", 90),
        # The second factor (clinic/auth/second_factor.py): always asked of clinicians and admins,
        # of nurses when SECOND_FACTOR_FOR_NURSES=1; the name authenticator apps list the account
        # under; how long a sign-in whose password was right waits for its code or enrolment.
        "SECOND_FACTOR_FOR_NURSES": bool(_int_env("SECOND_FACTOR_FOR_NURSES", 0)),
        "SECOND_FACTOR_ISSUER": os.environ.get("SECOND_FACTOR_ISSUER", "Clinic"),
        "SECOND_FACTOR_STEP_MINUTES": _int_env("SECOND_FACTOR_STEP_MINUTES", 10),
        "LOGIN_RATE_LIMIT": os.environ.get("LOGIN_RATE_LIMIT", "20 per minute"),
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI", "memory://"),
        # gunicorn's worker count (it reads the same variable); 0 when not said. memory:// above
        # counts in each worker apart, so production takes it only with WEB_CONCURRENCY=1.
        "WEB_CONCURRENCY": _int_env("WEB_CONCURRENCY", 0),
        "RATELIMIT_HEADERS_ENABLED": True,
        "PROXY_FIX_X_FOR": _int_env("PROXY_FIX_X_FOR", 0),
        "BOOTSTRAP_SERVE_LOCAL": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        "SESSION_COOKIE_NAME": "clinic_session",
        "WTF_CSRF_TIME_LIMIT": None,  # the login session bounds the token's life
        "AUDIT_PAGE_SIZE": _int_env("AUDIT_PAGE_SIZE", 50),
        "PATIENTS_PAGE_SIZE": _int_env("PATIENTS_PAGE_SIZE", 25),
        "HISTORY_PAGE_SIZE": _int_env("HISTORY_PAGE_SIZE", 25),
        # Werkzeug's scrypt with its default work factor; the test suite sets a cheaper one.
        "PASSWORD_HASH_METHOD": os.environ.get("PASSWORD_HASH_METHOD", "scrypt"),
        # New passwords (clinic/auth/passwords.py): the zxcvbn score to reach (0-4), and how many
        # of a person's latest passwords, the current one included, may not come back.
        "PASSWORD_MIN_SCORE": _int_env("PASSWORD_MIN_SCORE", 3),
        "PASSWORD_HISTORY": _int_env("PASSWORD_HISTORY", 5),
        # Abnormal-value flags on the flowsheet (REFERENCE.md "Vital signs"): they flag, never
        # block. Strings so no threshold ever passes through a float.
        "VITALS_FLAGS": {
            "systolic_bp": {"below": "90", "at_or_above": "160"},
            "diastolic_bp": {"below": "50", "at_or_above": "100"},
            "heart_rate": {"below": "50", "above": "110"},
            "spo2": {"below": "94"},
            "respiratory_rate": {"below": "10", "above": "24"},
            "temperature_c": {"below": "35.5", "at_or_above": "38.0"},
            "sedation_moaas": {"at_or_below": "2"},  # MOAA/S 2 or below is an adverse finding
        },
        # The esketamine REMS monitoring form (clinic/sessions/services/rems.py): a session is
        # one when an intranasal administration's drug names one of these words; the form is
        # submitted within so many days; the BP "at T+40" is the set nearest 40 minutes within
        # the window.
        "REMS_DRUG_WORDS": ("esketamine", "spravato"),
        "REMS_SUBMIT_DAYS": _int_env("REMS_SUBMIT_DAYS", 7),
        "REMS_T40_WINDOW_MINUTES": (30, 50),
        # When the next vitals are due: a baseline before dosing, then every interval.
        "VITALS_SCHEDULE": {"baseline_before_dosing": True, "interval_minutes": 15},
        # Discharge readiness: the modified Aldrete total (0-10) at or above which a patient may
        # be discharged without a clinician's override (REFERENCE.md: 9 by default).
        "DISCHARGE_MIN_ALDRETE": _int_env("DISCHARGE_MIN_ALDRETE", 9),
        # Pre-session screening rules (REFERENCE.md "Screening defaults",
        # clinic/sessions/screening_rules.py), in order: a fact of the screening or the baseline
        # vitals, a test (equals, at_or_above, below, is_true), the outcome (no_go holds the first
        # treatment until a clinician overrides it; warn is shown to the clinician) and the
        # reason in words. Strings for numbers, so no threshold passes through a float.
        "SCREENING_RULES": [
            {
                "fact": "baseline_systolic_bp",
                "at_or_above": "160",
                "outcome": "no_go",
                "reason": "Baseline systolic BP at or above 160",
            },
            {
                "fact": "baseline_diastolic_bp",
                "at_or_above": "100",
                "outcome": "no_go",
                "reason": "Baseline diastolic BP at or above 100",
            },
            {
                "fact": "pregnancy",
                "equals": "positive",
                "outcome": "no_go",
                "reason": "Pregnancy positive",
            },
            {
                "fact": "hours_since_solid_food",
                "below": "6",
                "outcome": "warn",
                "reason": "Solid food within 6 hours",
            },
            {
                "fact": "hours_since_clear_fluid",
                "below": "2",
                "outcome": "warn",
                "reason": "Clear fluids within 2 hours",
            },
            {
                "fact": "concomitant_medicines",
                "is_true": True,
                "outcome": "warn",
                "reason": "Takes medicines today that sedate or raise blood pressure",
            },
            {
                "fact": "alcohol_or_drugs",
                "is_true": True,
                "outcome": "warn",
                "reason": "Alcohol or drugs in the last 24 hours",
            },
            {
                "fact": "new_problems",
                "is_true": True,
                "outcome": "warn",
                "reason": "New medical problems",
            },
            {
                "fact": "suicidality_positive",
                "is_true": True,
                "outcome": "warn",
                "reason": "Suicidality screen positive",
            },
            {
                "fact": "no_escort",
                "is_true": True,
                "outcome": "warn",
                "reason": "No escort present",
            },
            {
                "fact": "no_baseline_bp",
                "is_true": True,
                "outcome": "warn",
                "reason": "No baseline blood pressure recorded yet",
            },
        ],
        # Route profiles (REFERENCE.md "Route profiles", clinic/sessions/route_profiles.py): per
        # route, the vitals interval (VITALS_SCHEDULE's unless the profile says its own; shorter
        # in the first minutes after T+0 where said), the
        # named checkpoints the chart shows due, done or missed, and the minimum observation
        # after the end of the last treatment administration, before which a discharge needs a
        # clinician's override. "default" serves a route without a profile of its own.
        # A checkpoint is "before_dosing", "end_of_dosing", "before_discharge" or a number of
        # minutes after T+0, with a window either side, and the vital it needs.
        "ROUTE_PROFILES": {
            "iv": {
                "early_interval_minutes": 10,
                "early_minutes": 40,
                "checkpoints": [
                    {"name": "Baseline before dosing", "at": "before_dosing"},
                    {"name": "End of infusion", "at": "end_of_dosing", "window_minutes": 15},
                ],
                "observe_minutes": 30,
            },
            "im": {
                "checkpoints": [{"name": "Baseline before dosing", "at": "before_dosing"}],
                "observe_minutes": 60,
            },
            "intranasal": {
                "checkpoints": [
                    {"name": "BP before dosing", "at": "before_dosing"},
                    {"name": "BP at T+40", "at": 40, "window_minutes": 10},
                    {
                        "name": "BP before completion",
                        "at": "before_discharge",
                        "window_minutes": 30,
                    },
                ],
                "observe_minutes": 120,
            },
            "default": {
                "checkpoints": [{"name": "Baseline before dosing", "at": "before_dosing"}],
                "observe_minutes": 60,
            },
        },
        # Request bodies (a 413 beyond): the whole body, one form field held in memory (also the
        # whole of an urlencoded form), and the number of parts of a multipart form. No form of
        # the clinic comes near them; nothing is uploaded.
        "MAX_CONTENT_LENGTH": _int_env("MAX_CONTENT_LENGTH", 1024 * 1024),
        "MAX_FORM_MEMORY_SIZE": _int_env("MAX_FORM_MEMORY_SIZE", 256 * 1024),
        "MAX_FORM_PARTS": _int_env("MAX_FORM_PARTS", 500),
        # When a charted time may lie (clinic/sessions/entries.py): from this long before the
        # session's start (a baseline taken while it was being opened) to a little after now (a
        # tablet clock running fast); a session's start no further back than this many days.
        "ENTRY_MINUTES_BEFORE_START": _int_env("ENTRY_MINUTES_BEFORE_START", 60),
        "ENTRY_MINUTES_AHEAD": _int_env("ENTRY_MINUTES_AHEAD", 5),
        "SESSION_START_MAX_DAYS_PAST": _int_env("SESSION_START_MAX_DAYS_PAST", 30),
        # The controlled-substance register (clinic/register/): the drugs it holds (an
        # administration whose drug names one draws from a register lot once the register holds
        # a lot of it), and per unit counted, the decimals a quantity may carry and its largest
        # plausible value (a delivery, a count).
        "REGISTER_DRUGS": ("Ketamine", "Esketamine"),
        "REGISTER_QUANTITY_RULES": {
            "mL": {"decimals": 2, "max": "5000"},
            "device": {"decimals": 0, "max": "1000"},
        },
    }
    config.update(overrides)

    if not production:
        config["SECRET_KEY"] = config["SECRET_KEY"] or _instance_secret(instance_path, "secret_key")
        config["AUDIT_KEY"] = config["AUDIT_KEY"] or _instance_secret(instance_path, "audit_key")
    for key in ("SECRET_KEY", "AUDIT_KEY"):
        if not config.get(key):
            raise ConfigError(
                f"{key} must be set in the environment in production (CLINIC_ENV is "
                f"{env!r}; on a development machine set CLINIC_ENV=development, as the make "
                "targets do)"
            )
        if production and len(str(config[key])) < 32:
            raise ConfigError(f"{key} must be at least 32 characters in production")
        if production and _looks_unrandom(str(config[key])):
            raise ConfigError(
                f"{key} is not random enough (too few distinct characters or a repeated "
                "pattern); generate one with: python3 -c 'import secrets; "
                "print(secrets.token_hex(32))'"
            )
    if production and config["SECRET_KEY"] == config["AUDIT_KEY"]:
        raise ConfigError(
            "SECRET_KEY and AUDIT_KEY must differ, so that a leaked session key cannot forge "
            "the audit trail"
        )
    if production and not config.get("SQLALCHEMY_DATABASE_URI"):
        raise ConfigError(
            "DATABASE_URL must be set in production (no SQLite fallback); "
            "e.g. postgresql+psycopg://clinic:PASSWORD@db-host/clinic"
        )
    if (
        production
        and str(config["RATELIMIT_STORAGE_URI"]).startswith("memory://")
        and config["WEB_CONCURRENCY"] != 1
    ):
        raise ConfigError(
            "RATELIMIT_STORAGE_URI is memory://, which each worker counts apart: in production "
            "set it to a shared store (e.g. redis://host:6379), or run one worker and say so "
            "with WEB_CONCURRENCY=1"
        )
    return config


# Of random keys of 32 hexadecimal characters, about one in 30 million has fewer than 8 distinct.
MIN_DISTINCT_KEY_CHARACTERS = 8


def _looks_unrandom(key: str) -> bool:
    """A key typed rather than generated: few distinct characters, or a block repeated."""
    if len(set(key)) < MIN_DISTINCT_KEY_CHARACTERS:
        return True
    # A key that is its own rotation by some shift shorter than itself repeats a block.
    return (key + key).find(key, 1) < len(key)
