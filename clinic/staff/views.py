import sqlalchemy as sa
from flask import flash, redirect, render_template, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from clinic.auth import second_factor, throttle
from clinic.auth.access import roles_required
from clinic.auth.models import Role, User
from clinic.database import utcnow
from clinic.extensions import db
from clinic.field_errors import show_on_form
from clinic.staff import bp
from clinic.staff import services as staff_services
from clinic.staff.forms import (
    ActivationForm,
    ClearSignInHoldsForm,
    NewStaffForm,
    ResetPasswordForm,
    ResetSecondFactorForm,
    StaffDetailsForm,
)


def _details(form: StaffDetailsForm) -> staff_services.StaffDetails:
    return staff_services.StaffDetails(
        full_name=form.full_name.data or "",
        credentials=form.credentials.data or "",
        role=Role(form.role.data),
    )


@bp.route("/")
@roles_required(Role.ADMIN)
def index() -> str:
    users = db.session.scalars(
        sa.select(User).order_by(User.active.desc(), sa.func.lower(User.full_name))
    ).all()
    return render_template("staff/index.html", users=users, held=throttle.user_ids_held(utcnow()))


@bp.route("/new", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def new() -> Response | tuple[str, int] | str:
    form = NewStaffForm()
    if form.validate_on_submit():
        try:
            user = staff_services.create_user(
                current_user, form.username.data or "", _details(form), form.password.data or ""
            )
        except staff_services.StaffError as error:
            show_on_form(form, error, "username")
        else:
            db.session.commit()
            flash(f"Account {user.username} created.", "success")
            return redirect(url_for("staff.detail", user_id=user.id))
    page = render_template("staff/new.html", form=form)
    return (page, 422) if form.errors else page


@bp.route("/<int:user_id>", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def detail(user_id: int) -> Response | str:
    user = db.get_or_404(User, user_id)
    form = StaffDetailsForm(obj=user)
    if form.validate_on_submit():
        try:
            staff_services.update_user(current_user, user, _details(form))
        except staff_services.StaffError as error:
            show_on_form(form, error, "full_name")
            db.session.rollback()
        else:
            db.session.commit()
            flash("Account saved.", "success")
            return redirect(url_for("staff.detail", user_id=user.id))
    return _render_detail(user, form=form)


@bp.route("/<int:user_id>/password", methods=["POST"])
@roles_required(Role.ADMIN)
def reset_password(user_id: int) -> Response | str:
    user = db.get_or_404(User, user_id)
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            staff_services.reset_password(current_user, user, form.password.data or "")
        except staff_services.StaffError as error:
            show_on_form(form, error, "password")
        else:
            db.session.commit()
            flash(f"Password of {user.username} reset; they must change it at sign-in.", "success")
            return redirect(url_for("staff.detail", user_id=user.id))
    return _render_detail(user, reset_form=form)


@bp.route("/<int:user_id>/deactivate", methods=["POST"])
@roles_required(Role.ADMIN)
def deactivate(user_id: int) -> Response | str:
    return _set_active(user_id, active=False)


@bp.route("/<int:user_id>/reactivate", methods=["POST"])
@roles_required(Role.ADMIN)
def reactivate(user_id: int) -> Response | str:
    return _set_active(user_id, active=True)


@bp.route("/<int:user_id>/sign-in-holds", methods=["POST"])
@roles_required(Role.ADMIN)
def clear_sign_in_holds(user_id: int) -> Response:
    user = db.get_or_404(User, user_id)
    if ClearSignInHoldsForm().validate_on_submit():
        if staff_services.clear_sign_in_holds(current_user, user):
            db.session.commit()
            flash(f"Failed sign-ins of {user.username} cleared: they can sign in again.", "success")
        else:
            flash(f"No failed sign-ins were counted against {user.username}.", "info")
    return redirect(url_for("staff.detail", user_id=user.id))


@bp.route("/<int:user_id>/second-factor", methods=["POST"])
@roles_required(Role.ADMIN)
def reset_second_factor(user_id: int) -> Response:
    user = db.get_or_404(User, user_id)
    if ResetSecondFactorForm().validate_on_submit():
        staff_services.reset_second_factor(current_user, user)
        db.session.commit()
        flash(
            f"Second factor of {user.username} reset: they are signed out and set up their "
            "authenticator app again at their next sign-in.",
            "success",
        )
    return redirect(url_for("staff.detail", user_id=user.id))


def _set_active(user_id: int, active: bool) -> Response | str:
    user = db.get_or_404(User, user_id)
    if ActivationForm().validate_on_submit():
        try:
            staff_services.set_active(current_user, user, active)
        except staff_services.StaffError as error:
            db.session.rollback()
            flash(error.message, "danger")
        else:
            db.session.commit()
            flash(
                f"Account {user.username} {'reactivated' if active else 'deactivated'}.", "success"
            )
    return redirect(url_for("staff.detail", user_id=user.id))


def _render_detail(
    user: User,
    form: StaffDetailsForm | None = None,
    reset_form: ResetPasswordForm | None = None,
) -> tuple[str, int] | str:
    if form is None:
        form = StaffDetailsForm(formdata=None, obj=user)
    page = render_template(
        "staff/detail.html",
        user=user,
        form=form,
        reset_form=reset_form or ResetPasswordForm(formdata=None),
        activation_form=ActivationForm(formdata=None),
        sign_in_counts=throttle.counts_of(user),
        clear_holds_form=ClearSignInHoldsForm(formdata=None),
        second_factor_required=second_factor.is_required(user),
        recovery_codes_left=second_factor.recovery_codes_left(user),
        reset_second_factor_form=ResetSecondFactorForm(formdata=None),
        now=utcnow(),
    )
    has_errors = form.errors or (reset_form is not None and reset_form.errors)
    return (page, 422) if has_errors else page
