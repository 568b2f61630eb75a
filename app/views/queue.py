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
from sqlalchemy import select

from renewal_reminder import settings
from renewal_reminder.models import Decision, Relation
from renewal_reminder.models.base import utcnow
from renewal_reminder.renewals import access, deadlines, processing
from renewal_reminder.renewals.decisions import tree_relation_ids
from renewal_reminder.renewals.registrars import renewed_expiry
from renewal_reminder.renewals.validation import InvalidValue
from renewal_reminder.session import current_registrar
from renewal_reminder.views import TEMPLATE_FOLDER
from renewal_reminder.views.base import AddonView, send_receipts
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
        relation = self._relation_filter()
        today = dt.date.today()
        lead_days = deadlines.DeadlineSettings.from_config(settings.current()).lead_days
        order = {"today": today, "lead_days": lead_days}  # overdue renewals first
        if relation is None:
            decisions = processing.queue(self.appbuilder.session, g.user, **order)
        else:
            # One relation's decisions (and its clients'), as linked from a sales notification.
            decisions = processing.queue(
                self.appbuilder.session, g.user, relation_ids=tree_relation_ids(relation), **order
            )
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
            relation=relation,
            proposed=proposed,
            due=due,
            lead_days=lead_days,
            backend=backend,
            form=QueueForm(),
            now=utcnow(),
            claim_timeout=processing.CLAIM_TIMEOUT,
        )

    def _relation_filter(self) -> Relation | None:
        """The relation named by ``?relation=NUMBER``; 404 when it is not one the user may
        see (as for a relation that does not exist)."""
        text = (request.values.get("relation") or "").strip().lstrip("#")
        if not text:
            return None
        number = positive_int(text)
        db = self.appbuilder.session
        relation = db.scalar(select(Relation).where(Relation.number == number)) if number else None
        if relation is None or not access.can_access_relation(db, g.user, relation.id):
            abort(404)
        return relation

    def _back(self):
        """Back to the queue, still filtered to the relation it was filtered to."""
        number = positive_int((request.form.get("relation") or "").strip())
        return redirect(url_for(".index", relation=number) if number else url_for(".index"))

    @expose("/execute", methods=["POST"])
    @has_access
    @permission_name("process")
    def execute(self):
        form = QueueForm()
        if not form.validate_on_submit():
            flash("The form expired; nothing was executed. Please try again.", "danger")
            return self._back()
        ids = list(dict.fromkeys(positive_int(value) for value in request.form.getlist("rowid")))
        if None in ids:
            abort(400)
        if not ids:
            flash("Select at least one decision.", "warning")
            return self._back()
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
            return self._back()
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
        send_receipts(self.appbuilder.session, (k for o in result.outcomes for k in o.receipts))
        for outcome in result.outcomes:
            flash(str(outcome), "success" if outcome.ok else "danger")
        for message in result.skipped:
            flash(message, "warning")
        return self._back()
