"""The public confirmation page (``/confirm/``): anyone with an activation code confirms or
declines one domain's renewal, without an account.

Public on purpose: no ``@has_access``. What protects it instead: codes are long and random and
stored only as HMACs (``renewal_reminder.renewals.codes``), every bad code gets the same
message, each POST is CSRF-checked and rate-limited per client address (the limit is attached
to this blueprint by the addon, from ``CONFIRMATION_RATE_LIMIT``), and the code is never put in
a URL the server sees or in a log line. The page works without JavaScript.
"""

from __future__ import annotations

import datetime as dt

from flask import request
from flask_appbuilder import BaseView, expose
from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, RadioField, StringField
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from renewal_reminder import settings as addon_settings
from renewal_reminder.i18n import gettext as _
from renewal_reminder.models import Decision, DecisionChannel, ProcessingState
from renewal_reminder.renewals import codes, decisions, mailer, notifications
from renewal_reminder.renewals.automation import AutomationSettings
from renewal_reminder.renewals.registrars import max_renewal_years
from renewal_reminder.session import current_mail, current_registrar
from renewal_reminder.views import TEMPLATE_FOLDER
from renewal_reminder.views.base import AddonView, send_receipts, too_many_attempts
from renewal_reminder.views.forms import SelectChoice


class CodeForm(FlaskForm):
    code = StringField("Activation code", validators=[InputRequired(), Length(max=200)])


class DecisionForm(FlaskForm):
    code = HiddenField(validators=[InputRequired(), Length(max=200)])
    decision = RadioField(
        "Decision",
        choices=[SelectChoice("renew", "Renew"), SelectChoice("decline", "Decline")],
        validators=[InputRequired()],
    )
    years = IntegerField("Years", default=1, validators=[Optional(), NumberRange(min=1, max=10)])


class RenewalsConfirmationView(AddonView, BaseView):
    route_base = "/confirm"
    default_view = "enter_code"
    template_folder = TEMPLATE_FOLDER

    def create_blueprint(self, appbuilder, endpoint=None, static_folder=None):
        blueprint = super().create_blueprint(appbuilder, endpoint, static_folder)
        blueprint.after_request(_not_cached)
        blueprint.register_error_handler(429, too_many_attempts)
        return blueprint

    @expose("/", methods=["GET", "POST"])
    def enter_code(self):
        """Step 1: the code. A valid code leads to step 2 on the same URL."""
        form = CodeForm()
        if request.method == "POST" and form.validate_on_submit():
            try:
                confirmation = codes.find_open_request(
                    self.appbuilder.session, _code_settings(), form.code.data
                )
            except codes.InvalidCode:
                return self._step1(form, error=True), 400
            return self._step2(confirmation, DecisionForm(code=form.code.data))
        status = 400 if request.method == "POST" else 200
        return self._step1(form, error=request.method == "POST"), status

    @expose("/decide", methods=["POST"])
    def decide(self):
        """Step 2: record the decision, consume the code, tell the sales contact."""
        session = self.appbuilder.session
        form = DecisionForm()
        if not form.validate_on_submit():
            try:
                confirmation = codes.find_open_request(session, _code_settings(), form.code.data)
            except codes.InvalidCode:
                return self._step1(CodeForm(formdata=None), error=True), 400
            return self._step2(confirmation, form), 400
        settings = _code_settings()
        try:
            confirmation = codes.find_open_request(session, settings, form.code.data)
        except codes.InvalidCode:
            return self._step1(CodeForm(formdata=None), error=True), 400
        domain = confirmation.domain
        decision = Decision(form.decision.data)
        choice = decisions.Choice(
            domain.id, decision, (form.years.data or 1) if decision is Decision.renew else None
        )
        try:
            recorded = decisions.record_decisions(
                session,
                relation=domain.relation,
                choices=[choice],
                channel=DecisionChannel.confirmation_code,
                decided_by_id=None,
                remote_addr=request.remote_addr,
                prepare=lambda s: codes.consume(s, confirmation),
            )
        except codes.InvalidCode:
            return self._step1(CodeForm(formdata=None), error=True), 400
        except decisions.PeriodTooLong as exc:
            # Nothing was saved and the code is still unused: choose again on the same page.
            return self._step2(confirmation, form, problem=str(exc)), 422
        except decisions.DecisionRejected as exc:
            return self.render_template(
                "rr/confirm_result.html",
                title=_("Renewal confirmation"),
                t=_,
                problem=str(exc),
                domain=domain,
                decision=None,
                years=None,
            ), 409
        notification = None
        if recorded.changed:
            notification = notifications.notify_sales_of_decisions(
                session,
                current_mail(),
                mailer.MailSettings.from_config(addon_settings.current()),
                domain.relation,
                recorded,
                decided_by=f"The holder of {domain.unicode_name}, with the emailed activation code",
                channel=DecisionChannel.confirmation_code.value,
            )
        send_receipts(session, recorded.receipts)
        return self.render_template(
            "rr/confirm_result.html",
            title=_("Renewal confirmation"),
            t=_,
            problem=None,
            domain=domain,
            decision=decision.value,
            years=choice.years,
            informed=notification.informed.value if notification else None,
            removal_date=_removal_date(domain),
        )

    def _step1(self, form: CodeForm, error: bool = False):
        return self.render_template(
            "rr/confirm_code.html",
            title=_("Confirm a renewal"),
            form=form,
            error=error,
            t=_,
        )

    def _step2(self, confirmation, form: DecisionForm, problem: str | None = None):
        domain = confirmation.domain
        max_years = max_renewal_years(domain.expiry_date, dt.date.today())
        current = decisions.current_decisions(self.appbuilder.session, [domain.id]).get(domain.id)
        return self.render_template(
            "rr/confirm_decide.html",
            title=_("Confirm a renewal"),
            form=form,
            domain=domain,
            max_years=max_years,
            period_hint=decisions.period_hint(max_years),
            failed=current is not None and current.state is ProcessingState.failed,
            problem=problem,
            t=_,
        )


def _code_settings() -> codes.CodeSettings:
    return codes.CodeSettings.from_config(addon_settings.current())


def _not_cached(response):
    """Step 2 carries the code in a hidden field: keep these pages out of caches."""
    response.headers["Cache-Control"] = "no-store"
    return response


def _removal_date(domain) -> str | None:
    """When a declined domain is deleted, if it will be (``AutomationSettings.will_delete``);
    None when it only lapses."""
    removal = AutomationSettings.from_config(addon_settings.current())
    if not removal.will_delete(current_registrar().can_execute):
        return None
    return removal.removal_date(domain.expiry_date).isoformat()
