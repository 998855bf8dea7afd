"""Sign-off, the content digest, the lock it puts on the session, cancelling, addenda, printing."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from clinic.auth.models import Role, SignInThrottle, ThrottleScope
from clinic.clinic_time import local_now
from clinic.extensions import db as _db
from clinic.sessions.digest import content_digest
from clinic.sessions.guards import SessionLockedError
from clinic.sessions.models import (
    Addendum,
    Administration,
    ChecklistItem,
    InfusionSession,
    MonitoringEntry,
    Score,
    ScoreTiming,
    SessionStatus,
    Signature,
)
from clinic.sessions.services.discharge import record_checklist
from clinic.sessions.services.scores import record_pain
from clinic.sessions.services.signoff import sign_session
from tests.conftest import PASSWORD, login
from tests.factories import (
    complete_checklist,
    insert_administration,
    insert_monitoring,
    insert_pain_score,
    open_session_as,
)
from tests.helpers import audit_actions, local_minutes_ago
from tests.second_factor_codes import code_of_client, fresh_code
from tests.test_checklist import completions, item, post_item
from tests.test_scores import pain_data

REQUIRED_LABELS = [
    "Designated driver confirmed",
    "Post-treatment instructions given",
    "Patient alert and oriented",
    "Vital signs near baseline",
]


def ready_session(client, db, user) -> int:
    """A session that may be signed: checklist complete, one administration."""
    infusion_session = open_session_as(user)
    complete_checklist(infusion_session, user)
    insert_administration(infusion_session.id, user.id)
    return infusion_session.id


def sign(client, session_id: int, password: str = PASSWORD, code: str | None = None):
    """Post the sign form with the password and (unless given) a fresh code of the signer."""
    code = code_of_client(client) if code is None else code
    return client.post(f"/sessions/{session_id}/sign", data={"password": password, "code": code})


def status(db, session_id: int) -> SessionStatus:
    db.session.expire_all()
    return db.session.get(InfusionSession, session_id).status


# --- refusals --------------------------------------------------------------------------------


def test_sign_off_refused_listing_what_is_missing(client, db, login_as):
    clinician = login_as(Role.CLINICIAN)
    infusion_session = open_session_as(clinician)
    session_id = infusion_session.id
    response = sign(client, session_id)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'data-testid="sign-problems"' in page
    for label in REQUIRED_LABELS:
        assert f"checklist: {label}" in page
    assert "at least one administration" in page
    assert status(db, session_id) == SessionStatus.IN_PROGRESS

    complete_checklist(infusion_session, clinician)
    page = sign(client, session_id).get_data(as_text=True)
    assert "checklist:" not in page and "at least one administration" in page
    assert db.session.scalar(sa.select(Signature)) is None


def test_voided_administration_does_not_count(client, db, login_as):
    clinician = login_as(Role.CLINICIAN)
    session_id = ready_session(client, db, clinician)
    administration_id = db.session.scalar(sa.select(Administration.id))
    client.post(
        f"/sessions/{session_id}/void/administration/{administration_id}",
        data={"reason": "wrong session"},
    )
    assert sign(client, session_id).status_code == 422
    assert status(db, session_id) == SessionStatus.IN_PROGRESS


def test_not_done_with_reason_completes_an_item(client, db, login_as):
    clinician = login_as(Role.CLINICIAN)
    session_id = open_session_as(clinician).id
    insert_administration(session_id, clinician.id)
    for checklist_item in db.session.scalars(sa.select(ChecklistItem)).all():
        post_item(
            client, session_id, checklist_item, status="not_done", not_done_reason="transfer to ED"
        )
    assert sign(client, session_id).status_code == 302
    assert status(db, session_id) == SessionStatus.SIGNED


def test_sign_off_refused_with_a_wrong_password(client, db, login_as):
    clinician = login_as(Role.CLINICIAN)
    session_id = ready_session(client, db, clinician)
    response = sign(client, session_id, "not-my-password-at-all")
    assert response.status_code == 422
    assert "The password is not correct" in response.get_data(as_text=True)
    assert status(db, session_id) == SessionStatus.IN_PROGRESS
    assert db.session.scalar(sa.select(Signature)) is None
    failed = audit_actions("signature_failed")[0]
    assert failed.actor_id == clinician.id and failed.entity_id == str(session_id)


def test_five_wrong_passwords_at_sign_off_hold_her_sign_in_and_sign_out(client, db, login_as):
    clinician = login_as(Role.CLINICIAN)
    session_id = ready_session(client, db, clinician)

    for _ in range(5):
        assert sign(client, session_id, "not-the-password-at-all").status_code == 422

    db.session.expire_all()
    [held] = db.session.scalars(
        sa.select(SignInThrottle).where(SignInThrottle.scope == ThrottleScope.REAUTH)
    ).all()
    assert held.user_id == clinician.id and held.held_until is not None
    assert status(db, session_id) == SessionStatus.IN_PROGRESS
    assert client.get(f"/sessions/{session_id}").status_code == 302  # signed out
    assert login(client, clinician.username).status_code == 200  # held, even on her device


def test_nurse_cannot_sign(client, db, login_as):
    nurse = login_as(Role.NURSE)
    session_id = ready_session(client, db, nurse)
    page = client.get(f"/sessions/{session_id}").get_data(as_text=True)
    assert 'data-testid="sign-clinicians-only"' in page
    assert f"/sessions/{session_id}/sign" not in page
    assert sign(client, session_id).status_code == 403
    assert status(db, session_id) == SessionStatus.IN_PROGRESS


def test_nurse_cannot_sign_through_the_service(db, make_user):
    nurse = make_user(Role.NURSE)
    session_id = open_session_as(nurse).id
    with pytest.raises(PermissionError):
        sign_session(nurse, session_id, PASSWORD, "")


# --- signing and the digest ------------------------------------------------------------------


def test_sign_off_succeeds_and_stores_a_verified_digest(client, db, login_as):
    clinician = login_as(Role.CLINICIAN, full_name="Cora Clinician", credentials="MD")
    session_id = ready_session(client, db, clinician)
    response = sign(client, session_id)
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/sessions/{session_id}#sign-off")
    signature = db.session.scalar(sa.select(Signature))
    assert (signature.signer_id, signature.signer_name, signature.signer_credentials) == (
        clinician.id,
        "Cora Clinician",
        "MD",
    )
    assert signature.meaning == "Reviewed and signed"
    assert len(signature.content_digest) == 64
    assert signature.content_digest == content_digest(session_id)
    assert status(db, session_id) == SessionStatus.SIGNED
    event = audit_actions("session_signed")[0]
    assert signature.content_digest in event.changes

    page = client.get(f"/sessions/{session_id}").get_data(as_text=True)
    assert "Reviewed and signed" in page and "Cora Clinician" in page
    assert 'data-testid="signature-match"' in page
    assert signature.signed_at.astimezone(local_now().tzinfo).strftime("%Y-%m-%d %H:%M") in page
    printed = client.get(f"/sessions/{session_id}/print").get_data(as_text=True)
    assert 'data-testid="signature-match"' in printed and signature.content_digest in printed


def test_digest_covers_voided_entries_and_ignores_addenda(client, db, login_as):
    clinician = login_as(Role.CLINICIAN)
    session_id = ready_session(client, db, clinician)
    score = insert_pain_score(session_id, clinician.id)
    before = content_digest(session_id)
    client.post(f"/sessions/{session_id}/void/score/{score.id}", data={"reason": "duplicate"})
    voided = content_digest(session_id)
    assert voided != before
    sign(client, session_id)
    client.post(
        f"/sessions/{session_id}/addenda",
        data={"addendum-text": "late note", "addendum-reason": "recall"},
    )
    assert db.session.scalar(sa.select(Addendum)) is not None
    assert content_digest(session_id) == voided


@pytest.mark.parametrize("table", ["monitoring_entry", "infusion_session", "checklist_completion"])
def test_record_altered_in_the_database_no_longer_matches(client, db, login_as, table):
    clinician = login_as(Role.CLINICIAN)
    session_id = ready_session(client, db, clinician)
    entry = insert_monitoring(session_id, clinician.id)
    assert sign(client, session_id).status_code == 302
    statement = {
        "monitoring_entry": f"UPDATE monitoring_entry SET heart_rate = 140 WHERE id = {entry.id}",
        "infusion_session": f"UPDATE infusion_session SET route = 'im' WHERE id = {session_id}",
        "checklist_completion": "UPDATE checklist_completion SET detail = 'Someone else'",
    }[table]
    db.session.execute(sa.text(statement))
    db.session.commit()
    page = client.get(f"/sessions/{session_id}").get_data(as_text=True)
    assert 'data-testid="signature-mismatch"' in page
    assert 'data-testid="signature-match"' not in page
    printed = client.get(f"/sessions/{session_id}/print").get_data(as_text=True)
    assert 'data-testid="signature-mismatch"' in printed


def test_rewriting_an_entry_and_the_signature_digest_together_is_still_detected(
    client, db, login_as
):
    clinician = login_as(Role.CLINICIAN)
    session_id = ready_session(client, db, clinician)
    entry = insert_monitoring(session_id, clinician.id)
    assert sign(client, session_id).status_code == 302

    db.session.execute(
        sa.text(f"UPDATE monitoring_entry SET heart_rate = 140 WHERE id = {entry.id}")
    )
    db.session.execute(
        sa.text("UPDATE signature SET content_digest = :digest"),
        {"digest": content_digest(session_id)},
    )
    db.session.commit()

    page = client.get(f"/sessions/{session_id}").get_data(as_text=True)
    assert 'data-testid="signature-mismatch"' in page


@pytest.mark.parametrize(
    "forgery",
    [
        "signer_name = 'Dr Someone Else'",
        "signer_credentials = 'PhD'",
        "meaning = 'Approved'",
        "signed_at = signed_at - interval '1 day'",
        "signer_id = {other}",
    ],
)
def test_a_forged_signer_meaning_or_time_no_longer_matches(
    client, db, login_as, make_user, forgery
):
    clinician = login_as(Role.CLINICIAN)
    other = make_user(Role.CLINICIAN)
    session_id = ready_session(client, db, clinician)
    assert sign(client, session_id).status_code == 302
    page = client.get(f"/sessions/{session_id}").get_data(as_text=True)
    assert 'data-testid="signature-match"' in page

    if "interval" in forgery and db.engine.dialect.name == "sqlite":
        forgery = "signed_at = datetime(signed_at, '-1 day')"
    db.session.execute(sa.text(f"UPDATE signature SET {forgery.format(other=other.id)}"))
    db.session.commit()

    page = client.get(f"/sessions/{session_id}").get_data(as_text=True)
    assert 'data-testid="signature-mismatch"' in page
    assert 'data-testid="signature-match"' not in page


@pytest.mark.parametrize(
    "table", ["patient", "infusion_session", "monitoring_entry", "signature", "addendum"]
)
def test_the_database_refuses_to_delete_clinical_rows(client, db, login_as, table):
    clinician = login_as(Role.CLINICIAN)
    session_id = ready_session(client, db, clinician)
    insert_monitoring(session_id, clinician.id)
    assert sign(client, session_id).status_code == 302
    client.post(
        f"/sessions/{session_id}/addenda",
        data={"addendum-text": "late note", "addendum-reason": "recall"},
    )

    with pytest.raises(sa.exc.DBAPIError, match="never deleted"):
        db.session.execute(sa.text(f"DELETE FROM {table}"))
    db.session.rollback()


def test_cancelled_session_can_be_signed_without_administration(client, db, login_as):
    clinician = login_as(Role.CLINICIAN)
    infusion_session = open_session_as(clinician)
    session_id = infusion_session.id
    complete_checklist(infusion_session, clinician)
    response = client.post(f"/sessions/{session_id}/cancel", data={"cancel_reason": " "})
    assert response.status_code == 422
    assert "Give the reason for cancelling." in response.get_data(as_text=True)
    response = client.post(
        f"/sessions/{session_id}/cancel", data={"cancel_reason": "BP 190/110 at baseline"}
    )
    assert response.status_code == 302
    infusion_session = db.session.get(InfusionSession, session_id)
    assert infusion_session.status == SessionStatus.CANCELLED
    assert infusion_session.cancel_reason == "BP 190/110 at baseline"
    assert infusion_session.cancelled_at is not None
    assert audit_actions("session_cancelled")
    page = client.get(f"/sessions/{session_id}").get_data(as_text=True)
    assert "BP 190/110 at baseline" in page
    assert sign(client, session_id).status_code == 302
    assert status(db, session_id) == SessionStatus.SIGNED


# --- a signed session takes nothing but addenda ----------------------------------------------


@pytest.fixture
def signed_session(client, db, login_as):
    clinician = login_as(Role.CLINICIAN)
    session_id = ready_session(client, db, clinician)
    score = insert_pain_score(session_id, clinician.id)
    assert sign(client, session_id).status_code == 302
    return session_id, score.id


def test_signed_session_refuses_every_change(client, db, signed_session):
    session_id, score_id = signed_session
    alert = item(db, "alert_oriented")
    count_before = len(completions(db, session_id))
    posts = [
        (
            f"/sessions/{session_id}/scores/pain",
            pain_data("2"),
        ),
        (f"/sessions/{session_id}/checklist/{alert.id}", {f"checklist-{alert.id}-status": "done"}),
        (f"/sessions/{session_id}/void/score/{score_id}", {"reason": "after signing"}),
        (f"/sessions/{session_id}/cancel", {"cancel_reason": "after signing"}),
        (
            f"/sessions/{session_id}/monitoring",
            {"heart_rate": "80", "phase": "recovery", "occurred_at": local_minutes_ago()},
        ),
        (f"/sessions/{session_id}/sign", {"password": PASSWORD}),
    ]
    for url, data in posts:
        response = client.post(url, data=data)
        assert response.status_code == 409, url
        assert "signed" in response.get_data(as_text=True)
    db.session.expire_all()
    assert len(db.session.scalars(sa.select(Score)).all()) == 1
    assert db.session.get(Score, score_id).voided_at is None
    assert len(completions(db, session_id)) == count_before
    assert db.session.scalars(sa.select(MonitoringEntry)).all() == []
    assert db.session.get(InfusionSession, session_id).cancelled_at is None
    assert len(db.session.scalars(sa.select(Signature)).all()) == 1
    page = client.get(f"/sessions/{session_id}").get_data(as_text=True)
    assert "/void/" not in page and "/scores/pain" not in page


def test_signature_landing_after_the_form_loaded_refuses_the_post(client, db, make_user):
    nurse = make_user(Role.NURSE)
    clinician = make_user(Role.CLINICIAN)
    login(client, nurse.username)
    session_id = ready_session(client, db, nurse)
    page = client.get(f"/sessions/{session_id}").get_data(as_text=True)
    assert f"/sessions/{session_id}/scores/pain" in page  # the nurse has the form open
    sign_session(clinician, session_id, PASSWORD, fresh_code(clinician))  # the clinician signs
    db.session.commit()
    data = pain_data("3")
    response = client.post(f"/sessions/{session_id}/scores/pain", data=data)
    assert response.status_code == 409
    assert "signed and locked" in response.get_data(as_text=True)
    assert db.session.scalars(sa.select(Score)).all() == []


def test_sign_off_racing_a_score_post_serialises_on_the_session_row(app, db, make_user):
    """Two connections: the score's transaction waits for the signature, then is refused."""
    nurse = make_user(Role.NURSE)
    clinician = make_user(Role.CLINICIAN)
    session_id = open_session_as(clinician).id
    insert_administration(session_id, clinician.id)
    for checklist_item in db.session.scalars(sa.select(ChecklistItem)).all():
        record_checklist(clinician, session_id, checklist_item.id, done=True, detail="Sam Doe")
    db.session.commit()
    nurse_id = nurse.id
    outcome: dict[str, object] = {}

    def nurse_posts() -> None:
        with app.app_context():
            try:
                record_pain(
                    _db.session.get(type(nurse), nurse_id),
                    session_id,
                    timing=ScoreTiming.AFTER,
                    occurred_at=local_now() - timedelta(minutes=1),
                    score=3,
                )
                _db.session.commit()
                outcome["result"] = "stored"
            except SessionLockedError:
                _db.session.rollback()
                outcome["result"] = "refused"
            finally:
                _db.session.remove()

    sign_session(clinician, session_id, PASSWORD, fresh_code(clinician))  # holds the row lock
    thread = threading.Thread(target=nurse_posts)
    thread.start()
    time.sleep(0.5)
    assert thread.is_alive(), "the score post must wait for the signing transaction"
    db.session.commit()
    thread.join(timeout=30)
    assert outcome["result"] == "refused"
    db.session.expire_all()
    assert db.session.scalars(sa.select(Score)).all() == []


# --- addenda ---------------------------------------------------------------------------------


def test_addendum_only_on_signed_sessions(client, db, login_as):
    nurse = login_as(Role.NURSE)
    session_id = open_session_as(nurse).id
    data = {"addendum-text": "Patient called back", "addendum-reason": "follow-up"}
    response = client.post(f"/sessions/{session_id}/addenda", data=data)
    assert response.status_code == 422
    assert db.session.scalar(sa.select(Addendum)) is None


def test_addendum_on_signed_session_by_nurse_shown_with_author(client, db, make_user):
    clinician = make_user(Role.CLINICIAN)
    nurse = make_user(Role.NURSE, full_name="Nina Nurse")
    login(client, clinician.username)
    session_id = ready_session(client, db, clinician)
    assert sign(client, session_id).status_code == 302
    client.post("/logout")
    login(client, nurse.username)
    response = client.post(
        f"/sessions/{session_id}/addenda", data={"addendum-text": "", "addendum-reason": "x"}
    )
    assert response.status_code == 422
    assert "Write the addendum." in response.get_data(as_text=True)
    data = {
        "addendum-text": "Patient called: home safely",
        "addendum-reason": "follow-up",
        "addendum-submission_key": "k1",
    }
    for _ in range(2):  # a double tap stores one addendum
        response = client.post(f"/sessions/{session_id}/addenda", data=data)
        assert response.status_code == 302
        assert response.headers["Location"].endswith("#addenda")
    (addendum,) = db.session.scalars(sa.select(Addendum)).all()
    assert (addendum.author_id, addendum.reason) == (nurse.id, "follow-up")
    page = client.get(f"/sessions/{session_id}").get_data(as_text=True)
    assert "Patient called: home safely" in page and "Nina Nurse" in page
    assert audit_actions("addendum_added")
    printed = client.get(f"/sessions/{session_id}/print").get_data(as_text=True)
    assert "Patient called: home safely" in printed


# --- the print page --------------------------------------------------------------------------


def test_print_page_shows_the_whole_record_and_is_audited(client, db, login_as):
    nurse = login_as(Role.NURSE)
    session_id = ready_session(client, db, nurse)
    score = insert_pain_score(session_id, nurse.id, total=6)
    client.post(f"/sessions/{session_id}/void/score/{score.id}", data={"reason": "duplicate"})
    response = client.get(f"/sessions/{session_id}/print")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    for text in (
        "Administrations",
        "Monitoring",
        "Scores",
        "Discharge checklist",
        "Signature",
        "Addenda",
        "Ketamine hydrochloride",
        "Sam Doe",
        "Voided by",
        "duplicate",
        "Not signed",
    ):
        assert text in page, text
    assert "<form" not in page
    event = audit_actions("session_printed")[0]
    assert event.entity_id == str(session_id) and event.actor_id == nurse.id


# --- who may use each route ------------------------------------------------------------------

ROUTES = [
    ("GET", "/sessions/{id}/print", {Role.NURSE, Role.CLINICIAN}),
    ("POST", "/sessions/{id}/scores/phq9", {Role.NURSE, Role.CLINICIAN}),
    ("POST", "/sessions/{id}/scores/pain", {Role.NURSE, Role.CLINICIAN}),
    ("POST", "/sessions/{id}/checklist/1", {Role.NURSE, Role.CLINICIAN}),
    ("POST", "/sessions/{id}/cancel", {Role.NURSE, Role.CLINICIAN}),
    ("POST", "/sessions/{id}/void/score/1", {Role.NURSE, Role.CLINICIAN}),
    ("POST", "/sessions/{id}/sign", {Role.CLINICIAN}),
    ("POST", "/sessions/{id}/addenda", {Role.NURSE, Role.CLINICIAN}),
]


@pytest.mark.parametrize(("method", "url", "allowed"), ROUTES)
@pytest.mark.parametrize("role", [None, Role.NURSE, Role.CLINICIAN, Role.ADMIN])
def test_role_matrix(client, db, make_user, method, url, allowed, role):
    owner = make_user(Role.CLINICIAN)
    session_id = open_session_as(owner).id
    url = url.format(id=session_id)
    if role is not None:
        login(client, make_user(role).username)
    response = client.open(url, method=method, data={})
    if role is None:
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    elif role in allowed:
        assert response.status_code not in (302, 403), (role, url)
    else:
        assert response.status_code == 403, (role, url)
    if role not in allowed:
        db.session.expire_all()
        assert db.session.scalars(sa.select(Score)).all() == []
        assert status(db, session_id) == SessionStatus.IN_PROGRESS
