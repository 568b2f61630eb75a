"""The renewal queue (``/queue/``): sales contacts carry out what customers decided.

Thin: the queue, the claim and the registrar call live in
``renewal_reminder.renewals.processing``."""

from __future__ import annotations

import datetime as dt
import re

from flask import abort, flash, g, redirect, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name
from flask_wtf import FlaskForm

from renewal_reminder import settings
from renewal_reminder.models import Decision
from renewal_reminder.models.base import utcnow
from renewal_reminder.renewals import access, deadlines, processing
from renewal_reminder.renewals.registrars import renewed_expiry
from renewal_reminder.renewals.validation import InvalidValue
from renewal_reminder.session import current_registrar
from renewal_reminder.views import TEMPLATE_FOLDER
from renewal_reminder.views.base import AddonView
from renewal_reminder.views.params import positive_int

_EXPIRY_FIELD = re.compile(r"^new_expiry-([0-9]{1,9})$")


class QueueForm(FlaskForm):
    """Carries the CSRF token; the selected rows are parsed from the form by the view."""


class RenewalsQueueView(AddonView, BaseView):
    route_base = "/queue"
    default_view = "index"
    template_folder = TEMPLATE_FOLDER

    @expose("/")
    @has_access
    @permission_name("process")
    def index(self):
        backend = current_registrar()
        today = dt.date.today()
        lead_days = deadlines.DeadlineSettings.from_config(settings.current()).lead_days
        order = {"today": today, "lead_days": lead_days}  # overdue renewals first
        decisions = processing.queue(self.appbuilder.session, g.user, **order)
        proposed = {
            d.id: renewed_expiry(d.expiry_date, d.years)
            for d in decisions
            if d.decision is Decision.renew
        }
        due = {
            d.id: deadlines.deadline(d.expiry_date, today, lead_days)
            for d in decisions
            if d.decision is Decision.renew
        }
        return self.render_template(
            "rr/queue.html",
            title="Renewal queue",
            decisions=decisions,
            proposed=proposed,
            due=due,
            lead_days=lead_days,
            backend=backend,
            form=QueueForm(),
            now=utcnow(),
            claim_timeout=processing.CLAIM_TIMEOUT,
        )

    @expose("/execute", methods=["POST"])
    @has_access
    @permission_name("process")
    def execute(self):
        form = QueueForm()
        if not form.validate_on_submit():
            flash("The form expired; nothing was executed. Please try again.", "danger")
            return redirect(url_for(".index"))
        ids = list(dict.fromkeys(positive_int(value) for value in request.form.getlist("rowid")))
        if None in ids:
            abort(400)
        if not ids:
            flash("Select at least one decision.", "warning")
            return redirect(url_for(".index"))
        try:
            action = processing.DeclineAction(request.form.get("decline_action", "deactivate"))
        except ValueError:
            abort(400)
        new_expiries, problems, today = {}, [], dt.date.today()
        for key, value in request.form.items():
            match = _EXPIRY_FIELD.match(key)
            if match and int(match.group(1)) in ids and value.strip():
                try:
                    new_expiries[int(match.group(1))] = processing.parse_new_expiry(value, today)
                except InvalidValue as exc:
                    problems.append(str(exc))
        if problems:
            flash("Nothing was executed: " + "; ".join(problems), "danger")
            return redirect(url_for(".index"))
        try:
            result = processing.execute_many(
                self.appbuilder.session,
                current_registrar(),
                g.user,
                ids,
                new_expiries=new_expiries if not current_registrar().can_execute else None,
                decline_action=action,
            )
        except access.AccessDenied:
            abort(404)
        for outcome in result.outcomes:
            flash(str(outcome), "success" if outcome.ok else "danger")
        for message in result.skipped:
            flash(message, "warning")
        return redirect(url_for(".index"))
