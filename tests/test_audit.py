"""The audit trail: HMAC chain, append-only triggers, concurrent appends, the admin viewer."""

from __future__ import annotations

import hashlib
import threading
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from clinic.audit import services as audit_services
from clinic.audit.models import AuditChainHead, AuditEvent
from clinic.audit.services import canonical_json, record_audit_event, verify_chain
from clinic.auth.models import Role

# --- helpers ----------------------------------------------------------------------------------


def record(db, count: int, **fields) -> list[int]:
    ids = []
    for number in range(count):
        event = record_audit_event(
            actor_id=fields.get("actor_id"),
            action=fields.get("action", "test_event"),
            entity=fields.get("entity", "thing"),
            entity_id=fields.get("entity_id", number),
            patient_id=fields.get("patient_id"),
            changes=fields.get("changes", {"n": number}),
        )
        ids.append(event.id)
    db.session.commit()
    return ids


def sql(db, statement: str, **params) -> None:
    db.session.execute(sa.text(statement), params)
    db.session.commit()


def drop_append_only_triggers(db) -> None:
    """What an attacker with write access to the database (but not the key) would do first."""
    if db.engine.dialect.name == "postgresql":
        sql(db, "DROP TRIGGER audit_event_no_update_or_delete ON audit_event")
    else:
        sql(db, "DROP TRIGGER audit_event_no_update")
        sql(db, "DROP TRIGGER audit_event_no_delete")


def stored_hash(db, event_id: int) -> str:
    return db.session.scalar(sa.select(AuditEvent.hash).where(AuditEvent.id == event_id))


def verify(runner):
    return runner.invoke(args=["audit", "verify"])


def assert_broken_at(runner, event_id: int) -> None:
    result = verify(runner)
    assert result.exit_code == 1, result.output
    assert f"BROKEN at event {event_id}:" in result.output


def keyless_hash(prev_hash: str, content: dict) -> str:
    """The best an attacker without AUDIT_KEY can do: the same recipe, no key."""
    return hashlib.sha256((prev_hash + canonical_json(content)).encode()).hexdigest()


# --- recording and verifying ------------------------------------------------------------------


def test_recorded_events_chain_and_verify(db):
    ids = record(db, 3)
    assert ids == [1, 2, 3]
    events = db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id)).all()
    assert events[0].prev_hash == "0" * 64
    assert events[1].prev_hash == events[0].hash
    assert events[2].prev_hash == events[1].hash
    result = verify_chain()
    assert result.ok and result.checked == 3


def test_empty_trail_verifies(db):
    assert verify_chain().ok


def test_event_rolls_back_with_the_callers_transaction(db):
    record(db, 1)
    record_audit_event(actor_id=None, action="never_committed", entity="thing")
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) == 1
    assert record(db, 1) == [2]
    assert verify_chain().ok


def test_verify_leaves_the_callers_objects_usable(db, make_user):
    user = make_user(Role.NURSE)  # committed, so its attributes reload on next access
    record(db, 2)
    assert verify_chain().ok
    assert user.username  # still in the session: not detached by the verification


def test_cli_verify_exits_0_when_intact(db, runner):
    record(db, 3)
    result = verify(runner)
    assert result.exit_code == 0, result.output
    assert "intact: 3 events verified" in result.output


def test_cli_verify_detects_an_edited_event(db, runner):
    record(db, 5)
    drop_append_only_triggers(db)
    sql(db, "UPDATE audit_event SET changes = :c WHERE id = 3", c='{"n":99}')
    assert_broken_at(runner, 3)


def test_cli_verify_detects_an_event_rehashed_without_the_key(db, runner):
    record(db, 5)
    drop_append_only_triggers(db)
    event = db.session.get(AuditEvent, 3)
    content = audit_services._event_content(event) | {"changes": '{"n":99}'}
    forged = keyless_hash(event.prev_hash, content)
    sql(db, "UPDATE audit_event SET changes = :c, hash = :h WHERE id = 3", c='{"n":99}', h=forged)
    sql(db, "UPDATE audit_event SET prev_hash = :h WHERE id = 4", h=forged)
    assert_broken_at(runner, 3)


def test_cli_verify_detects_an_inserted_event(db, runner):
    record(db, 5)
    drop_append_only_triggers(db)
    # Make room at id 3 (two steps so that no id collides), then slip a forged event in.
    sql(db, "UPDATE audit_event SET id = id + 1000 WHERE id >= 3")
    sql(db, "UPDATE audit_event SET id = id - 999 WHERE id >= 1000")
    prev = stored_hash(db, 2)
    sql(
        db,
        "INSERT INTO audit_event (id, occurred_at, action, entity, changes, prev_hash, hash) "
        "VALUES (3, :at, 'forged', 'thing', '{}', :prev, :hash)",
        at=datetime(2025, 1, 1, tzinfo=UTC).replace(tzinfo=None),
        prev=prev,
        hash=keyless_hash(prev, {"action": "forged"}),
    )
    assert_broken_at(runner, 3)


def test_cli_verify_detects_an_event_appended_without_the_key(db, runner):
    record(db, 3)
    prev = stored_hash(db, 3)
    # No trigger forbids INSERT: appending is what the app does.
    sql(
        db,
        "INSERT INTO audit_event (id, occurred_at, action, entity, changes, prev_hash, hash) "
        "VALUES (4, :at, 'forged', 'thing', '{}', :prev, :hash)",
        at=datetime(2025, 1, 1),
        prev=prev,
        hash=keyless_hash(prev, {"action": "forged"}),
    )
    assert_broken_at(runner, 4)


def test_cli_verify_detects_an_event_deleted_from_the_middle(db, runner):
    record(db, 5)
    drop_append_only_triggers(db)
    sql(db, "DELETE FROM audit_event WHERE id = 3")
    assert_broken_at(runner, 3)


def test_cli_verify_detects_a_deletion_with_renumbering(db, runner):
    record(db, 5)
    drop_append_only_triggers(db)
    sql(db, "DELETE FROM audit_event WHERE id = 3")
    sql(db, "UPDATE audit_event SET id = id + 1000 WHERE id > 3")
    sql(db, "UPDATE audit_event SET id = id - 1001 WHERE id > 1000")
    assert_broken_at(runner, 3)


def test_cli_verify_detects_a_cut_off_tail(db, runner):
    record(db, 5)
    drop_append_only_triggers(db)
    sql(db, "DELETE FROM audit_event WHERE id > 3")
    assert_broken_at(runner, 4)


def test_cli_verify_detects_a_cut_off_tail_with_the_head_moved_back(db, runner):
    record(db, 5)
    drop_append_only_triggers(db)
    third = stored_hash(db, 3)
    sql(db, "DELETE FROM audit_event WHERE id > 3")
    sql(db, "UPDATE audit_chain_head SET last_event_id = 3, last_hash = :h", h=third)
    assert_broken_at(runner, 4)


def test_verification_depends_on_the_key(app, db, runner):
    record(db, 2)
    app.config["AUDIT_KEY"] = "another-key-that-is-long-enough-000000000000"
    assert_broken_at(runner, 1)


# --- append-only triggers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit_event SET action = 'changed' WHERE id = 1", "DELETE FROM audit_event"],
)
def test_database_refuses_update_and_delete_of_audit_events(db, statement):
    record(db, 2)
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        db.session.execute(sa.text(statement))
    db.session.rollback()
    assert db.session.scalar(sa.select(AuditEvent.action).where(AuditEvent.id == 1)) == "test_event"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) == 2


# --- concurrency ------------------------------------------------------------------------------

THREADS = 10
EVENTS_PER_THREAD = 5


def test_concurrent_appends_keep_one_chain(app, db):
    db.session.commit()
    db.session.close()  # hold no lock while the threads run
    barrier = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def append(worker: int) -> None:
        try:
            with app.app_context():
                barrier.wait(timeout=30)
                for number in range(EVENTS_PER_THREAD):
                    record_audit_event(
                        actor_id=None,
                        action="concurrent",
                        entity="thing",
                        entity_id=f"{worker}-{number}",
                    )
                    db.session.commit()
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=append, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    total = THREADS * EVENTS_PER_THREAD
    ids = db.session.scalars(sa.select(AuditEvent.id).order_by(AuditEvent.id)).all()
    assert ids == list(range(1, total + 1))
    entity_ids = db.session.scalars(sa.select(AuditEvent.entity_id)).all()
    assert len(set(entity_ids)) == total
    head = db.session.get(AuditChainHead, 1)
    assert head.last_event_id == total
    result = verify_chain()
    assert result.ok and result.checked == total, result


# --- the viewer -------------------------------------------------------------------------------


def table_rows(page: str) -> str:
    return page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]


def listed_actions(client, **params) -> list[str]:
    response = client.get("/audit/", query_string=params)
    assert response.status_code == 200
    rows = table_rows(response.get_data(as_text=True))
    return [cell.split("</td>", 1)[0] for cell in rows.split("<td>")[1:] if cell.startswith("x_")]


def test_viewer_is_admin_only(client, login_as):
    login_as(Role.CLINICIAN)
    assert client.get("/audit/").status_code == 403


def test_viewer_lists_newest_first(client, login_as, db):
    login_as(Role.ADMIN)
    for action in ("x_first", "x_second", "x_third"):
        record(db, 1, action=action)
    assert listed_actions(client) == ["x_third", "x_second", "x_first"]


@pytest.mark.parametrize("app_config", [{"AUDIT_PAGE_SIZE": 2}])
def test_viewer_is_paginated(client, login_as, db, app_config):
    login_as(Role.ADMIN)  # records staff_created, second_factor_enrolled and login: 1 to 3
    for action in ("x_1", "x_2", "x_3", "x_4"):
        record(db, 1, action=action)
    assert listed_actions(client) == ["x_4", "x_3"]
    assert listed_actions(client, page=2) == ["x_2", "x_1"]
    assert listed_actions(client, page=3) == []
    page = client.get("/audit/", query_string={"page": 2}).get_data(as_text=True)
    assert "Page 2 of 4" in page


@pytest.mark.parametrize("app_config", [{"AUDIT_PAGE_SIZE": 1}])
def test_pagination_keeps_the_filters(client, login_as, db, app_config):
    login_as(Role.ADMIN)
    record(db, 2, action="x_kept")
    page = client.get("/audit/", query_string={"action": "x_kept"}).get_data(as_text=True)
    assert "action=x_kept" in page and "page=2" in page


def test_viewer_filters_by_user(client, login_as, make_user, db):
    admin = login_as(Role.ADMIN)
    nurse = make_user(Role.NURSE)
    record(db, 1, action="x_by_nurse", actor_id=nurse.id)
    record(db, 1, action="x_by_admin", actor_id=admin.id)
    assert listed_actions(client, user=nurse.id) == ["x_by_nurse"]
    assert listed_actions(client, user=admin.id) == ["x_by_admin"]


def test_viewer_filters_by_action(client, login_as, db):
    login_as(Role.ADMIN)
    record(db, 2, action="x_wanted")
    record(db, 1, action="x_other")
    assert listed_actions(client, action="x_wanted") == ["x_wanted", "x_wanted"]


def test_viewer_filters_by_patient(client, login_as, db):
    login_as(Role.ADMIN)
    record(db, 1, action="x_patient_7", patient_id=7)
    record(db, 1, action="x_patient_8", patient_id=8)
    assert listed_actions(client, patient=7) == ["x_patient_7"]


def test_viewer_filters_by_local_date(client, login_as, db, monkeypatch):
    login_as(Role.ADMIN)
    moments = {
        # America/New_York (the default CLINIC_TIMEZONE) is UTC-4 in March 2025 after the 9th.
        "x_mar10_morning": datetime(2025, 3, 10, 15, 0, tzinfo=UTC),
        "x_mar10_late_evening": datetime(2025, 3, 11, 3, 30, tzinfo=UTC),
        "x_mar12": datetime(2025, 3, 12, 15, 0, tzinfo=UTC),
    }
    for action, moment in moments.items():
        monkeypatch.setattr(audit_services, "utcnow", lambda moment=moment: moment)
        record(db, 1, action=action)
    monkeypatch.undo()
    assert listed_actions(client, date_from="2025-03-11") == ["x_mar12"]
    assert listed_actions(client, date_to="2025-03-10") == [
        "x_mar10_late_evening",
        "x_mar10_morning",
    ]
    assert listed_actions(client, date_from="2025-03-10", date_to="2025-03-10") == [
        "x_mar10_late_evening",
        "x_mar10_morning",
    ]
    assert verify_chain().ok


def test_viewer_shows_old_and_new_values_of_staff_changes(client, login_as, make_user, db):
    login_as(Role.ADMIN)
    nurse = make_user(Role.NURSE)
    client.post(
        f"/staff/{nurse.id}",
        data={"full_name": nurse.full_name, "credentials": "RN", "role": "clinician"},
    )
    rows = table_rows(client.get("/audit/").get_data(as_text=True))
    assert "nurse → clinician" in rows


def test_viewer_shows_only_field_names_of_clinical_changes(client, login_as, db):
    login_as(Role.ADMIN)
    record(
        db,
        1,
        action="x_patient_updated",
        entity="patient",
        patient_id=3,
        changes={"allergies": ["none known", "penicillin anaphylaxis"], "given_name": ["Al", "Bo"]},
    )
    rows = table_rows(client.get("/audit/").get_data(as_text=True))
    assert "allergies, given_name" in rows
    assert "penicillin" not in rows
    assert "none known" not in rows
    assert "Bo<" not in rows and "→ Bo" not in rows


# --- anchors: the head kept outside the database ----------------------------------------------


def anchor(runner) -> str:
    result = runner.invoke(args=["audit", "anchor"])
    assert result.exit_code == 0, result.output
    return result.output.strip()


def verify_with(runner, *anchors: str):
    return runner.invoke(args=["audit", "verify", *(f"--anchor={a}" for a in anchors)])


def test_anchor_is_the_head_and_still_verifies_after_later_events(db, runner):
    record(db, 3)
    kept = anchor(runner)
    assert kept == f"3:{stored_hash(db, 3)}"
    record(db, 2)

    result = verify_with(runner, kept)

    assert result.exit_code == 0, result.output
    assert "intact: 5 events verified, 1 anchor(s) found" in result.output


def test_anchor_catches_an_older_head_written_back_with_its_seal(db, runner):
    # What restoring an older backup of the head does: the trail ends, sealed, at event 3, and
    # the chain alone verifies. Only the anchor taken at event 5 tells.
    record(db, 3)
    old_head = db.session.get(AuditChainHead, 1)
    old = (old_head.last_event_id, old_head.last_hash, old_head.seal)
    record(db, 2)
    kept = anchor(runner)
    drop_append_only_triggers(db)
    sql(db, "DELETE FROM audit_event WHERE id > 3")
    sql(
        db,
        "UPDATE audit_chain_head SET last_event_id = :i, last_hash = :h, seal = :s",
        i=old[0],
        h=old[1],
        s=old[2],
    )
    assert verify(runner).exit_code == 0  # the gap the anchor closes

    result = verify_with(runner, kept)

    assert result.exit_code == 1
    assert "event 5 of the anchor is missing: the trail was cut back" in result.output


def test_anchor_catches_a_rewritten_event(db, runner):
    record(db, 3)
    forged = "0" * 64

    result = verify_with(runner, f"2:{forged}")

    assert result.exit_code == 1
    assert "event 2 differs from the anchor" in result.output


@pytest.mark.parametrize("text", ["", "3", "x:abc", "0:" + "a" * 64, "3:" + "g" * 64, "3:abc"])
def test_verify_refuses_a_malformed_anchor(db, runner, text):
    result = runner.invoke(args=["audit", "verify", "--anchor", text])
    assert result.exit_code == 2
    assert "--anchor" in result.output


def test_anchor_of_an_empty_trail_says_so(db, runner):
    result = runner.invoke(args=["audit", "anchor"])
    assert result.exit_code == 0
    assert "empty" in result.output


def test_anchor_refuses_a_broken_trail(db, runner):
    record(db, 3)
    drop_append_only_triggers(db)
    sql(db, "UPDATE audit_event SET changes = :c WHERE id = 2", c='{"n":99}')

    result = runner.invoke(args=["audit", "anchor"])

    assert result.exit_code == 1
    assert "BROKEN at event 2" in result.output
