"""Register pages: the lots and open discrepancies, receiving a lot, a lot's ledger with its
forms (waste or return, correction, count, void), resolving a count, and the reports. Nurses and
clinicians; a count's discrepancy is resolved by a clinician. Every page read is audited as a
record's view is. Thin: parse, call one service, commit, redirect."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from clinic.auth.access import roles_required
from clinic.auth.models import CLINICAL_ROLES, Role
from clinic.auth.services import record_failed_reauthentication
from clinic.clinic_time import local_now
from clinic.csv_cells import csv_bytes
from clinic.extensions import db
from clinic.field_errors import FieldError, show_on_form
from clinic.register import bp
from clinic.register import reports as register_reports
from clinic.register import services as register
from clinic.register.forms import (
    CorrectionForm,
    CountForm,
    MovementForm,
    ReceiveLotForm,
    ReportForm,
    ResolveCountForm,
    VoidEntryForm,
)
from clinic.register.models import EntryKind, LedgerEntry, StockLot
from clinic.submissions import ReusedFormError


def _page(
    template: str, page: str, status: int = 200, lot_id: int | None = None, **context: Any
) -> tuple[str, int]:
    """A register page, its view audited (a refused post was rolled back before)."""
    body = render_template(template, **context)
    register.record_register_viewed(current_user, page, lot_id)
    db.session.commit()
    return body, status


@bp.app_template_global("register_draws")
def register_draws(session_id: int) -> dict[int, list[LedgerEntry]]:
    """What the chart shows of each administration's lot: read once per chart, by the partial
    templates/register/_administration_lot.html."""
    return register_reports.draws_of_session(session_id)


def _refused(form: Any, error: FieldError) -> None:
    """Rolled back; a wrong witness password counts against the witness, as a re-entered
    password of their own would."""
    db.session.rollback()
    if isinstance(error, register.WrongWitnessPasswordError):
        record_failed_reauthentication(error.witness, "register_witness")
        db.session.commit()
    show_on_form(form, error)


@bp.route("/")
@roles_required(*CLINICAL_ROLES)
def index() -> tuple[str, int]:
    return _page(
        "register/index.html",
        "index",
        lots=register.all_lots(),
        balances=register.balances(),
        open_counts=register.open_counts(),
        today=local_now().date(),
    )


@bp.route("/receive", methods=["GET", "POST"])
@roles_required(*CLINICAL_ROLES)
def receive() -> Response | tuple[str, int]:
    form = ReceiveLotForm()
    form.drug.choices = [("", "Choose…"), *((d, d) for d in _drugs())]
    if form.validate_on_submit():
        try:
            saved = register.receive_lot(
                current_user, form.to_details(), form.witness(), form.submission()
            )
        except (register.RegisterError, ReusedFormError) as error:
            _refused(form, error)
        else:
            db.session.commit()
            if saved.created:
                flash("Lot received into the register.", "success")
            return redirect(url_for("register.lot", lot_id=saved.entry.id))
    status = 200
    if form.is_submitted():
        form.renew_submission_key()
        status = 422
    return _page("register/receive.html", "receive", status, form=form)


def _drugs() -> tuple[str, ...]:
    return tuple(current_app.config["REGISTER_DRUGS"])


@bp.route("/lots/<int:lot_id>")
@roles_required(*CLINICAL_ROLES)
def lot(lot_id: int) -> tuple[str, int]:
    return _lot_page(lot_id)


def _lot_page(lot_id: int, status: int = 200, **forms: Any) -> tuple[str, int]:
    stock = db.get_or_404(StockLot, lot_id)
    entries = register.ledger_of(lot_id)
    shown_again: dict[int, Any] = forms.pop("entry_forms", {})
    context = {
        "movement_form": MovementForm(formdata=None, prefix="movement"),
        "correction_form": CorrectionForm(formdata=None, prefix="correction"),
        "count_form": CountForm(formdata=None, prefix="count"),
        **forms,
    }
    resolved = {e.resolves_id for e in entries if e.resolves_id is not None}
    # One small form per entry (its void, a count's resolution), each with ids of its own.
    entry_forms: dict[int, Any] = {}
    refusals: list[str] = []
    for e in entries:
        kind = ResolveCountForm if e.kind == EntryKind.COUNT else VoidEntryForm
        again = shown_again.get(e.id)
        if isinstance(again, kind):
            entry_forms[e.id] = again
            continue
        if again is not None:  # a void posted for a count, say: refused, said at the top
            refusals.extend(again.form_errors or ["This entry takes no such change."])
        name = "resolve" if kind is ResolveCountForm else "void"
        entry_forms[e.id] = kind(formdata=None, prefix=f"{name}-{e.id}")
    return _page(
        "register/lot.html",
        "lot",
        status,
        lot_id=lot_id,
        lot=stock,
        entries=entries,
        on_shelf=register.balance(lot_id),
        voided={e.voids_id for e in entries if e.voids_id is not None},
        resolved=resolved,
        entry_forms=entry_forms,
        refusals=refusals,
        today=local_now().date(),
        **context,
    )


def _post_on_lot(
    lot_id: int,
    name: str,
    form: Any,
    write: Callable[[], object],
    message: str,
    entry_id: int | None = None,
) -> Response | tuple[str, int]:
    db.get_or_404(StockLot, lot_id)
    if form.validate_on_submit():
        try:
            write()
        except (register.RegisterError, ReusedFormError) as error:
            _refused(form, error)
        except LookupError:
            db.session.rollback()
            abort(404)
        else:
            db.session.commit()
            flash(message, "success")
            return redirect(url_for("register.lot", lot_id=lot_id) + f"#{name}")
    if hasattr(form, "renew_submission_key"):
        form.renew_submission_key()
    if entry_id is not None:
        return _lot_page(lot_id, 422, entry_forms={entry_id: form})
    return _lot_page(lot_id, 422, **{name: form})


@bp.route("/lots/<int:lot_id>/movements", methods=["POST"])
@roles_required(*CLINICAL_ROLES)
def record_movement(lot_id: int) -> Response | tuple[str, int]:
    form = MovementForm(prefix="movement")

    def write() -> object:
        kind = EntryKind(form.kind.data)
        witness = form.witness() if kind is EntryKind.WASTE else None
        return register.record_movement(
            current_user,
            lot_id,
            kind,
            form.quantity.data,
            form.reason.data or "",
            witness,
            form.submission(),
        )

    return _post_on_lot(lot_id, "movement_form", form, write, "Recorded in the register.")


@bp.route("/lots/<int:lot_id>/corrections", methods=["POST"])
@roles_required(*CLINICAL_ROLES)
def record_correction(lot_id: int) -> Response | tuple[str, int]:
    form = CorrectionForm(prefix="correction")

    def write() -> object:
        return register.record_movement(
            current_user,
            lot_id,
            EntryKind.CORRECTION,
            form.quantity.data,
            form.reason.data or "",
            form.witness(),
            form.submission(),
            adds=form.direction.data == "add",
        )

    return _post_on_lot(lot_id, "correction_form", form, write, "Correction recorded.")


@bp.route("/lots/<int:lot_id>/counts", methods=["POST"])
@roles_required(*CLINICAL_ROLES)
def record_count(lot_id: int) -> Response | tuple[str, int]:
    form = CountForm(prefix="count")

    def write() -> object:
        return register.record_count(
            current_user, lot_id, form.counted.data, form.witness(), form.submission()
        )

    return _post_on_lot(lot_id, "count_form", form, write, "Count recorded.")


@bp.route("/counts/<int:entry_id>/resolve", methods=["POST"])
@roles_required(Role.CLINICIAN)
def resolve_count(entry_id: int) -> Response | tuple[str, int]:
    count = db.get_or_404(LedgerEntry, entry_id)
    form = ResolveCountForm(prefix=f"resolve-{entry_id}")
    correct = form.outcome.data == "correct"

    def write() -> object:
        return register.resolve_count(
            current_user,
            entry_id,
            form.reason.data or "",
            correct,
            form.witness() if correct else None,
        )

    return _post_on_lot(
        count.lot_id, f"entry-{entry_id}", form, write, "Discrepancy resolved.", entry_id
    )


@bp.route("/entries/<int:entry_id>/void", methods=["POST"])
@roles_required(*CLINICAL_ROLES)
def void_entry(entry_id: int) -> Response | tuple[str, int]:
    entry = db.get_or_404(LedgerEntry, entry_id)
    form = VoidEntryForm(prefix=f"void-{entry_id}")

    def write() -> object:
        return register.void_entry(current_user, entry_id, form.reason.data or "")

    return _post_on_lot(entry.lot_id, f"entry-{entry_id}", form, write, "Entry voided.", entry_id)


# --- reports --------------------------------------------------------------------------------


REPORTS = {
    "dispensing": (
        "Dispensing log",
        register_reports.DISPENSING_HEADER,
        register_reports.dispensing_log,
    ),
    "waste": ("Waste and its witnesses", register_reports.WASTE_HEADER, register_reports.waste_log),
}


@bp.route("/reports/<any(dispensing, waste):name>")
@roles_required(*CLINICAL_ROLES)
def report(name: str) -> Response | tuple[str, int]:
    title, header, read = REPORTS[name]
    form = ReportForm(request.args)
    today = local_now().date()
    status = 200
    if request.args and not form.validate():
        status = 422
    start = form.start.data if not form.start.errors and form.start.data else today.replace(day=1)
    end = form.end.data if not form.end.errors and form.end.data else today
    if end < start:
        form.end.errors = [*form.end.errors, "The end is before the start."]
        status, end = 422, start
    rows = read(register_reports.DateRange(start, end))
    if request.args.get("format") == "csv" and status == 200:
        return _csv(name, start, end, header, rows)
    return _page(
        "register/report.html",
        f"report:{name}:{start.isoformat()}:{end.isoformat()}",
        status,
        name=name,
        title=title,
        header=header,
        rows=rows,
        form=form,
        start=start,
        end=end,
        printable=request.args.get("print") == "1",
        links=_links("register.report", {"name": name, "start": start, "end": end}),
    )


def _links(endpoint: str, values: dict[str, Any]) -> dict[str, str]:
    """The same report as CSV and as a printable page."""
    values = {k: v.isoformat() if isinstance(v, date) else v for k, v in values.items()}
    return {
        "csv": url_for(endpoint, format="csv", **values),
        "print": url_for(endpoint, print="1", **values),
    }


@bp.route("/reports/inventory")
@roles_required(*CLINICAL_ROLES)
def inventory() -> Response | tuple[str, int]:
    form = ReportForm(request.args)
    status = 200
    if request.args and not form.validate():
        status = 422
    day: date = form.on.data if not form.on.errors and form.on.data else local_now().date()
    rows = register_reports.inventory_at(day)
    if request.args.get("format") == "csv" and status == 200:
        return _csv("inventory", day, day, register_reports.INVENTORY_HEADER, rows)
    return _page(
        "register/report.html",
        f"report:inventory:{day.isoformat()}",
        status,
        name="inventory",
        title=f"Inventory at the end of {day.isoformat()}",
        header=register_reports.INVENTORY_HEADER,
        rows=rows,
        form=form,
        start=day,
        end=day,
        printable=request.args.get("print") == "1",
        links=_links("register.inventory", {"on": day}),
    )


def _csv(name: str, start: date, end: date, header: Any, rows: list[Any]) -> Response:
    body = csv_bytes([header, *(row.cells for row in rows)])
    register.record_register_viewed(
        current_user, f"csv:{name}:{start.isoformat()}:{end.isoformat()}"
    )
    db.session.commit()
    response = Response(body, mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = (
        f'attachment; filename="register-{name}-{start.isoformat()}-{end.isoformat()}.csv"'
    )
    return response
