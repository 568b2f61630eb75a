"""Admin screens of the reminder run: the email templates and the reminder log.

Both are Admin-only (no builtin role grants them). Templates are checked before they are
saved: every part must compile and render, in the same sandbox the reminder job uses, on
sample digests. The sample digests also feed the preview page.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from dateutil.relativedelta import relativedelta
from flask import abort, current_app, flash, redirect, request, url_for
from flask_appbuilder import ModelView, expose, has_access
from flask_appbuilder.actions import action
from flask_appbuilder.fieldwidgets import BS3TextAreaFieldWidget
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.widgets import ListWidget
from sqlalchemy import select
from wtforms import TextAreaField
from wtforms.validators import DataRequired, ValidationError
from wtforms.widgets import TextArea

from app import jobs
from app.models import Domain, EmailTemplate, Relation, RelationKind, ReminderLog
from app.models.base import utcnow
from app.renewals import email_templates, reminders
from app.renewals.calendar import Offset
from app.renewals.email_templates import DEFAULTS, PURPOSES, TemplateProblem, TemplateSource
from app.renewals.reminders import Digest, DueReminder, Recipient, ReminderSettings
from app.session import current_session
from app.views import TEMPLATE_FOLDER
from app.views.scoping import use_text_filters

# --- sample data --------------------------------------------------------------------------------

#: The recipient of the sample digest: a reseller with a sales contact.
SAMPLE_RECIPIENT = Recipient(
    relation_id=-1,
    number=1311,
    name="Dommelsen, V",
    email="info@dommelsen.nl",
    language="en",
    sales_contact_name="Sanne de Vries",
    sales_contact_email="sanne.devries@reseller.example.com",
)
_SAMPLE_CLIENT = (-2, "Bakkerij Jansen")


def sample_reminders(
    today: dt.date, recipient_id: int, holder_name: str, with_client: bool = True
) -> list[DueReminder]:
    """A few reminders due today: one in 5 days, two in 2 months and (``with_client``, for a
    reseller) one of a client's domains in 15 days."""

    def due(domain_id, name, expiry, offset, holder=(recipient_id, holder_name)):
        holder_id, name_of_holder = holder
        return DueReminder(
            domain_id,
            name,
            expiry,
            Offset.parse(offset),
            holder_id,
            name_of_holder,
            recipient_id,
            None,
        )

    two_months = today + relativedelta(months=2)
    result = [
        due(1, "deliverystatus.org", today + dt.timedelta(days=5), "5d"),
        due(2, "denzelishome.com", two_months, "2m"),
        due(3, "drivemasters.net", two_months, "2m"),
    ]
    if with_client:
        result.append(
            due(4, "bakkerijjansen.nl", today + dt.timedelta(days=15), "15d", _SAMPLE_CLIENT)
        )
    return result


def sample_digest(today: dt.date, language: str) -> Digest:
    """The digest the preview shows: reseller #1311 with a sales contact and a client's domain."""
    recipient = dataclasses.replace(SAMPLE_RECIPIENT, language=language)
    return Digest(recipient, sample_reminders(today, recipient.relation_id, recipient.name))


def sample_digests(today: dt.date, language: str) -> list[Digest]:
    """Digests a template must render for before it is saved: the preview's, and a plain
    client's without a sales contact or client domains (the other side of every ``if``)."""
    plain = dataclasses.replace(
        SAMPLE_RECIPIENT,
        relation_id=-3,
        number=2024,
        name="Veldhoven Webdesign",
        email="admin@veldhoven-webdesign.nl",
        language=language,
        sales_contact_name=None,
        sales_contact_email=None,
    )
    own = sample_reminders(today, plain.relation_id, plain.name, with_client=False)
    return [sample_digest(today, language), Digest(plain, own)]


def relation_digest(session, relation: Relation, today: dt.date, language: str) -> Digest:
    """The sample reminders, addressed to a real relation (loaded as the reminder job does)."""
    due = sample_reminders(
        today, relation.id, relation.name, with_client=relation.kind is RelationKind.reseller
    )
    (digest,) = reminders.digests(session, due)
    return Digest(dataclasses.replace(digest.recipient, language=language), digest.reminders)


def _settings() -> ReminderSettings:
    return ReminderSettings.from_config(current_app.config)


# --- email templates ----------------------------------------------------------------------------

_PART_OF_FIELD = {"subject": "subject", "text_body": "text", "html_body": "html"}


def check_part(field_name: str, text: str, language: str) -> None:
    """Raise ``TemplateProblem`` unless one part renders on every sample digest."""
    source = TemplateSource(**{name: text if name == field_name else "" for name in _PART_OF_FIELD})
    today = dt.date.today()
    settings = _settings()
    for digest in sample_digests(today, language):
        context = reminders.digest_context(digest, today, settings)
        try:
            email_templates.render(source, context)
        except TemplateProblem:
            raise
        except Exception as exc:  # e.g. {{ 1 / 0 }}: Python errors are not TemplateErrors
            raise TemplateProblem(
                f"{_PART_OF_FIELD[field_name]}: {type(exc).__name__}: {exc}"
            ) from None


class RendersOnSampleData:
    """A form validator: the field's template compiles and renders in the sandbox."""

    def __call__(self, form, field):
        if field.data is None:
            return
        try:
            check_part(field.name, field.data, _language_of_form(form))
        except TemplateProblem as exc:
            raise ValidationError(f"Not saved: {exc}") from None


def _language_of_form(form) -> str:
    """The language of the template being edited (FAB puts its id on the form as ``_id``)."""
    pk = getattr(form, "_id", None)
    if pk is not None:
        language = current_session().scalar(
            select(EmailTemplate.language).where(EmailTemplate.id == pk)
        )
        if language:
            return language
    return email_templates.DEFAULT_LANGUAGE


class CodeAreaWidget(BS3TextAreaFieldWidget):
    """FAB's text area (which fixes 3 rows) made tall and monospaced, for template source."""

    def __init__(self, rows: int = 15):
        super().__init__()
        self.rows = rows

    def __call__(self, field, **kwargs):
        kwargs["class"] = "form-control"
        kwargs["rows"] = self.rows
        kwargs.setdefault("spellcheck", "false")
        kwargs.setdefault("style", "font-family: monospace; font-size: 12px")
        return TextArea.__call__(self, field, **kwargs)


def _template_field(label: str, description: str) -> TextAreaField:
    return TextAreaField(
        label,
        description=description,
        validators=[DataRequired(), RendersOnSampleData()],
        widget=CodeAreaWidget(),
    )


class EmailTemplateView(ModelView):
    """Admin edits the shipped emails; rows are created at start-up and never deleted."""

    route_base = "/email-templates"
    datamodel = SQLAInterface(EmailTemplate)
    template_folder = TEMPLATE_FOLDER
    base_permissions = ["can_list", "can_show", "can_edit", "can_preview"]

    list_title = "Email templates"
    show_title = "Email template"
    edit_title = "Edit email template"
    list_columns = ["name", "language", "subject", "updated_at"]
    show_columns = ["name", "language", "subject", "text_body", "html_body", "updated_at"]
    edit_columns = ["subject", "text_body", "html_body"]
    search_columns = ["name", "language"]
    order_columns = ["name", "language", "updated_at"]
    base_order = ("name", "asc")
    label_columns = {
        "text_body": "Plain text",
        "html_body": "HTML",
        "updated_at": "Last changed (UTC)",
    }
    description_columns = {
        "subject": "One line; line breaks are removed when the email is sent.",
    }
    validators_columns = {"subject": [RendersOnSampleData()]}
    edit_form_extra_fields = {
        "text_body": _template_field(
            "Plain text", "The text part of the email, shown by mail programs without HTML."
        ),
        "html_body": _template_field(
            "HTML", "The HTML part. Values are escaped automatically: write {{ relation.name }}."
        ),
    }
    list_template = "rr/email_template_list.html"
    show_template = "rr/email_template_show.html"
    edit_template = "rr/email_template_edit.html"

    def render_template(self, template, **kwargs):
        kwargs.setdefault("purposes", PURPOSES)
        if template == self.list_template:
            kwargs["email_templates"] = self.appbuilder.session.scalars(
                select(EmailTemplate).order_by(EmailTemplate.name, EmailTemplate.language)
            ).all()
        return super().render_template(template, **kwargs)

    @expose("/preview/<int:pk>", methods=["GET", "POST"])
    @has_access
    def preview(self, pk):
        """The template rendered on sample data. GET: as stored; POST (from the edit form):
        the posted, unsaved text. ``relation`` (a relation number) addresses a real relation."""
        session = self.appbuilder.session
        row = session.get(EmailTemplate, pk)
        if row is None:
            abort(404)
        values = request.form if request.method == "POST" else request.args
        if request.method == "POST":
            source = TemplateSource(
                values.get("subject", ""), values.get("text_body", ""), values.get("html_body", "")
            )
        else:
            source = TemplateSource(row.subject, row.text_body, row.html_body)
        today = dt.date.today()
        digest, relation_number = sample_digest(today, row.language), ""
        number = (values.get("relation") or "").strip().lstrip("#")[:20]
        if number:
            relation = None
            if number.isdigit() and len(number) <= 9:
                relation = session.scalar(select(Relation).where(Relation.number == int(number)))
            if relation is None:
                flash(f"No relation number {number}: showing the sample relation.", "warning")
            else:
                digest = relation_digest(session, relation, today, row.language)
                relation_number = str(relation.number)
        rendered, problem = None, None
        try:
            rendered = email_templates.render(
                source, reminders.digest_context(digest, today, _settings())
            )
        except TemplateProblem as exc:
            problem = str(exc)
        except Exception as exc:
            problem = f"{type(exc).__name__}: {exc}"
        return self.render_template(
            "rr/email_template_preview.html",
            title=f"Preview: {row}",
            row=row,
            unsaved=request.method == "POST",
            digest=digest,
            relation_number=relation_number,
            rendered=rendered,
            problem=problem,
        )

    @action(
        "reset_to_default",
        "Reset to default",
        "Replace this template with the shipped default? Your changes are lost.",
        "fa-undo",
        multiple=False,
        single=True,
    )
    def reset_to_default(self, row):
        if isinstance(row, list):  # only offered on a single row, but be safe
            row = row[0] if len(row) == 1 else None
        if row is None:
            abort(404)
        default = DEFAULTS.get((row.name, row.language))
        if default is None:
            flash(f"There is no shipped default for {row}.", "warning")
        else:
            row.subject = default.subject
            row.text_body = default.text_body
            row.html_body = default.html_body
            if self.datamodel.edit(row):
                flash(f"{row} is back to the shipped default.", "success")
            else:
                flash(self.database_error_message, "danger")
        return redirect(url_for(f"{type(self).__name__}.show", pk=row.id))


# --- reminder log -------------------------------------------------------------------------------


class FilterDomainName(BaseFilter):
    """Log rows whose domain name contains the text (Unicode or ASCII form)."""

    name = "Domain contains"
    arg_name = "dom"

    def apply(self, query, value):
        value = (value or "").strip().lower()
        if not value:
            return query
        try:
            ascii_value = value.encode("idna").decode("ascii")
        except UnicodeError:
            ascii_value = value
        domains = select(Domain.id).where(Domain.name.contains(ascii_value, autoescape=True))
        return query.filter(ReminderLog.domain_id.in_(domains))


def _short(text: str | None, limit: int = 80) -> str:
    if not text:
        return ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ShortErrorsListWidget(ListWidget):
    """The list shows errors shortened; the show page keeps the whole message."""

    def __init__(self, **kwargs):
        formatters = dict(kwargs.get("formatters_columns") or {})
        formatters.setdefault("error", _short)
        super().__init__(**{**kwargs, "formatters_columns": formatters})


class ReminderLogView(ModelView):
    """Every reminder the job claimed, sent, failed or skipped; read-only."""

    route_base = "/reminder-log"
    datamodel = SQLAInterface(ReminderLog)
    template_folder = TEMPLATE_FOLDER
    base_permissions = ["can_list", "can_show"]

    list_title = "Reminder log"
    show_title = "Reminder"
    list_columns = [
        "domain",
        "expiry_date",
        "offset_code",
        "reminder_date",
        "run_date",
        "recipient",
        "status",
        "attempts",
        "sent_at",
        "error",
    ]
    show_columns = list_columns + ["claimed_at", "created_at"]
    # No "domain" dropdown (it would list every domain): a text filter replaces it.
    search_columns = ["domain_id", "status", "recipient", "run_date", "expiry_date"]
    order_columns = [
        "expiry_date",
        "offset_code",
        "reminder_date",
        "run_date",
        "recipient",
        "status",
        "attempts",
        "sent_at",
        "created_at",
    ]
    base_order = ("created_at", "desc")
    label_columns = {
        "domain_id": "Domain",
        "expiry_date": "Expiry date",
        "offset_code": "Offset",
        "reminder_date": "Due on",
        "run_date": "Run date",
        "sent_at": "Sent at (UTC)",
        "claimed_at": "Claimed at (UTC)",
        "created_at": "Logged at (UTC)",
    }
    description_columns = {
        "offset_code": "3m = three months before expiry, 5d = five days before, 0d = on the "
        "expiry day, +3d = three days after.",
    }
    list_widget = ShortErrorsListWidget
    list_template = "rr/reminder_log_list.html"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        use_text_filters(self, "domain_id", [FilterDomainName])

    def render_template(self, template, **kwargs):
        if template == self.list_template:
            kwargs.update(job_state(self.appbuilder.session))
        return super().render_template(template, **kwargs)


def job_state(session) -> dict:
    """The reminder job's last run, its next scheduled run, and whether that is overdue."""
    next_run_at = jobs.next_scheduled_run(session, jobs.REMINDERS)
    return {
        "last_run": jobs.last_run(session, jobs.REMINDERS),
        "next_run_at": next_run_at,
        "next_run_overdue": bool(next_run_at and next_run_at < utcnow()),
    }
