"""Voiding: nurses their own entries, clinicians any, admins none; voided entries stay listed."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from clinic.audit.models import AuditEvent
from clinic.auth.models import Role
from clinic.sessions.models import (
    InfusionSession,
    SessionStatus,
)
from tests.conftest import login
from tests.factories import (
    insert_administration,
    insert_infusion_event,
    insert_monitoring,
    insert_pain_score,
    open_session_as,
)
from tests.helpers import audit_actions


def void(client, session_id: int, kind: str, entry_id: int, reason: str = "entered in error"):
    return client.post(f"/sessions/{session_id}/void/{kind}/{entry_id}", data={"reason": reason})


def refreshed(db, entry):
    db.session.expire_all()
    return db.session.get(type(entry), entry.id)


def test_nurse_voids_own_entry_and_it_stays_listed_struck_through(client, db, login_as):
    nurse = login_as(Role.NURSE, full_name="Nina Nurse")
    session_id = open_session_as(nurse).id
    score = insert_pain_score(session_id, nurse.id)
    response = void(client, session_id, "score", score.id, "wrong patient's chart")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"#score-{score.id}")
    score = refreshed(db, score)
    assert score.voided_by_id == nurse.id and score.void_reason == "wrong patient's chart"
    page = client.get(f"/sessions/{session_id}").get_data(as_text=True)
    # Struck through, and marked as the row just changed.
    assert re.search(rf'id="score-{score.id}" class="voided\b', page)
    assert f'data-testid="void-mark-score-{score.id}"' in page
    assert "wrong patient&#39;s chart" in page and "Nina Nurse" in page
    event = audit_actions("entry_voided")[0]
    assert event.entity == "score" and event.entity_id == str(score.id)
    assert "wrong patient's chart" in event.changes
    assert event.patient_id == db.session.get(InfusionSession, session_id).patient_id


def test_nurse_cannot_void_another_persons_entry(client, db, login_as, make_user):
    other = make_user(Role.NURSE)
    nurse = login_as(Role.NURSE)
    session_id = open_session_as(nurse).id
    score = insert_pain_score(session_id, other.id)
    assert void(client, session_id, "score", score.id).status_code == 403
    assert refreshed(db, score).voided_at is None
    page = client.get(f"/sessions/{session_id}").get_data(as_text=True)
    assert f"/void/score/{score.id}" not in page  # no void button offered either
    own = insert_pain_score(session_id, nurse.id)
    page = client.get(f"/sessions/{session_id}").get_data(as_text=True)
    assert f"/void/score/{own.id}" in page


@pytest.mark.parametrize("kind", ["administration", "infusion_event", "monitoring", "score"])
def test_clinician_voids_any_kind_of_entry(client, db, login_as, make_user, kind):
    nurse = make_user(Role.NURSE)
    login_as(Role.CLINICIAN)
    session_id = open_session_as(nurse).id
    administration = insert_administration(session_id, nurse.id)
    entry = {
        "administration": lambda: administration,
        "infusion_event": lambda: insert_infusion_event(administration, nurse.id),
        "monitoring": lambda: insert_monitoring(session_id, nurse.id),
        "score": lambda: insert_pain_score(session_id, nurse.id),
    }[kind]()
    assert void(client, session_id, kind, entry.id).status_code == 302
    assert refreshed(db, entry).void_reason == "entered in error"


def test_admin_cannot_void(client, db, make_user):
    nurse = make_user(Role.NURSE)
    admin = make_user(Role.ADMIN)
    session_id = open_session_as(nurse).id
    score = insert_pain_score(session_id, nurse.id)
    login(client, admin.username)
    assert void(client, session_id, "score", score.id).status_code == 403
    assert refreshed(db, score).voided_at is None


def test_void_needs_a_reason(client, db, login_as):
    nurse = login_as(Role.NURSE)
    session_id = open_session_as(nurse).id
    score = insert_pain_score(session_id, nurse.id)
    response = void(client, session_id, "score", score.id, reason="  ")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Give the reason for voiding." in page
    assert 'id="reason"' in page and 'aria-invalid="true"' in page
    assert refreshed(db, score).voided_at is None


def test_void_of_unknown_kind_or_other_sessions_entry_is_404(client, db, login_as):
    clinician = login_as(Role.CLINICIAN)
    session_id = open_session_as(clinician).id
    other_session_id = open_session_as(clinician).id
    score = insert_pain_score(other_session_id, clinician.id)
    assert void(client, session_id, "score", score.id).status_code == 404
    assert void(client, session_id, "patient", score.id).status_code == 404
    assert void(client, session_id, "score", 9999).status_code == 404


def test_voiding_twice_keeps_the_first_void(client, db, login_as):
    nurse = login_as(Role.NURSE)
    session_id = open_session_as(nurse).id
    score = insert_pain_score(session_id, nurse.id)
    void(client, session_id, "score", score.id, "first")
    assert void(client, session_id, "score", score.id, "second").status_code == 302
    assert refreshed(db, score).void_reason == "first"
    actions = db.session.scalars(
        sa.select(AuditEvent.action).where(AuditEvent.action == "entry_voided")
    ).all()
    assert len(actions) == 1


def test_signed_session_refuses_void(client, db, login_as):
    clinician = login_as(Role.CLINICIAN)
    session_id = open_session_as(clinician).id
    score = insert_pain_score(session_id, clinician.id)
    db.session.get(InfusionSession, session_id).status = SessionStatus.SIGNED
    db.session.commit()
    response = void(client, session_id, "score", score.id)
    assert response.status_code == 409
    assert refreshed(db, score).voided_at is None


def test_void_page_names_the_entry_and_asks_the_reason(client, db, login_as):
    nurse = login_as(Role.NURSE)
    session_id = open_session_as(nurse).id
    score = insert_pain_score(session_id, nurse.id)

    response = client.get(f"/sessions/{session_id}/void/score/{score.id}")

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Pain NRS" in page and "Reason for voiding" in page
    assert refreshed(db, score).voided_at is None  # looking is not voiding


def test_chart_links_to_the_void_page_only_for_entries_the_user_may_void(
    client, db, login_as, make_user
):
    nurse = login_as(Role.NURSE)
    session_id = open_session_as(nurse).id
    own = insert_pain_score(session_id, nurse.id)
    other = insert_pain_score(session_id, make_user(Role.NURSE).id)

    page = client.get(f"/sessions/{session_id}").get_data(as_text=True)

    assert f"/sessions/{session_id}/void/score/{own.id}" in page
    assert f"/sessions/{session_id}/void/score/{other.id}" not in page
    assert client.get(f"/sessions/{session_id}/void/score/{other.id}").status_code == 403


def test_opening_the_void_page_is_an_audited_view_of_the_session(client, db, login_as):
    nurse = login_as(Role.NURSE)
    session_id = open_session_as(nurse).id
    score = insert_pain_score(session_id, nurse.id)

    client.get(f"/sessions/{session_id}/void/score/{score.id}")

    [event] = audit_actions("session_viewed")
    assert (event.actor_id, event.entity_id) == (nurse.id, str(session_id))
