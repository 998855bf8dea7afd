"""Order pages: a course's orders, one order, writing (or superseding) and discontinuing one.
Clinicians write; nurses and clinicians read. Thin: parse, call one service, commit, redirect."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from clinic.auth.access import roles_required
from clinic.auth.models import CLINICAL_ROLES, Role
from clinic.auth.services import record_failed_reauthentication
from clinic.extensions import db
from clinic.field_errors import show_on_form
from clinic.orders import bp
from clinic.orders import services as order_services
from clinic.orders.forms import DiscontinueOrderForm, OrderForm
from clinic.orders.models import MedicationOrder
from clinic.orders.services import OrderDetails
from clinic.patients.courses.models import TreatmentCourse
from clinic.patients.models import Patient
from clinic.patients.services import record_patient_viewed
from clinic.request_bounds import id_argument
from clinic.submissions import ReusedFormError, Saved


def _shown(
    template: str, patient: Patient, status: int = 200, **context: object
) -> tuple[str, int]:
    """A page of the patient's orders shows the patient's header: audited as a view."""
    page = render_template(template, patient=patient, **context)
    record_patient_viewed(current_user, patient)
    db.session.commit()
    return page, status


@bp.route("/course/<int:course_id>")
@roles_required(*CLINICAL_ROLES)
def course_orders(course_id: int) -> tuple[str, int]:
    course = db.get_or_404(TreatmentCourse, course_id)
    patient = db.get_or_404(Patient, course.patient_id)
    return _shown(
        "orders/course.html",
        patient,
        course=course,
        orders=order_services.orders_of_course(course.id),
    )


@bp.route("/<int:order_id>")
@roles_required(*CLINICAL_ROLES)
def detail(order_id: int) -> tuple[str, int]:
    order = db.get_or_404(MedicationOrder, order_id)
    return _order_page(order, DiscontinueOrderForm(formdata=None))


def _order_page(
    order: MedicationOrder, form: DiscontinueOrderForm, status: int = 200
) -> tuple[str, int]:
    patient = db.get_or_404(Patient, order.patient_id)
    superseded_by = db.session.scalar(
        db.select(MedicationOrder).where(MedicationOrder.supersedes_id == order.id)
    )
    return _shown(
        "orders/detail.html",
        patient,
        status,
        order=order,
        superseded_by=superseded_by,
        discontinue_form=form,
    )


@bp.route("/new", methods=["GET", "POST"])
@roles_required(Role.CLINICIAN)
def new() -> Response | tuple[str, int]:
    """Write an order for the sessions of a course (`?course=<id>`)."""
    course_id = id_argument(request.args, "course")
    course = db.get_or_404(TreatmentCourse, course_id) if course_id else abort(404)
    patient = db.get_or_404(Patient, course.patient_id)
    return order_form_page(
        patient,
        partial(order_services.write_order, current_user, patient.id, course_id=course.id),
        action=url_for("orders.new", course=course.id),
        course=course,
    )


@bp.route("/<int:order_id>/supersede", methods=["GET", "POST"])
@roles_required(Role.CLINICIAN)
def supersede(order_id: int) -> Response | tuple[str, int]:
    """Write the order that takes the place of this one (for the same course or session)."""
    old = db.get_or_404(MedicationOrder, order_id)
    patient = db.get_or_404(Patient, old.patient_id)
    course = db.session.get(TreatmentCourse, old.course_id) if old.course_id else None
    return order_form_page(
        patient,
        partial(order_services.write_order, current_user, patient.id, supersedes_id=old.id),
        action=url_for("orders.supersede", order_id=old.id),
        course=course,
        old=old,
    )


def order_form_page(
    patient: Patient,
    write: Callable[[OrderDetails, str, str | None], Saved[MedicationOrder]],
    *,
    action: str,
    course: TreatmentCourse | None = None,
    old: MedicationOrder | None = None,
    back: tuple[str, str] | None = None,
    subtitle: str = "",
) -> Response | tuple[str, int]:
    """The order form, and its post signed through `write(details, password, submission key)`:
    a course's order, one that supersedes another, or one for a single session (whose rules the
    chart's service holds)."""
    form = OrderForm()
    status = 200
    if form.validate_on_submit():
        try:
            saved = write(form.to_details(), form.password.data or "", form.submission())
        except order_services.WrongOrderPasswordError as error:
            db.session.rollback()
            record_failed_reauthentication(current_user, "order")
            db.session.commit()
            show_on_form(form, error)
        except order_services.OrderNotInForceError as error:
            db.session.rollback()
            form.form_errors.append(error.message)
            status = 409
        except (order_services.OrderError, ReusedFormError) as error:
            db.session.rollback()
            show_on_form(form, error)
        except LookupError:
            db.session.rollback()
            abort(404)
        else:
            db.session.commit()
            if saved.created:
                flash(
                    "Order signed."
                    if old is None
                    else "New order signed; the old one is superseded.",
                    "success",
                )
            return redirect(url_for("orders.detail", order_id=saved.entry.id))
    if form.is_submitted():
        form.renew_submission_key()
        if status == 200:
            status = 422
    if old is not None:
        old = db.session.get(MedicationOrder, old.id)
    if back is None and course is not None:
        back = (url_for("orders.course_orders", course_id=course.id), "← The course's orders")
    return _shown(
        "orders/new.html",
        patient,
        status,
        form=form,
        course=course,
        old=old,
        action=action,
        back=back,
        subtitle=subtitle,
    )


@bp.route("/<int:order_id>/discontinue", methods=["POST"])
@roles_required(Role.CLINICIAN)
def discontinue(order_id: int) -> Response | tuple[str, int]:
    order = db.get_or_404(MedicationOrder, order_id)
    form = DiscontinueOrderForm()
    status = 422
    if form.validate_on_submit():
        try:
            order_services.discontinue_order(
                current_user, order.patient_id, order.id, form.reason.data or ""
            )
        except order_services.OrderNotInForceError as error:
            db.session.rollback()
            form.form_errors.append(error.message)
            status = 409
        except order_services.OrderError as error:
            db.session.rollback()
            show_on_form(form, error)
        else:
            db.session.commit()
            flash("Order discontinued.", "success")
            return redirect(url_for("orders.detail", order_id=order.id))
    return _order_page(db.get_or_404(MedicationOrder, order_id), form, status)
