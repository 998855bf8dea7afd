"""Discharge checklist: done, or not done with a reason; the driver's name when done."""

from __future__ import annotations

import sqlalchemy as sa

from clinic.auth.models import Role
from clinic.sessions.models import (
    ChecklistCompletion,
    ChecklistItem,
    InfusionSession,
    SessionStatus,
)
from clinic.sessions.services.discharge import checklist_rows, record_checklist
from tests.factories import open_session_as
from tests.helpers import audit_actions, input_value


def item(db, code: str) -> ChecklistItem:
    return db.session.scalar(sa.select(ChecklistItem).where(ChecklistItem.code == code))


def completions(db, session_id: int) -> list[ChecklistCompletion]:
    return list(
        db.session.scalars(
            sa.select(ChecklistCompletion)
            .where(ChecklistCompletion.session_id == session_id)
            .order_by(ChecklistCompletion.id)
        )
    )


def post_item(client, session_id: int, checklist_item: ChecklistItem, **fields: str):
    prefix = f"checklist-{checklist_item.id}-"
    data = {prefix + name: value for name, value in fields.items()}
    return client.post(f"/sessions/{session_id}/checklist/{checklist_item.id}", data=data)


def test_chart_lists_active_items_in_position_order(client, db, login_as):
    nurse = login_as(Role.NURSE)
    session_id = open_session_as(nurse).id
    page = client.get(f"/sessions/{session_id}").get_data(as_text=True)
    labels = [
        "Designated driver confirmed",
        "Post-treatment instructions given",
        "Patient alert and oriented",
        "Vital signs near baseline",
    ]
    positions = [page.index(label) for label in labels]
    assert positions == sorted(positions)
    assert "Driver&#39;s name" in page or "Driver's name" in page


def test_not_done_needs_a_reason(client, db, login_as):
    nurse = login_as(Role.NURSE)
    session_id = open_session_as(nurse).id
    instructions = item(db, "instructions_given")
    response = post_item(client, session_id, instructions, status="not_done", note="asked twice")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Give the reason it was not done." in page
    assert 'value="asked twice"' in page  # input kept
    assert completions(db, session_id) == []

    response = post_item(
        client, session_id, instructions, status="not_done", not_done_reason="Patient asleep"
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"#checklist-item-{instructions.id}")
    (completion,) = completions(db, session_id)
    assert (completion.done, completion.not_done_reason) == (False, "Patient asleep")
    assert completion.recorded_by_id == nurse.id


def test_driver_confirmed_needs_the_drivers_name(client, db, login_as):
    nurse = login_as(Role.NURSE, full_name="Nina Nurse")
    session_id = open_session_as(nurse).id
    driver = item(db, "driver_confirmed")
    response = post_item(client, session_id, driver, status="done")
    assert response.status_code == 422
    assert "Enter the driver&#39;s name." in response.get_data(as_text=True)
    assert completions(db, session_id) == []

    assert post_item(client, session_id, driver, status="done", detail="Sam Doe").status_code == 302
    (completion,) = completions(db, session_id)
    assert (completion.done, completion.detail) == (True, "Sam Doe")
    page = client.get(f"/sessions/{session_id}").get_data(as_text=True)
    assert "Sam Doe" in page and "Nina Nurse" in page
    event = audit_actions("checklist_recorded")[0]
    assert event.entity_id == str(completion.id) and event.patient_id is not None


def test_status_is_required(client, db, login_as):
    nurse = login_as(Role.NURSE)
    session_id = open_session_as(nurse).id
    response = post_item(client, session_id, item(db, "alert_oriented"))
    assert response.status_code == 422
    assert "Choose done or not done." in response.get_data(as_text=True)


def test_current_state_is_the_latest_completion_not_voided(client, db, login_as):
    nurse = login_as(Role.NURSE)
    session_id = open_session_as(nurse).id
    vitals = item(db, "vitals_near_baseline")
    post_item(client, session_id, vitals, status="not_done", not_done_reason="BP still high")
    post_item(client, session_id, vitals, status="done")
    first, second = completions(db, session_id)

    def current():
        db.session.expire_all()
        row = next(r for r in checklist_rows(session_id) if r.item.id == vitals.id)
        return row.current

    assert current().id == second.id
    response = client.post(
        f"/sessions/{session_id}/void/checklist/{second.id}", data={"reason": "wrong patient"}
    )
    assert response.status_code == 302
    assert current().id == first.id


def test_unknown_or_inactive_item_is_404(client, db, login_as):
    nurse = login_as(Role.NURSE)
    session_id = open_session_as(nurse).id
    assert client.post(f"/sessions/{session_id}/checklist/9999", data={}).status_code == 404
    retired = item(db, "alert_oriented")
    retired.active = False
    db.session.commit()
    assert post_item(client, session_id, retired, status="done").status_code == 404


def test_double_submitted_checklist_creates_one_completion(client, db, login_as):
    nurse = login_as(Role.NURSE)
    session_id = open_session_as(nurse).id
    alert = item(db, "alert_oriented")
    for _ in range(2):
        response = post_item(client, session_id, alert, status="done", submission_key="k-check")
        assert response.status_code == 302
    assert len(completions(db, session_id)) == 1


def test_signed_session_refuses_checklist(client, db, login_as):
    nurse = login_as(Role.NURSE)
    session_id = open_session_as(nurse).id
    db.session.get(InfusionSession, session_id).status = SessionStatus.SIGNED
    db.session.commit()
    response = post_item(client, session_id, item(db, "alert_oriented"), status="done")
    assert response.status_code == 409
    assert completions(db, session_id) == []


def test_an_item_recorded_meanwhile_by_someone_else_is_not_replaced_unseen(
    client, db, login_as, make_user
):
    nurse = login_as(Role.NURSE)
    session_id = open_session_as(nurse).id
    driver = item(db, "driver_confirmed")
    page = client.get(f"/sessions/{session_id}").get_data(as_text=True)
    shown = input_value(page, f"checklist-{driver.id}-shown_state")
    assert shown == ""
    record_checklist(
        make_user(Role.NURSE), session_id, driver.id, done=True, detail="Sam (partner)"
    )
    db.session.commit()

    response = post_item(
        client, session_id, driver, status="done", detail="Bob (friend)", shown_state=shown
    )

    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Someone else recorded this item" in page and "Sam (partner)" in page
    assert 'value="Bob (friend)"' in page
    assert [c.detail for c in completions(db, session_id)] == ["Sam (partner)"]
    # Seen now: the form carries the current entry, and saving again is deliberate.
    again = post_item(
        client,
        session_id,
        driver,
        status="done",
        detail="Bob (friend)",
        shown_state=input_value(page, f"checklist-{driver.id}-shown_state"),
    )
    assert again.status_code == 302
