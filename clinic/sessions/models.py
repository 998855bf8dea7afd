"""The infusion session record and its entries.

Clinical entries carry two times: when it happened (`occurred_at`, entered) and when it was
recorded (`recorded_at`, by the system), plus who recorded it. Nothing is deleted: an entry is
voided with a reason and stays on the chart, struck through.

Doses and rates are stored exactly as the clinician entered them (Numeric, no float). The app
never computes, suggests or totals a dose.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship

from clinic.administration_terms import Method, Route
from clinic.auth.models import User
from clinic.database import UTCDateTime, utcnow
from clinic.extensions import db
from clinic.instruments.models import InstrumentVersion
from clinic.orders.models import MedicationOrder
from clinic.patients.consents.models import Consent
from clinic.patients.courses.models import TreatmentCourse
from clinic.patients.models import Indication, Patient, enum_column

DOSE = sa.Numeric(14, 4)  # up to 4 decimals, refused (not rounded) beyond that


class SessionStatus(enum.StrEnum):
    IN_PROGRESS = "in_progress"
    CANCELLED = "cancelled"  # ended early with a reason; still to be signed
    SIGNED = "signed"  # locked: only addenda from here on

    @property
    def label(self) -> str:
        return {"in_progress": "In progress", "cancelled": "Cancelled", "signed": "Signed"}[
            self.value
        ]


class InfusionEventKind(enum.StrEnum):
    STARTED = "started"
    RATE_CHANGED = "rate_changed"
    PAUSED = "paused"
    RESUMED = "resumed"
    BOLUS = "bolus"
    STOPPED = "stopped"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


class AdministrationPurpose(enum.StrEnum):
    """Why something was given: the treatment itself (sets T+0 and the observation clock), or a
    rescue medicine for an adverse event (never moves either)."""

    TREATMENT = "treatment"
    RESCUE = "rescue"

    @property
    def label(self) -> str:
        return self.value.capitalize()


class Phase(enum.StrEnum):
    BASELINE = "baseline"
    DURING = "during"
    RECOVERY = "recovery"
    DISCHARGE = "discharge"


class Dissociation(enum.StrEnum):
    NONE = "none"
    MILD = "mild"
    MODERATE = "moderate"
    SEVERE = "severe"


class Nausea(enum.StrEnum):
    NONE = "none"
    NAUSEA = "nausea"
    VOMITED = "vomited"


class Instrument(enum.StrEnum):
    """The instruments the code itself names (a rule reads them); a clinic adds others as data
    (clinic/instruments/), and `Score.instrument` holds any instrument's code."""

    PHQ9 = "phq9"
    PAIN_NRS = "pain_nrs"
    GAD7 = "gad7"
    CSSRS = "cssrs"


class ScoreTiming(enum.StrEnum):
    BEFORE = "before"  # before dosing
    AFTER = "after"  # after dosing
    PEAK = "peak"  # at the dissociation peak
    TRIGGERED = "triggered"  # asked because a rule called for it

    @property
    def label(self) -> str:
        return {
            "before": "Before dosing",
            "after": "After dosing",
            "peak": "At the peak",
            "triggered": "Triggered",
        }[self.value]


class InfusionSession(db.Model):
    __tablename__ = "infusion_session"
    __table_args__ = (sa.Index("ix_infusion_session_patient_started", "patient_id", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(sa.ForeignKey("patient.id"))
    indication: Mapped[Indication] = mapped_column(enum_column(Indication))
    route: Mapped[Route] = mapped_column(enum_column(Route))
    attending_clinician_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    nurse_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    # Before consents were records (migration 0009) a checkbox said whether consent was on file;
    # it is kept as it was ticked on those sessions. Since then the app sets it, with the consent
    # that covered the route when the session was opened (`consent_id`).
    consent_on_file: Mapped[bool] = mapped_column(default=False)
    consent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("consent.id"))
    # The treatment course the session belongs to; none on sessions opened before courses.
    course_id: Mapped[int | None] = mapped_column(sa.ForeignKey("treatment_course.id"), index=True)
    fasting_confirmed: Mapped[bool] = mapped_column(default=False)
    weight_kg: Mapped[Decimal | None] = mapped_column(sa.Numeric(6, 2))
    status: Mapped[SessionStatus] = mapped_column(
        enum_column(SessionStatus), default=SessionStatus.IN_PROGRESS, index=True
    )
    # Ending: the discharge time and who the patient left with, or a cancellation.
    discharged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    discharged_with: Mapped[str | None] = mapped_column(sa.String(120))
    # A discharge before the route's minimum observation (clinic/sessions/route_profiles.py) is
    # recorded only with a clinician's override: who, and why.
    discharge_override_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    discharge_override_reason: Mapped[str | None] = mapped_column(sa.Text)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancel_reason: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    patient: Mapped[Patient] = relationship()
    attending_clinician: Mapped[User] = relationship(foreign_keys=[attending_clinician_id])
    nurse: Mapped[User] = relationship(foreign_keys=[nurse_id])
    discharge_override_by: Mapped[User | None] = relationship(
        foreign_keys=[discharge_override_by_id]
    )
    consent: Mapped[Consent | None] = relationship()
    course: Mapped[TreatmentCourse | None] = relationship()
    signature: Mapped[Signature | None] = relationship(back_populates="session", uselist=False)

    @property
    def is_signed(self) -> bool:
        return self.status == SessionStatus.SIGNED


class ClinicalEntry:
    """Columns every charted entry shares: its session, times, author and void marks."""

    id: Mapped[int] = mapped_column(primary_key=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    void_reason: Mapped[str | None] = mapped_column(sa.Text)

    @declared_attr
    def session_id(cls) -> Mapped[int]:
        return mapped_column(sa.ForeignKey("infusion_session.id"), index=True)

    @declared_attr
    def recorded_by_id(cls) -> Mapped[int]:
        return mapped_column(sa.ForeignKey("user_account.id"))

    @declared_attr
    def voided_by_id(cls) -> Mapped[int | None]:
        return mapped_column(sa.ForeignKey("user_account.id"))

    @declared_attr
    def recorded_by(cls) -> Mapped[User]:
        return relationship(foreign_keys=[cls.recorded_by_id], lazy="joined")

    @declared_attr
    def voided_by(cls) -> Mapped[User | None]:
        return relationship(foreign_keys=[cls.voided_by_id], lazy="joined")

    @property
    def is_voided(self) -> bool:
        return self.voided_at is not None


class Administration(ClinicalEntry, db.Model):
    __tablename__ = "administration"

    # Every administration recorded before purposes existed was the treatment (migration 0014).
    purpose: Mapped[AdministrationPurpose] = mapped_column(
        enum_column(AdministrationPurpose),
        default=AdministrationPurpose.TREATMENT,
        server_default=AdministrationPurpose.TREATMENT.value,
    )

    drug: Mapped[str] = mapped_column(sa.String(120))
    route: Mapped[Route] = mapped_column(enum_column(Route))
    method: Mapped[Method] = mapped_column(enum_column(Method))
    dose_amount: Mapped[Decimal] = mapped_column(DOSE)
    dose_unit: Mapped[str] = mapped_column(sa.String(20))
    rate_amount: Mapped[Decimal | None] = mapped_column(DOSE)
    rate_unit: Mapped[str | None] = mapped_column(sa.String(20))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    site: Mapped[str] = mapped_column(sa.String(120), default="")
    lot_number: Mapped[str] = mapped_column(sa.String(60), default="")
    ordering_clinician_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    note: Mapped[str] = mapped_column(sa.Text, default="")
    # The order carried out (none on administrations recorded before orders), and, where drawn
    # from a vial, its concentration and the volume drawn, as the nurse read and entered them.
    order_id: Mapped[int | None] = mapped_column(sa.ForeignKey("medication_order.id"), index=True)
    concentration: Mapped[str | None] = mapped_column(sa.String(60))
    volume_ml: Mapped[Decimal | None] = mapped_column(DOSE)
    # A deviation from the order (clinic/sessions/deviations.py), acknowledged by a clinician.
    deviation_acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deviation_acknowledged_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("user_account.id")
    )
    deviation_note: Mapped[str | None] = mapped_column(sa.Text)
    # A rescue medicine names the adverse event it was given for (migration 0014b).
    adverse_event_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("adverse_event.id"), index=True
    )

    ordering_clinician: Mapped[User | None] = relationship(
        foreign_keys=[ordering_clinician_id], lazy="joined"
    )
    order: Mapped[MedicationOrder | None] = relationship(lazy="joined")
    deviation_acknowledged_by: Mapped[User | None] = relationship(
        foreign_keys=[deviation_acknowledged_by_id], lazy="joined"
    )
    events: Mapped[list[InfusionEvent]] = relationship(
        back_populates="administration", order_by="InfusionEvent.occurred_at"
    )


class InfusionEvent(ClinicalEntry, db.Model):
    """What happened to a running infusion, as the nurse recorded it. Nothing is summed."""

    __tablename__ = "infusion_event"

    administration_id: Mapped[int] = mapped_column(sa.ForeignKey("administration.id"), index=True)
    kind: Mapped[InfusionEventKind] = mapped_column(enum_column(InfusionEventKind))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    rate_amount: Mapped[Decimal | None] = mapped_column(DOSE)
    rate_unit: Mapped[str | None] = mapped_column(sa.String(20))
    bolus_amount: Mapped[Decimal | None] = mapped_column(DOSE)
    bolus_unit: Mapped[str | None] = mapped_column(sa.String(20))
    note: Mapped[str] = mapped_column(sa.Text, default="")

    administration: Mapped[Administration] = relationship(back_populates="events")


class MonitoringEntry(ClinicalEntry, db.Model):
    __tablename__ = "monitoring_entry"
    __table_args__ = (
        sa.Index("ix_monitoring_entry_session_occurred", "session_id", "occurred_at"),
    )

    phase: Mapped[Phase] = mapped_column(enum_column(Phase))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    systolic_bp: Mapped[int | None]
    diastolic_bp: Mapped[int | None]
    heart_rate: Mapped[int | None]
    spo2: Mapped[int | None]
    respiratory_rate: Mapped[int | None]
    temperature_c: Mapped[Decimal | None] = mapped_column(sa.Numeric(4, 1))
    sedation_moaas: Mapped[int | None]
    dissociation: Mapped[Dissociation | None] = mapped_column(enum_column(Dissociation))
    nausea: Mapped[Nausea | None] = mapped_column(enum_column(Nausea))
    pain_nrs: Mapped[int | None]
    note: Mapped[str] = mapped_column(sa.Text, default="")


class Score(ClinicalEntry, db.Model):
    """An outcome score. The total is stored so trends read one column, not every answer."""

    __tablename__ = "score"
    # The risk banner looks for the patient's newest flagged score on every chart and history
    # view. Flagged scores are few: indexed apart, that read no longer goes through every score.
    # The predicates are written as each database's SQL for `risk_flag.is_(True)`, so that the
    # planners match them to the query.
    __table_args__ = (
        sa.Index(
            "ix_score_risk_flagged",
            "session_id",
            postgresql_where=sa.text("risk_flag IS true AND voided_at IS NULL"),
            sqlite_where=sa.text("risk_flag IS 1 AND voided_at IS NULL"),
        ),
    )

    # The instrument's code (clinic/instruments/) and the version it was taken with; none on
    # scores stored before instruments were data, which read as their instrument's version 1.
    instrument: Mapped[str] = mapped_column(sa.String(24))
    instrument_version_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("instrument_version.id")
    )
    timing: Mapped[ScoreTiming] = mapped_column(enum_column(ScoreTiming))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    answers: Mapped[list[int]] = mapped_column(sa.JSON, default=list)
    total: Mapped[int]
    # PHQ-9 item 9 above 0: thoughts of self-harm, flagged wherever the score appears.
    risk_flag: Mapped[bool] = mapped_column(default=False)
    # The clinician's assessment an instrument is recorded with (the C-SSRS screener's).
    assessment_note: Mapped[str | None] = mapped_column(sa.Text)

    instrument_version: Mapped[InstrumentVersion | None] = relationship(lazy="joined")


class ChecklistItem(db.Model):
    """The discharge checklist's items are data, seeded by a migration."""

    __tablename__ = "checklist_item"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(40), unique=True)
    label: Mapped[str] = mapped_column(sa.String(200))
    required: Mapped[bool] = mapped_column(default=True)
    detail_label: Mapped[str | None] = mapped_column(sa.String(80))  # e.g. "Driver's name"
    position: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)


class ChecklistCompletion(ClinicalEntry, db.Model):
    __tablename__ = "checklist_completion"

    item_id: Mapped[int] = mapped_column(sa.ForeignKey("checklist_item.id"))
    done: Mapped[bool]
    not_done_reason: Mapped[str | None] = mapped_column(sa.Text)
    detail: Mapped[str | None] = mapped_column(sa.String(200))
    note: Mapped[str] = mapped_column(sa.Text, default="")

    item: Mapped[ChecklistItem] = relationship(lazy="joined")


class Signature(db.Model):
    __tablename__ = "signature"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(sa.ForeignKey("infusion_session.id"), unique=True)
    signer_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    signer_name: Mapped[str] = mapped_column(sa.String(120))
    signer_credentials: Mapped[str] = mapped_column(sa.String(40))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    meaning: Mapped[str] = mapped_column(sa.String(80), default="Reviewed and signed")
    content_digest: Mapped[str] = mapped_column(sa.String(64))

    session: Mapped[InfusionSession] = relationship(back_populates="signature")


class Addendum(db.Model):
    __tablename__ = "addendum"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(sa.ForeignKey("infusion_session.id"), index=True)
    text: Mapped[str] = mapped_column(sa.Text)
    reason: Mapped[str] = mapped_column(sa.Text)
    author_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    author: Mapped[User] = relationship(lazy="joined")


class Pregnancy(enum.StrEnum):
    NOT_APPLICABLE = "not_applicable"
    NEGATIVE = "negative"
    POSITIVE = "positive"

    @property
    def label(self) -> str:
        return {
            "not_applicable": "Not applicable",
            "negative": "Negative",
            "positive": "Positive",
        }[self.value]


class ConcomitantMedicine(enum.StrEnum):
    """Today's medicines that sedate or raise blood pressure (REFERENCE.md, REMS form)."""

    BENZODIAZEPINE = "benzodiazepine"
    HYPNOTIC = "hypnotic"
    OPIOID = "opioid"
    PSYCHOSTIMULANT = "psychostimulant"
    MAOI = "maoi"

    @property
    def label(self) -> str:
        return {
            "benzodiazepine": "Benzodiazepine",
            "hypnotic": "Non-benzodiazepine hypnotic",
            "opioid": "Opioid",
            "psychostimulant": "Psychostimulant",
            "maoi": "MAOI",
        }[self.value]


class Screening(db.Model):
    """The pre-session screening: one per session, corrected in place (versioned: two people
    saving at once never replace each other unseen), every change audited. The go, warn or
    no-go is read from it and the baseline vitals by the rules in configuration
    (clinic/sessions/screening_rules.py); a no-go holds the first treatment until a clinician
    overrides it with a reason. The escort named here is the session's one escort record."""

    __tablename__ = "screening"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(sa.ForeignKey("infusion_session.id"), unique=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    pregnancy: Mapped[Pregnancy] = mapped_column(enum_column(Pregnancy))
    last_solid_food_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_clear_fluid_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    concomitant_medicines: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    alcohol_or_drugs: Mapped[bool] = mapped_column(default=False)
    new_problems: Mapped[str] = mapped_column(sa.Text, default="")
    suicidality_positive: Mapped[bool] = mapped_column(default=False)
    escort_present: Mapped[bool] = mapped_column(default=False)
    escort_name: Mapped[str] = mapped_column(sa.String(120), default="")
    escort_relationship: Mapped[str] = mapped_column(sa.String(60), default="")
    escort_phone: Mapped[str] = mapped_column(sa.String(40), default="")
    note: Mapped[str] = mapped_column(sa.Text, default="")
    recorded_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    override_reason: Mapped[str | None] = mapped_column(sa.Text)
    override_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    override_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    recorded_by: Mapped[User] = relationship(foreign_keys=[recorded_by_id], lazy="joined")
    override_by: Mapped[User | None] = relationship(foreign_keys=[override_by_id], lazy="joined")


class AdverseEventType(enum.StrEnum):
    HYPERTENSION = "hypertension"
    TACHYCARDIA = "tachycardia"
    DESATURATION = "desaturation"
    NAUSEA_VOMITING = "nausea_vomiting"
    EMERGENCE_REACTION = "emergence_reaction"
    OVERSEDATION = "oversedation"
    SEVERE_DISSOCIATION = "severe_dissociation"
    ALLERGIC_REACTION = "allergic_reaction"
    OTHER = "other"

    @property
    def label(self) -> str:
        return self.value.replace(
            "_", " / " if self.value == "nausea_vomiting" else " "
        ).capitalize()


class AdverseEventSeverity(enum.StrEnum):
    MILD = "mild"
    MODERATE = "moderate"
    SEVERE = "severe"

    @property
    def label(self) -> str:
        return self.value.capitalize()


class AdverseEventAction(enum.StrEnum):
    """What was done. Pausing, slowing or stopping an infusion is also charted as the infusion
    event it is; a medicine given is the rescue administration linked to the event."""

    INFUSION_PAUSED = "infusion_paused"
    INFUSION_SLOWED = "infusion_slowed"
    INFUSION_STOPPED = "infusion_stopped"
    OXYGEN = "oxygen"
    MEDICATION = "medication"
    OTHER = "other"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


class AdverseEventOutcome(enum.StrEnum):
    RESOLVED = "resolved"
    ONGOING = "ongoing"
    TRANSFERRED = "transferred"

    @property
    def label(self) -> str:
        return {
            "resolved": "Resolved",
            "ongoing": "Ongoing at discharge",
            "transferred": "Transferred for further care",
        }[self.value]


class AdverseEvent(ClinicalEntry, db.Model):
    """An adverse event during the session, as the nurse or clinician recorded it. The rescue
    medicines given for it are administrations (purpose rescue) that name it."""

    __tablename__ = "adverse_event"

    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())  # onset
    type: Mapped[AdverseEventType] = mapped_column(enum_column(AdverseEventType))
    severity: Mapped[AdverseEventSeverity] = mapped_column(enum_column(AdverseEventSeverity))
    actions: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outcome: Mapped[AdverseEventOutcome | None] = mapped_column(enum_column(AdverseEventOutcome))
    note: Mapped[str] = mapped_column(sa.Text, default="")


class InstructionText(db.Model):
    """Post-treatment instructions given to the patient at discharge: versioned data that
    clinicians maintain (a new version is a new row; a version given is never changed)."""

    __tablename__ = "instruction_text"
    __table_args__ = (sa.UniqueConstraint("code", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(40))
    version: Mapped[str] = mapped_column(sa.String(20))
    title: Mapped[str] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.Text)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    @property
    def label(self) -> str:
        return f"{self.title} (version {self.version})"


ALDRETE_ITEMS = ("activity", "respiration", "circulation", "consciousness", "spo2")


class DischargeAssessment(ClinicalEntry, db.Model):
    """Discharge readiness: the modified Aldrete items as the nurse assessed them (each 0-2; the
    total is their sum, a score, not a dose), the escort confirmed from the screening's record,
    and the version of the instructions given."""

    __tablename__ = "discharge_assessment"

    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    activity: Mapped[int]
    respiration: Mapped[int]
    circulation: Mapped[int]
    consciousness: Mapped[int]
    spo2: Mapped[int]
    total: Mapped[int]
    escort_confirmed: Mapped[bool] = mapped_column(default=False)
    instruction_id: Mapped[int | None] = mapped_column(sa.ForeignKey("instruction_text.id"))
    note: Mapped[str] = mapped_column(sa.Text, default="")

    instruction: Mapped[InstructionText | None] = relationship(lazy="joined")


class RemsForm(db.Model):
    """What the esketamine REMS monitoring form asks that the chart does not hold (when the
    patient would have been ready to leave) and its submission. The rest of the form is read
    from the session's record (clinic/sessions/services/rems.py), never copied here."""

    __tablename__ = "rems_form"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(sa.ForeignKey("infusion_session.id"), unique=True)
    # Minutes from the first device, as the nurse judged it.
    ready_to_leave_minutes: Mapped[int | None]
    ready_answered_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    ready_answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    submitted_on: Mapped[date | None]
    submitted_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    ready_answered_by: Mapped[User | None] = relationship(
        foreign_keys=[ready_answered_by_id], lazy="joined"
    )
    submitted_by: Mapped[User | None] = relationship(foreign_keys=[submitted_by_id], lazy="joined")
