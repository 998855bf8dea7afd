"""Staff accounts: an admin creates, edits, resets and deactivates; every change is audited."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from clinic.audit.models import AuditEvent
from clinic.auth import throttle
from clinic.auth.models import Role, User
from clinic.database import utcnow
from clinic.staff import services as staff_services
from clinic.staff.services import StaffDetails
from tests.conftest import login
from tests.helpers import audit_actions

TEMPORARY = "temporary-pass-2024x"


def get_user(db, username: str) -> User | None:
    db.session.expire_all()
    return db.session.scalar(
        sa.select(User).where(sa.func.lower(User.username) == username.lower())
    )


def new_account(client, **fields):
    data = {
        "username": "jdoe",
        "full_name": "Jane Doe",
        "credentials": "RN",
        "role": "nurse",
        "password": TEMPORARY,
        **fields,
    }
    return client.post("/staff/new", data=data)


def test_list_shows_active_and_inactive_accounts(client, login_as, make_user, db):
    login_as(Role.ADMIN)
    make_user(Role.NURSE, full_name="Active Annie")
    leaver = make_user(Role.CLINICIAN, full_name="Gone Gordon")
    leaver.active = False
    db.session.commit()
    page = client.get("/staff/").get_data(as_text=True)
    assert "Active Annie" in page
    assert "Gone Gordon" in page
    assert "Inactive" in page


def test_admin_creates_an_account_that_must_change_its_password(client, login_as, db):
    login_as(Role.ADMIN)
    response = new_account(client)
    user = get_user(db, "jdoe")
    assert user is not None
    assert response.status_code == 302
    assert response.location == f"/staff/{user.id}"
    assert (user.full_name, user.credentials, user.role) == ("Jane Doe", "RN", Role.NURSE)
    assert user.active and user.must_change_password
    assert user.password_hash != TEMPORARY

    client.post("/logout")
    assert login(client, "jdoe", TEMPORARY).location == "/password"


def test_username_is_unique_whatever_its_case(client, login_as, db):
    login_as(Role.ADMIN)
    new_account(client, username="jdoe")
    response = new_account(client, username="JDoe", full_name="Jack Doe")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "This username is taken." in page
    assert 'value="JDoe"' in page
    assert 'value="Jack Doe"' in page
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 2


@pytest.mark.parametrize(
    ("fields", "message", "kept"),
    [
        ({"password": "short-1"}, "at least 12 characters", 'value="Jane Doe"'),
        ({"password": "jdoe-is-my-password"}, "must not contain the username", 'value="jdoe"'),
        ({"username": "j doe!"}, "Use letters, digits", 'value="j doe!"'),
        ({"full_name": ""}, "This field is required.", 'value="RN"'),
    ],
)
def test_bad_new_account_keeps_the_input_with_a_message(
    client, login_as, db, fields, message, kept
):
    login_as(Role.ADMIN)
    response = new_account(client, **fields)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in page
    assert kept in page
    assert "invalid-feedback" in page
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 1


def test_admin_edits_name_credentials_and_role(client, login_as, make_user, db):
    admin = login_as(Role.ADMIN)
    nurse = make_user(Role.NURSE, full_name="Nina Nurse", credentials="RN")
    response = client.post(
        f"/staff/{nurse.id}",
        data={"full_name": "Nina Nurse-Practitioner", "credentials": "NP", "role": "clinician"},
    )
    assert response.status_code == 302
    user = get_user(db, nurse.username)
    assert (user.full_name, user.credentials, user.role) == (
        "Nina Nurse-Practitioner",
        "NP",
        Role.CLINICIAN,
    )
    [event] = audit_actions("staff_updated")
    assert event.actor_id == admin.id and event.entity_id == str(nurse.id)
    assert json.loads(event.changes) == {
        "credentials": ["RN", "NP"],
        "full_name": ["Nina Nurse", "Nina Nurse-Practitioner"],
        "role": ["nurse", "clinician"],
    }


def test_saving_unchanged_details_writes_no_event(client, login_as, make_user, db):
    login_as(Role.ADMIN)
    nurse = make_user(Role.NURSE)
    client.post(
        f"/staff/{nurse.id}",
        data={"full_name": nurse.full_name, "credentials": nurse.credentials, "role": "nurse"},
    )
    assert audit_actions("staff_updated") == []


def test_bad_edit_keeps_the_input_with_a_message(client, login_as, make_user, db):
    login_as(Role.ADMIN)
    nurse = make_user(Role.NURSE, full_name="Nina Nurse")
    response = client.post(
        f"/staff/{nurse.id}", data={"full_name": "", "credentials": "BSN-RN", "role": "nurse"}
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'value="BSN-RN"' in page
    assert 'id="full_name-error"' in page
    assert get_user(db, nurse.username).credentials == "RN"


def test_reset_password_makes_the_user_change_it_at_next_login(client, login_as, make_user, db):
    login_as(Role.ADMIN)
    nurse = make_user(Role.NURSE)
    response = client.post(f"/staff/{nurse.id}/password", data={"password": TEMPORARY})
    assert response.status_code == 302
    user = get_user(db, nurse.username)
    assert user.must_change_password
    [event] = audit_actions("staff_password_reset")
    assert event.entity_id == str(nurse.id)
    client.post("/logout")
    assert login(client, nurse.username).status_code == 200  # the old password is gone
    assert login(client, nurse.username, TEMPORARY).location == "/password"


def test_reset_password_clears_the_failed_sign_ins(client, login_as, make_user, db):
    login_as(Role.ADMIN)
    nurse = make_user(Role.NURSE)
    for _ in range(5):
        throttle.record_failure(throttle.account_key(nurse.username, nurse), utcnow())
    db.session.commit()
    client.post(f"/staff/{nurse.id}/password", data={"password": TEMPORARY})
    assert throttle.counts_of(get_user(db, nurse.username)) == []
    assert len(audit_actions("sign_in_holds_cleared")) == 1


def test_weak_reset_password_is_refused_with_a_message(client, login_as, make_user, db):
    login_as(Role.ADMIN)
    nurse = make_user(Role.NURSE)
    response = client.post(f"/staff/{nurse.id}/password", data={"password": "short"})
    assert response.status_code == 422
    assert "at least 12 characters" in response.get_data(as_text=True)
    assert not get_user(db, nurse.username).must_change_password


def test_deactivated_account_cannot_sign_in_until_reactivated(app, client, login_as, make_user, db):
    login_as(Role.ADMIN)
    nurse = make_user(Role.NURSE)
    assert client.post(f"/staff/{nurse.id}/deactivate").status_code == 302
    assert not get_user(db, nurse.username).active
    other = app.test_client()
    assert login(other, nurse.username).status_code == 200
    assert client.post(f"/staff/{nurse.id}/reactivate").status_code == 302
    assert get_user(db, nurse.username).active
    assert login(other, nurse.username).status_code == 302
    assert [json.loads(e.changes) for e in audit_actions("staff_deactivated")] == [
        {"active": [True, False]}
    ]
    assert [json.loads(e.changes) for e in audit_actions("staff_reactivated")] == [
        {"active": [False, True]}
    ]


def test_admin_cannot_deactivate_themselves(client, login_as, db):
    admin = login_as(Role.ADMIN)
    response = client.post(f"/staff/{admin.id}/deactivate", follow_redirects=True)
    assert "You cannot deactivate your own account." in response.get_data(as_text=True)
    assert get_user(db, admin.username).active
    assert audit_actions("staff_deactivated") == []


def test_admin_cannot_demote_themselves(client, login_as, make_user, db):
    make_user(Role.ADMIN)  # another admin exists: the refusal is about oneself
    admin = login_as(Role.ADMIN)
    response = client.post(
        f"/staff/{admin.id}", data={"full_name": "Renamed", "credentials": "", "role": "nurse"}
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "You cannot remove your own admin role." in page
    assert 'value="Renamed"' in page
    user = get_user(db, admin.username)
    assert user.role == Role.ADMIN and user.full_name != "Renamed"


def test_admin_can_demote_and_deactivate_another_admin(client, login_as, make_user, db):
    login_as(Role.ADMIN)
    other = make_user(Role.ADMIN)
    client.post(
        f"/staff/{other.id}", data={"full_name": "Other", "credentials": "", "role": "nurse"}
    )
    assert get_user(db, other.username).role == Role.NURSE
    client.post(f"/staff/{other.id}/deactivate")
    assert not get_user(db, other.username).active


def test_last_active_admin_cannot_be_demoted(db, make_user):
    """Two admins demoting each other at once: the second, acting on a stale page, is refused."""
    first = make_user(Role.ADMIN)
    second = make_user(Role.ADMIN)
    staff_services.update_user(first, second, StaffDetails("Second", "", Role.NURSE))
    db.session.commit()
    with pytest.raises(staff_services.StaffError, match="at least one active admin"):
        staff_services.update_user(second, first, StaffDetails("First", "", Role.NURSE))
    db.session.rollback()
    assert get_user(db, first.username).role == Role.ADMIN


def test_last_active_admin_cannot_be_deactivated(db, make_user):
    first = make_user(Role.ADMIN)
    second = make_user(Role.ADMIN)
    staff_services.set_active(first, second, False)
    db.session.commit()
    with pytest.raises(staff_services.StaffError, match="at least one active admin"):
        staff_services.set_active(second, first, False)
    db.session.rollback()
    assert get_user(db, first.username).active


def test_inactive_admins_do_not_count_as_the_remaining_admin(db, make_user):
    first = make_user(Role.ADMIN)
    retired = make_user(Role.ADMIN)
    retired.active = False
    nurse = make_user(Role.NURSE)
    db.session.commit()
    with pytest.raises(staff_services.StaffError, match="at least one active admin"):
        staff_services.update_user(nurse, first, StaffDetails("First", "", Role.NURSE))


def test_staff_changes_are_audited_without_password_hashes(client, login_as, make_user, db):
    login_as(Role.ADMIN)
    new_account(client)
    jdoe = get_user(db, "jdoe")
    client.post(
        f"/staff/{jdoe.id}", data={"full_name": "J Doe", "credentials": "", "role": "nurse"}
    )
    client.post(f"/staff/{jdoe.id}/password", data={"password": "another-temporary-99"})
    client.post(f"/staff/{jdoe.id}/deactivate")
    client.post(f"/staff/{jdoe.id}/reactivate")
    recorded = [
        e.action
        for e in db.session.scalars(
            sa.select(AuditEvent)
            .where(AuditEvent.entity_id == str(jdoe.id))
            .order_by(AuditEvent.id)
        )
    ]
    assert recorded == [
        "staff_created",
        "staff_updated",
        "staff_password_reset",
        "staff_deactivated",
        "staff_reactivated",
    ]
    [created] = audit_actions("staff_created")[-1:]
    assert json.loads(created.changes) == {
        "username": "jdoe",
        "full_name": "Jane Doe",
        "credentials": "RN",
        "role": "nurse",
    }
    hashes = [h for h in db.session.scalars(sa.select(User.password_hash))]
    everything = " ".join(db.session.scalars(sa.select(AuditEvent.changes)))
    assert not any(h in everything for h in hashes)
    assert "scrypt" not in everything
    assert TEMPORARY not in everything and "another-temporary-99" not in everything


def test_staff_detail_of_unknown_id_is_404(client, login_as):
    login_as(Role.ADMIN)
    assert client.get("/staff/99999").status_code == 404
