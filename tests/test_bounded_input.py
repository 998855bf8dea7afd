"""Bounded input (issue 12, findings 2, 3, 4, 5, 10 and 11): whatever a request carries, the answer
is the app's own page with a status and a message, never a 500, and nothing impossible is stored.

- Size: a body over the limit is a 413 with the app's error page, refused before it is read.
- Range: ids, page numbers and dates out of range are a 404 or a message, on both databases.
- Time: a charted time lies within its session; a session starts within a sane window.
- Text: control characters are refused on every text field, next to the field.
- Privacy: the patient search is not kept in the (readable) session cookie; the print page's
  title carries ids only.
- Headers: HSTS covers subdomains; gunicorn does not name itself in a Server header.
"""

from __future__ import annotations

import base64
import importlib
import inspect
import io
import json
import os
import pkgutil
import re
import secrets
import subprocess
import sys
import time
import urllib.request
import uuid
import zlib
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from werkzeug.routing import IntegerConverter
from werkzeug.test import EnvironBuilder
from wtforms import StringField

import clinic
from clinic.auth.models import Role, User
from clinic.config import ConfigError, build_config
from clinic.database import utcnow
from clinic.extensions import db as _db
from clinic.patients.models import Patient
from clinic.request_bounds import MAX_ID
from clinic.sessions.models import (
    Administration,
    ChecklistItem,
    InfusionSession,
    MonitoringEntry,
    Score,
)
from clinic.sessions.services.monitoring import MonitoringDetails, record_monitoring
from clinic.sessions.services.opening import SessionDetails, open_session
from tests.conftest import BASE_CONFIG, login
from tests.factories import make_patient, order_for, ready_to_open, record_administration
from tests.helpers import local_text

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

HUGE_IDS = [2**63, 10**20, int("9" * 40)]


def count(model: Any) -> int:
    return _db.session.scalar(sa.select(sa.func.count()).select_from(model))


def field_error(html: str, field_id: str) -> str:
    match = re.search(rf'id="{re.escape(field_id)}-error"[^>]*>([^<]*)<', html)
    return match.group(1) if match else ""


def is_app_error_page(html: str, title: str) -> bool:
    """The app's own error page (base layout, its title), not Werkzeug's bare one."""
    return f"<title>{title} · clinic</title>" in html and 'href="/static/css/clinic.css' in html


# --- 2. request size ------------------------------------------------------------------------------


class EndlessBody(io.RawIOBase):
    """A request body of `size` bytes, made as it is read, that counts how much the app reads.

    Seekable so that the test client can measure it and send its Content-Length.
    """

    def __init__(self, size: int, byte: bytes = b"a") -> None:
        self.size, self.byte, self.position, self.read_bytes = size, byte, 0, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        self.position = offset + (self.size if whence == 2 else 0)
        return self.position

    def tell(self) -> int:
        return self.position

    def readinto(self, buffer: Any) -> int:
        n = max(0, min(len(buffer), self.size - self.position))
        buffer[:n] = self.byte * n
        self.position += n
        self.read_bytes += n
        return n


def test_a_300_mb_anonymous_post_to_login_is_refused_unread(client: FlaskClient) -> None:
    body = EndlessBody(300 * 2**20)
    response = client.post(
        "/login", input_stream=body, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 413
    assert is_app_error_page(response.get_data(as_text=True), "Request too large")
    # Refused from its Content-Length, before reading: a worker does not grow by the body.
    assert body.read_bytes == 0


def test_a_post_without_a_length_is_read_no_further_than_the_limit(
    app: Flask, client: FlaskClient
) -> None:
    """A body whose end the server learns only as it comes (chunked): read up to the limit."""
    body = EndlessBody(300 * 2**20)
    environ = EnvironBuilder(
        path="/login",
        method="POST",
        input_stream=body,
        content_type="application/x-www-form-urlencoded",
    ).get_environ()
    del environ["CONTENT_LENGTH"]
    environ["wsgi.input_terminated"] = True
    response = client.open(environ)
    assert response.status_code == 413
    assert is_app_error_page(response.get_data(as_text=True), "Request too large")
    assert body.read_bytes <= app.config["MAX_CONTENT_LENGTH"] + 2**16


@pytest.mark.parametrize("signed_in", [False, True])
def test_a_10_mb_multipart_field_is_a_413_with_the_app_page(
    client: FlaskClient, login_as: Callable[..., User], signed_in: bool
) -> None:
    path = "/login"
    if signed_in:
        login_as(Role.NURSE)
        path = "/patients/new"
    response = client.post(
        path,
        data={"username": "x" * 10 * 2**20, "family_name": "x" * 10 * 2**20},
        content_type="multipart/form-data",
    )
    assert response.status_code == 413
    assert is_app_error_page(response.get_data(as_text=True), "Request too large")


def test_a_multipart_field_over_the_form_memory_limit_is_a_413(
    client: FlaskClient, login_as: Callable[..., User], app: Flask
) -> None:
    """Within the body limit, a single field larger than a form ever needs is refused too."""
    login_as(Role.NURSE)
    size = app.config["MAX_FORM_MEMORY_SIZE"] + 1
    assert size < app.config["MAX_CONTENT_LENGTH"]
    response = client.post(
        "/patients/new", data={"allergies": "x" * size}, content_type="multipart/form-data"
    )
    assert response.status_code == 413
    assert count(Patient) == 0


def test_a_form_of_ordinary_size_still_posts(
    client: FlaskClient, login_as: Callable[..., User]
) -> None:
    login_as(Role.NURSE)
    form = {
        "mrn": "SIZE-1",
        "family_name": "Bounded",
        "given_name": "Ada",
        "date_of_birth": "1980-01-02",
        "sex": "female",
        "allergies": "x" * 2000,  # the longest text the form takes
        "indication": "depression",
    }
    assert client.post("/patients/new", data=form).status_code == 302
    assert count(Patient) == 1


# --- 3. out-of-range numbers and dates ------------------------------------------------------------


def int_routes(app: Flask) -> list[tuple[str, str, str]]:
    """(rule, method, endpoint) of every route with an <int:...> part."""
    found = []
    for rule in app.url_map.iter_rules():
        if any(isinstance(c, IntegerConverter) for c in rule._converters.values()):
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                found.append((rule.rule, method, rule.endpoint))
    return found


def test_every_int_route_is_listed(app: Flask) -> None:
    # The check below walks the url map; make sure it finds the routes it means to.
    endpoints = {endpoint for _, _, endpoint in int_routes(app)}
    assert {"sessions.chart", "review.history_page", "staff.detail", "sessions.void"} <= endpoints


@pytest.mark.parametrize("huge", [MAX_ID, MAX_ID + 1, 2**63 - 1, *HUGE_IDS])
def test_huge_ids_on_every_int_route_are_404(
    app: Flask,
    client: FlaskClient,
    login_as: Callable[..., User],
    make_user: Callable[..., User],
    huge: int,
) -> None:
    login_as(Role.CLINICIAN)
    admin = app.test_client()
    assert login(admin, make_user(Role.ADMIN).username).status_code == 302
    for rule, method, endpoint in int_routes(app):
        path = re.sub(r"<int:\w+>", str(huge), rule).replace("<kind>", "monitoring")
        who = admin if endpoint.startswith("staff.") else client
        response = who.open(path, method=method, data={} if method == "POST" else None)
        assert response.status_code == 404, (method, path, response.status_code, response.location)
        assert is_app_error_page(response.get_data(as_text=True), "Not found"), path


def test_a_40_digit_id_does_not_reach_int(client: FlaskClient, login_as) -> None:
    """Python refuses to read an int of over 4300 digits: the router must not try."""
    login_as(Role.NURSE)
    assert client.get("/sessions/" + "9" * 5000).status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/patients/?page={huge}",
        "/patients/{patient}?page={huge}",
        "/sessions/new?patient={huge}",
    ],
)
def test_huge_page_or_patient_arguments_are_404(
    client: FlaskClient, login_as: Callable[..., User], path: str
) -> None:
    patient = make_patient()
    login_as(Role.NURSE)
    for huge in HUGE_IDS:
        response = client.get(path.format(huge=huge, patient=patient.id))
        assert response.status_code == 404, (path, huge)


def test_a_huge_audit_page_is_404(client: FlaskClient, login_as: Callable[..., User]) -> None:
    login_as(Role.ADMIN)
    for huge in HUGE_IDS:
        assert client.get(f"/audit/?page={huge}").status_code == 404


def test_a_huge_patient_id_in_the_audit_filter_is_a_message(
    client: FlaskClient, login_as: Callable[..., User]
) -> None:
    login_as(Role.ADMIN)
    response = client.get(f"/audit/?patient={10**20}")
    assert response.status_code == 422
    assert field_error(response.get_data(as_text=True), "patient")


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"date_to": "9999-12-31"}, "date_to"),
        ({"date_from": "9999-12-31"}, "date_from"),
        ({"date_from": "0001-01-01"}, "date_from"),
    ],
)
def test_out_of_range_audit_dates_are_a_message(
    client: FlaskClient, login_as: Callable[..., User], args: dict[str, str], field: str
) -> None:
    login_as(Role.ADMIN)
    response = client.get("/audit/", query_string=args)
    assert response.status_code == 422
    assert "Enter a date between" in field_error(response.get_data(as_text=True), field)


@pytest.mark.parametrize(
    "args", [{"to": "9999-12-31"}, {"from": "9999-12-31"}, {"from": "0001-01-01"}]
)
def test_out_of_range_history_dates_are_a_message(
    client: FlaskClient, login_as: Callable[..., User], args: dict[str, str]
) -> None:
    patient = make_patient()
    login_as(Role.NURSE)
    response = client.get(f"/patients/{patient.id}", query_string=args)
    assert response.status_code == 422
    assert "Enter a date between" in response.get_data(as_text=True)


@pytest.mark.parametrize("app_config", [{"AUDIT_PAGE_SIZE": 1}])
def test_audit_links_carry_only_the_filters(
    client: FlaskClient, login_as: Callable[..., User], app_config: dict[str, Any]
) -> None:
    login_as(Role.ADMIN)  # two events: staff_created, login
    response = client.get(
        "/audit/",
        query_string={
            "_method": "POST",
            "_external": "1",
            "_anchor": "x",
            "_scheme": "https",
            "user": "",
            "unknown": "y",
        },
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    [older] = re.findall(r'href="([^"]*page=2[^"]*)"', html)
    assert older == "/audit/?page=2", older


ENTRY_FORMS = {
    # path (under the session), form data, the id of the time field that carries the message
    "monitoring": ("monitoring", {"heart_rate": "70", "phase": "during"}, "occurred_at"),
    "pain": ("scores/pain", {"pain-score": "3", "pain-timing": "after"}, "pain-occurred_at"),
    "administration": (
        "administrations",
        {
            "administration-drug": "Ketamine hydrochloride",
            "administration-route": "iv",
            "administration-method": "infusion",
            "administration-dose_amount": "0.5",
            "administration-dose_unit": "mg/kg",
            "administration-rate_unit": "",
        },
        "administration-started_at",
    ),
    "discharge": ("end", {"discharged_with": "A driver", "version": "1"}, "discharged_at"),
}


def post_entry(client: FlaskClient, session_id: int, kind: str, when: str) -> Any:
    path, data, time_field = ENTRY_FORMS[kind]
    data = {**data, time_field: when}
    if kind == "administration":  # carrying out an order in force saying what is given
        order = order_for(_db.session.get(InfusionSession, session_id))
        data["administration-order_id"] = str(order.id)
    return client.post(f"/sessions/{session_id}/{path}", data=data)


def stored(kind: str, session_id: int) -> int:
    if kind == "discharge":
        return int(_db.session.get(InfusionSession, session_id).discharged_at is not None)
    model = {"monitoring": MonitoringEntry, "pain": Score, "administration": Administration}[kind]
    return count(model)


@pytest.mark.parametrize("kind", sorted(ENTRY_FORMS))
@pytest.mark.parametrize("when", ["9999-12-31T23:59", "0001-01-01T00:00"])
def test_an_impossible_time_on_an_entry_form_is_a_message_next_to_it(
    client: FlaskClient, charting: dict[str, Any], kind: str, when: str
) -> None:
    session_id = charting["session"].id
    response = post_entry(client, session_id, kind, when)
    assert response.status_code == 422, response.status_code
    assert field_error(response.get_data(as_text=True), ENTRY_FORMS[kind][2])
    _db.session.expire_all()
    assert stored(kind, session_id) == 0


def test_an_impossible_end_of_an_administration_is_a_message(
    client: FlaskClient, charting: dict[str, Any]
) -> None:
    session_id = charting["session"].id
    path, data, time_field = ENTRY_FORMS["administration"]
    data = {
        **data,
        time_field: local_text(utcnow()),
        "administration-ended_at": "9999-12-31T23:59",
    }
    response = client.post(f"/sessions/{session_id}/{path}", data=data)
    assert response.status_code == 422
    assert field_error(response.get_data(as_text=True), "administration-ended_at")
    assert count(Administration) == 0


# --- 4. times within the session -----------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(ENTRY_FORMS))
def test_an_entry_long_before_the_session_started_is_refused(
    client: FlaskClient, charting: dict[str, Any], kind: str
) -> None:
    session_id = charting["session"].id
    too_early = charting["start"] - timedelta(days=1)
    response = post_entry(client, session_id, kind, local_text(too_early))
    assert response.status_code == 422
    assert "before the session started" in field_error(
        response.get_data(as_text=True), ENTRY_FORMS[kind][2]
    )
    _db.session.expire_all()
    assert stored(kind, session_id) == 0


@pytest.mark.parametrize("kind", ["monitoring", "pain", "administration"])
def test_an_entry_shortly_before_the_start_is_taken(
    client: FlaskClient, charting: dict[str, Any], app: Flask, kind: str
) -> None:
    """A baseline taken while the session was being opened is a real entry."""
    session_id = charting["session"].id
    allowed = app.config["ENTRY_MINUTES_BEFORE_START"]
    early = charting["start"] - timedelta(minutes=allowed - 1)
    response = post_entry(client, session_id, kind, local_text(early))
    assert response.status_code == 302, response.get_data(as_text=True)
    assert stored(kind, session_id) == 1


def test_the_service_refuses_an_entry_outside_the_session(charting: dict[str, Any]) -> None:
    """Checked by the record itself, whichever way the time comes in (not only the form)."""
    from clinic.sessions.entries import ChartError

    infusion_session, nurse = charting["session"], charting["nurse"]
    for when in (
        charting["start"] - timedelta(days=3650),
        utcnow() + timedelta(hours=2),
    ):
        details = MonitoringDetails(phase="during", occurred_at=when, heart_rate=70)
        with pytest.raises(ChartError) as refused:
            record_monitoring(nurse, infusion_session.id, details, None)
        assert refused.value.field == "occurred_at"
        _db.session.rollback()
    assert count(MonitoringEntry) == 0


def test_the_service_refuses_an_administration_ending_in_the_future(
    charting: dict[str, Any],
) -> None:
    from clinic.sessions.entries import ChartError

    with pytest.raises(ChartError) as refused:
        record_administration(
            charting["session"],
            charting["nurse"],
            started_at=utcnow() - timedelta(minutes=5),
            ended_at=utcnow() + timedelta(days=2),
        )
    assert refused.value.field == "ended_at"


def open_form(patient: Patient, nurse: User, clinician: User, started: str) -> dict[str, Any]:
    return {
        "indication": "depression",
        "route": "iv",
        "attending_clinician_id": clinician.id,
        "nurse_id": nurse.id,
        "started_at": started,
        "fasting_confirmed": "y",
        "weight_kg": "72.4",
    }


@pytest.mark.parametrize("app_config", [{"SESSION_START_MAX_DAYS_PAST": 30}])
@pytest.mark.parametrize(
    ("started", "taken"),
    [
        (lambda: "0001-01-01T00:00", False),
        (lambda: "9999-12-31T23:59", False),
        (lambda: local_text(utcnow() - timedelta(days=31)), False),
        (lambda: local_text(utcnow() - timedelta(days=29)), True),
    ],
)
def test_a_session_starts_within_a_sane_window(
    client: FlaskClient,
    login_as: Callable[..., User],
    make_user: Callable[..., User],
    app_config: dict[str, Any],
    started: Callable[[], str],
    taken: bool,
) -> None:
    nurse = login_as(Role.NURSE)
    clinician = make_user(Role.CLINICIAN)
    patient = make_patient()
    course = ready_to_open(patient, clinician)
    response = client.post(
        f"/sessions/new?patient={patient.id}",
        data={**open_form(patient, nurse, clinician, started()), "course_id": str(course.id)},
    )
    if taken:
        assert response.status_code == 302
        assert count(InfusionSession) == 1
    else:
        assert response.status_code == 422
        assert field_error(response.get_data(as_text=True), "started_at")
        assert count(InfusionSession) == 0


@pytest.mark.parametrize("app_config", [{"SESSION_START_MAX_DAYS_PAST": 30}])
def test_the_service_refuses_a_session_start_outside_the_window(
    app: Flask, make_user: Callable[..., User], app_config: dict[str, Any]
) -> None:
    from clinic.sessions.entries import ChartError

    nurse, clinician = make_user(Role.NURSE), make_user(Role.CLINICIAN)
    patient = make_patient()
    for when in (utcnow() - timedelta(days=31), utcnow() + timedelta(hours=1)):
        details = SessionDetails(
            indication=patient.indication,
            route="iv",
            attending_clinician_id=clinician.id,
            nurse_id=nurse.id,
            started_at=when,
            fasting_confirmed=True,
            weight_kg=None,
        )
        with pytest.raises(ChartError) as refused:
            open_session(nurse, patient.id, details, None)
        assert refused.value.field == "started_at"
        _db.session.rollback()


def test_the_time_windows_are_settings(app: Flask) -> None:
    from clinic.config import build_config

    config = build_config(app.instance_path, {"CLINIC_ENV": "testing"})
    assert config["ENTRY_MINUTES_BEFORE_START"] > 0
    assert config["ENTRY_MINUTES_AHEAD"] >= 0
    assert 0 < config["SESSION_START_MAX_DAYS_PAST"] <= 366


# --- 5. control characters ------------------------------------------------------------------------

CONTROL_CHARACTERS = ["\x00", "\x07", "\x1b[31m", "\x7f", "\x85", "\u202e"]


def every_form_class() -> list[type[FlaskForm]]:
    for module in pkgutil.walk_packages(clinic.__path__, "clinic."):
        importlib.import_module(module.name)
    found: dict[str, type[FlaskForm]] = {}
    pending = list(FlaskForm.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls.__module__.startswith("clinic."):
            found[f"{cls.__module__}.{cls.__qualname__}"] = cls
    return [found[name] for name in sorted(found)]


# What a form needs to be built, for the forms that take more than their data.
FORM_ARGUMENTS: dict[str, Callable[[], Any]] = {
    "item": lambda: ChecklistItem(id=1, label="Driver present", detail_label="Driver's name"),
}


def build_form(cls: type[FlaskForm], **kwargs: Any) -> FlaskForm:
    for name, parameter in inspect.signature(cls.__init__).parameters.items():
        if parameter.kind is parameter.KEYWORD_ONLY and parameter.default is parameter.empty:
            assert name in FORM_ARGUMENTS, f"{cls.__name__} needs {name}=: add it to FORM_ARGUMENTS"
            kwargs[name] = FORM_ARGUMENTS[name]()
    return cls(**kwargs)


def text_fields(form: FlaskForm) -> list[Any]:
    return [field for field in form if isinstance(field, StringField)]


@pytest.mark.parametrize("character", CONTROL_CHARACTERS)
def test_every_text_field_of_every_form_refuses_control_characters(
    app: Flask, character: str
) -> None:
    forms = every_form_class()
    assert len(forms) >= 15
    checked = 0
    for cls in forms:
        with app.test_request_context("/", method="POST"):
            names = [field.name for field in text_fields(build_form(cls, formdata=None))]
        data = MultiDict({name: f"ok{character}ok" for name in names})
        with app.test_request_context("/", method="POST", data=data):
            form = build_form(cls, formdata=data)
            for field in form:
                if getattr(field, "choices", ()) is None:  # filled in by the view
                    field.choices = []
            form.validate()
            for field in text_fields(form):
                # A number field that cannot read the text at all says so instead.
                refused = field.process_errors or [e for e in field.errors if "control" in e]
                assert refused and field.errors, (cls, field.name)
                checked += 1
    assert checked >= 40


def test_text_areas_keep_tabs_and_line_breaks(app: Flask) -> None:
    data = MultiDict({"allergies": "Penicillin\trash\r\nLatex"})
    with app.test_request_context("/", method="POST", data=data):
        from clinic.patients.forms import RegistrationForm

        form = RegistrationForm(formdata=data)
        form.validate()
        assert not form.allergies.errors
        assert form.allergies.data == "Penicillin\trash\r\nLatex"


def test_a_line_break_in_a_single_line_field_is_refused(app: Flask) -> None:
    data = MultiDict({"family_name": "Doe\nSmith"})
    with app.test_request_context("/", method="POST", data=data):
        from clinic.patients.forms import RegistrationForm

        form = RegistrationForm(formdata=data)
        form.validate()
        assert any("control character" in e for e in form.family_name.errors)


@pytest.mark.parametrize("character", ["\x00", "\x1b", "\u202e"])
def test_a_patient_with_a_control_character_is_not_registered(
    client: FlaskClient, login_as: Callable[..., User], character: str
) -> None:
    login_as(Role.NURSE)
    form = {
        "mrn": "CTRL-1",
        "family_name": f"Doe{character}",
        "given_name": "Jane",
        "date_of_birth": "1980-01-02",
        "sex": "female",
        "allergies": f"None{character}",
        "indication": "depression",
    }
    response = client.post("/patients/new", data=form)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "control character" in field_error(html, "family_name")
    assert "control character" in field_error(html, "allergies")
    assert count(Patient) == 0


def test_a_monitoring_note_with_a_nul_is_refused_next_to_it(
    client: FlaskClient, charting: dict[str, Any]
) -> None:
    response = client.post(
        f"/sessions/{charting['session'].id}/monitoring",
        data={"heart_rate": "70", "phase": "during", "note": "calm\x00", "occurred_at": ""},
    )
    assert response.status_code == 422
    assert "control character" in field_error(response.get_data(as_text=True), "note")
    assert count(MonitoringEntry) == 0


def test_a_nul_in_the_patient_search_is_a_message(
    client: FlaskClient, login_as: Callable[..., User]
) -> None:
    login_as(Role.NURSE)
    response = client.post("/patients/", data={"q": "Doe\x00"})
    assert response.status_code == 422
    assert "control character" in field_error(response.get_data(as_text=True), "q")


# --- 8. production settings ----------------------------------------------------------------------


@pytest.fixture
def production_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("SECRET_KEY", "AUDIT_KEY", "CLINIC_ENV", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CLINIC_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", secrets.token_hex(32))
    monkeypatch.setenv("AUDIT_KEY", secrets.token_urlsafe(32))
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://clinic@db-host/clinic")
    monkeypatch.setenv("WEB_CONCURRENCY", "1")  # one worker: in-memory rate limits are whole
    return monkeypatch


def test_production_starts_with_random_keys_and_a_database(
    production_environment: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = build_config(str(tmp_path))
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://clinic@db-host/clinic"


@pytest.mark.parametrize("name", ["SECRET_KEY", "AUDIT_KEY"])
@pytest.mark.parametrize(
    "weak",
    [
        "k" * 32,
        "k" * 64,
        "ab" * 20,
        "0123456789abcdef" * 2,
        "password" * 4,
    ],
)
def test_production_refuses_a_low_entropy_key(
    production_environment: pytest.MonkeyPatch, tmp_path: Path, name: str, weak: str
) -> None:
    production_environment.setenv(name, weak)
    with pytest.raises(ConfigError) as refused:
        build_config(str(tmp_path))
    message = str(refused.value)
    assert name in message and "random" in message and "\n" not in message
    assert weak not in message  # a key is never echoed


def test_production_refuses_the_same_key_twice(
    production_environment: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    key = secrets.token_hex(32)
    production_environment.setenv("SECRET_KEY", key)
    production_environment.setenv("AUDIT_KEY", key)
    with pytest.raises(ConfigError, match="SECRET_KEY and AUDIT_KEY must differ") as refused:
        build_config(str(tmp_path))
    assert key not in str(refused.value)


def test_production_refuses_to_fall_back_to_sqlite(
    production_environment: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    production_environment.delenv("DATABASE_URL")
    with pytest.raises(ConfigError, match="DATABASE_URL must be set"):
        build_config(str(tmp_path))
    assert not list(tmp_path.iterdir())  # no SQLite file made either


def test_development_still_falls_back_to_sqlite(
    production_environment: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    production_environment.setenv("CLINIC_ENV", "development")
    production_environment.delenv("DATABASE_URL")
    config = build_config(str(tmp_path))
    assert config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")


def test_the_wsgi_entry_point_says_so_in_one_line(
    production_environment: pytest.MonkeyPatch,
) -> None:
    production_environment.delenv("DATABASE_URL")
    done = subprocess.run(
        [sys.executable, "-c", "import wsgi"],
        cwd=ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == [
        "clinic: DATABASE_URL must be set in production (no SQLite fallback); "
        "e.g. postgresql+psycopg://clinic:PASSWORD@db-host/clinic"
    ]


# --- 10. patient data out of cookies and titles ---------------------------------------------------


def session_cookie_payload(client: FlaskClient) -> str:
    """The Flask session cookie as anyone holding it can read it (signed, not encrypted)."""
    cookie = client.get_cookie("clinic_session")
    assert cookie is not None
    value = cookie.value
    compressed = value.startswith(".")
    payload = value.lstrip(".").split(".")[0]
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    return (zlib.decompress(raw) if compressed else raw).decode()


def test_the_patient_search_is_not_kept_in_the_session_cookie(
    client: FlaskClient, login_as: Callable[..., User]
) -> None:
    make_patient(family_name="Zyxwabc", mrn="KX-777")
    login_as(Role.NURSE)
    response = client.post("/patients/", data={"q": "zyxwab"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "ZYXWABC" in html and "1 patient match" in html
    payload = session_cookie_payload(client)
    json.loads(payload)  # readable by anyone who holds the cookie
    assert "zyxwab" not in payload.lower()
    # Nor kept elsewhere: the next visit to the list is the whole list, not the search.
    make_patient(family_name="Other", mrn="KX-778")
    listed = client.get("/patients/").get_data(as_text=True)
    assert "OTHER" in listed and "zyxwab" not in listed


@pytest.mark.parametrize("app_config", [{"PATIENTS_PAGE_SIZE": 1}])
def test_the_search_pages_without_a_cookie_or_a_url(
    client: FlaskClient, login_as: Callable[..., User], app_config: dict[str, Any]
) -> None:
    make_patient(family_name="Pagea", mrn="PG-1")
    make_patient(family_name="Pageb", mrn="PG-2")
    make_patient(family_name="Other", mrn="OT-1")
    login_as(Role.NURSE)
    first = client.post("/patients/", data={"q": "page"}).get_data(as_text=True)
    assert "PAGEA" in first and "Page 1 of 2" in first
    assert "q=" not in first  # the search stays out of every URL
    second = client.post("/patients/", data={"q": "page", "page": "2"}).get_data(as_text=True)
    assert "PAGEB" in second and "PAGEA" not in second and "Page 2 of 2" in second
    assert "page" not in session_cookie_payload(client).lower().replace('"_', "")


def test_the_print_title_carries_ids_only(client: FlaskClient, charting: dict[str, Any]) -> None:
    infusion_session = charting["session"]
    patient = _db.session.get(Patient, infusion_session.patient_id)
    html = client.get(f"/sessions/{infusion_session.id}/print").get_data(as_text=True)
    [title] = re.findall(r"<title>(.*?)</title>", html, flags=re.S)
    for name in (patient.family_name, patient.given_name, patient.mrn):
        assert name.lower() not in title.lower()
    assert str(infusion_session.id) in title and str(patient.id) in title


def test_no_page_title_carries_the_patient_name(
    client: FlaskClient, charting: dict[str, Any]
) -> None:
    infusion_session = charting["session"]
    patient = _db.session.get(Patient, infusion_session.patient_id)
    pages = [
        f"/sessions/{infusion_session.id}",
        f"/sessions/{infusion_session.id}/print",
        f"/sessions/{infusion_session.id}/scores/phq9",
        f"/patients/{patient.id}",
        f"/patients/{patient.id}/edit",
    ]
    for path in pages:
        html = client.get(path).get_data(as_text=True)
        [title] = re.findall(r"<title>(.*?)</title>", html, flags=re.S)
        assert patient.family_name.lower() not in title.lower(), path
        assert patient.mrn.lower() not in title.lower(), path


# --- 11. headers ----------------------------------------------------------------------------------


def test_hsts_covers_subdomains_in_production(database_url: str, monkeypatch) -> None:
    monkeypatch.delenv("CLINIC_ENV", raising=False)
    production = clinic.create_app(
        {
            "CLINIC_ENV": "production",
            "SECRET_KEY": BASE_CONFIG["SECRET_KEY"],
            "AUDIT_KEY": BASE_CONFIG["AUDIT_KEY"],
            "SQLALCHEMY_DATABASE_URI": database_url,
            "WEB_CONCURRENCY": 1,
        }
    )
    response = production.test_client().get("/login", base_url="https://localhost")
    hsts = response.headers["Strict-Transport-Security"]
    assert [part.strip() for part in hsts.split(";")] == ["max-age=31536000", "includeSubDomains"]
    with production.app_context():
        _db.engine.dispose()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_gunicorn_sends_no_server_header(tmp_path: Path) -> None:
    """Served as production serves it (`gunicorn wsgi:app` from the repository, which reads
    ./gunicorn.conf.py): no `Server: gunicorn`, on a page and on gunicorn's own error answer."""
    port = _free_port()
    env = {
        **os.environ,
        "CLINIC_ENV": "development",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'clinic.sqlite3'}",
        "SECRET_KEY": uuid.uuid4().hex * 2,
        "AUDIT_KEY": uuid.uuid4().hex * 2,
    }
    process = subprocess.Popen(
        [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "1", "wsgi:app"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        headers = _first_answer(f"http://127.0.0.1:{port}/login", process)
        assert "Server" not in headers, headers.get("Server")
        assert headers["Content-Security-Policy"]  # the app answered, not something else
    finally:
        process.terminate()
        process.wait(timeout=20)


def _first_answer(url: str, process: subprocess.Popen[bytes]) -> Any:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(process.stderr.read().decode() if process.stderr else "exited")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (loopback)
                return response.headers
        except OSError:
            time.sleep(0.2)
    raise AssertionError("gunicorn did not answer within 30 s")
