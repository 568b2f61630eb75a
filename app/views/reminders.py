"""Admin screens of the reminder run: the email templates and the reminder log.

Both are Admin-only (no builtin role grants them). Templates are checked before they are
saved: every part must compile and render, in the same sandbox the emails use, on every
sample context of its kind (``renewal_reminder.renewals.template_samples``: reminder digests, sales
notifications, ...). The first sample also feeds the preview page and the list of values on
the edit page.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from flask import abort, flash, redirect, request, url_for
from flask_appbuilder import ModelView, expose, has_access
from flask_appbuilder.actions import action
from flask_appbuilder.exceptions import DatabaseException
from flask_appbuilder.fieldwidgets import BS3TextAreaFieldWidget
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.widgets import ListWidget
from sqlalchemy import select
from wtforms import TextAreaField
from wtforms.validators import DataRequired
from wtforms.widgets import TextArea

from renewal_reminder import jobs, settings
from renewal_reminder.models import Domain, EmailTemplate, Relation, ReminderLog
from renewal_reminder.models.base import utcnow
from renewal_reminder.renewals import email_templates, reminders, template_samples
from renewal_reminder.renewals.email_templates import (
    DEFAULTS,
    PURPOSES,
    RENEWAL_REMINDER,
    TemplateProblem,
    TemplateSource,
)
from renewal_reminder.renewals.reminders import ReminderSettings
from renewal_reminder.session import current_registrar, current_session
from renewal_reminder.views import TEMPLATE_FOLDER
from renewal_reminder.views.base import AddonView
from renewal_reminder.views.forms import form_error
from renewal_reminder.views.params import positive_int
from renewal_reminder.views.scoping import SafeListArgumentsMixin, use_text_filters


def _settings() -> ReminderSettings:
    return dataclasses.replace(
        ReminderSettings.from_config(settings.current()),
        registrar_executes=current_registrar().can_execute,
    )


def _variables(row: EmailTemplate) -> list[dict] | None:
    """What the edit page lists as available values: the keys of the template's samples."""
    if not template_samples.has_samples(row.name):
        return None
    return template_samples.available_variables(_sample_contexts(row.name, row.language))


# --- email templates ----------------------------------------------------------------------------

_PART_OF_FIELD = {"subject": "subject", "text_body": "text", "html_body": "html"}


def check_part(field_name: str, text: str, name: str, language: str) -> None:
    """Raise ``TemplateProblem`` unless one part renders on every sample context of the
    template's kind (``name``)."""
    source = TemplateSource(
        **{field: text if field == field_name else "" for field in _PART_OF_FIELD}
    )
    for context in _sample_contexts(name, language):
        try:
            email_templates.render(source, context)
        except TemplateProblem:
            raise
        except Exception as exc:  # e.g. {{ 1 / 0 }}: Python errors are not TemplateErrors
            raise TemplateProblem(
                f"{_PART_OF_FIELD[field_name]}: {type(exc).__name__}: {exc}"
            ) from None


def _sample_contexts(name: str, language: str) -> list[dict]:
    settings = _settings()
    return template_samples.sample_contexts(
        name, language, dt.date.today(), settings.mail, settings
    )


class RendersOnSampleData:
    """A form validator: the field's template compiles and renders in the sandbox."""

    def __call__(self, form, field):
        if field.data is None:
            return
        name, language = _kind_of_form(form)
        if not template_samples.has_samples(name):  # it cannot be checked
            raise form_error(f"Not saved: there is no sample data for {name} templates.")
        try:
            check_part(field.name, field.data, name, language)
        except TemplateProblem as exc:
            raise form_error(f"Not saved: {exc}") from None


def _kind_of_form(form) -> tuple[str, str]:
    """The name and language of the template being edited (FAB puts its id on the form as
    ``_id``); looked up once per form."""
    kind = getattr(form, "_rr_template_kind", None)
    if kind is None:
        kind = (RENEWAL_REMINDER, email_templates.DEFAULT_LANGUAGE)
        pk = getattr(form, "_id", None)
        if pk is not None:
            row = (
                current_session()
                .execute(
                    select(EmailTemplate.name, EmailTemplate.language).where(EmailTemplate.id == pk)
                )
                .first()
            )
            if row is not None and row.name and row.language:
                kind = (row.name, row.language)
        form._rr_template_kind = kind
    return kind


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


class RenewalsEmailTemplateView(AddonView, SafeListArgumentsMixin, ModelView):
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
        elif template == self.edit_template:
            pk = (request.view_args or {}).get("pk")
            row = self.appbuilder.session.get(EmailTemplate, pk) if pk is not None else None
            if row is not None:
                kwargs["variables"] = _variables(row)
        return super().render_template(template, **kwargs)

    @expose("/preview/<int:pk>", methods=["GET", "POST"])
    @has_access
    def preview(self, pk):
        """The template rendered on the first sample context of its kind. GET: as stored; POST
        (from the edit form): the posted, unsaved text. For renewal reminders, ``relation`` (a
        relation number) addresses the sample reminders to a real relation; other kinds ignore
        it."""
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
        settings, today = _settings(), dt.date.today()
        context, digest, relation_number = None, None, ""
        if template_samples.has_samples(row.name):
            context = template_samples.sample_contexts(
                row.name, row.language, today, settings.mail, settings
            )[0]
        if row.name == RENEWAL_REMINDER:
            digest = template_samples.sample_digest(today, row.language)
            number = (values.get("relation") or "").strip().lstrip("#")[:20]
            if number:
                relation, wanted = None, positive_int(number)
                if wanted is not None:
                    relation = session.scalar(select(Relation).where(Relation.number == wanted))
                if relation is None:
                    flash(f"No relation number {number}: showing the sample relation.", "warning")
                else:
                    digest = template_samples.relation_digest(
                        session, relation, today, row.language, settings.mail
                    )
                    context = reminders.digest_context(digest, today, settings)
                    relation_number = str(relation.number)
        rendered, problem = None, None
        if context is None:
            problem = f"there is no sample data for {row.name} templates"
        else:
            try:
                rendered = email_templates.render(source, context)
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
            sample=context,
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
            try:  # FAB 5's edit returns nothing and raises on failure
                self.datamodel.edit(row)
            except DatabaseException:
                flash(self.database_error_message, "danger")
            else:
                flash(f"{row} is back to the shipped default.", "success")
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


class RenewalsReminderLogView(AddonView, SafeListArgumentsMixin, ModelView):
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
