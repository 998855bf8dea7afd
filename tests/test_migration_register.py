"""Migration 0016 (the controlled-substance register) upgrades a database holding
administrations charted with a free-text lot number: each keeps its lot number as typed, no
register lot is made up from it, the session's signed content is unchanged, and the chart goes
on taking ketamine administrations until the clinic receives its first lot. On SQLite and, with
TEST_DATABASE_URL, on PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import flask_migrate
import sqlalchemy as sa

from clinic.auth.models import Role
from clinic.database import utcnow
from clinic.extensions import db as _db
from clinic.register.models import LedgerEntry, StockLot
from clinic.sessions.digest import canonical_content
from clinic.sessions.models import Administration
from clinic.staff.services import StaffDetails, create_user
from tests.conftest import PASSWORD, login
from tests.factories import insert_administration, insert_session, make_patient
from tests.helpers import minute
from tests.test_migration_data import empty_app, revision_before  # noqa: F401 (a fixture)


def test_free_text_lot_numbers_stay_as_recorded_and_the_register_starts_empty(
    empty_app,  # noqa: F811
) -> None:
    flask_migrate.upgrade(revision=revision_before("0016_register"))
    # Before 0016 the models of the chart are what they are today: written with them.
    nurse = create_user(
        None,
        "nurse.before",
        StaffDetails("Nurse Before", "RN", Role.NURSE),
        PASSWORD,
        must_change_password=False,
    )
    _db.session.commit()
    patient = make_patient(created_by=nurse)
    session = insert_session(patient, nurse, started_at=minute(utcnow()) - timedelta(minutes=30))
    administration = insert_administration(session.id, nurse.id, lot_number="LOT-FREE-7")
    before = canonical_content(session.id)
    _db.session.remove()

    flask_migrate.upgrade()

    stored = _db.session.get(Administration, administration.id)
    assert stored is not None and stored.lot_number == "LOT-FREE-7"
    assert canonical_content(session.id) == before
    assert _db.session.scalar(sa.select(sa.func.count()).select_from(StockLot)) == 0
    assert _db.session.scalar(sa.select(sa.func.count()).select_from(LedgerEntry)) == 0
    client = empty_app.test_client()
    assert login(client, "nurse.before").status_code == 302
    assert "LOT-FREE-7" in client.get(f"/sessions/{session.id}").get_data(as_text=True)
    assert client.get("/register/").status_code == 200
