"""Admin upload form for the portfolio CSV import (same import as `flask domains import`)."""

from __future__ import annotations

from flask import abort, current_app, flash, g, redirect, url_for
from flask_appbuilder import SimpleFormView, expose, has_access
from flask_appbuilder.forms import DynamicForm
from flask_appbuilder.security.decorators import permission_name
from flask_wtf.file import FileField, FileRequired
from markupsafe import Markup

from renewal_reminder import settings
from renewal_reminder.models import ImportJob, ImportStatus
from renewal_reminder.renewals import import_jobs
from renewal_reminder.views.base import AddonView

MAX_UPLOAD_BYTES = 64 * 1024 * 1024


class PortfolioUploadForm(DynamicForm):
    csv_file = FileField(
        "Portfolio CSV",
        validators=[FileRequired()],
        description="UTF-8 CSV with the columns domain, expiry_date, relation_number, "
        "relation_name, relation_email (optional: relation_kind, reseller_number, "
        "sales_contact_email, language, status). Nothing is imported if any row is bad.",
    )


class RenewalsImportView(AddonView, SimpleFormView):
    route_base = "/portfolio-import"
    accepts_files = True  # the one form that takes a file (views.fab_guard)
    form = PortfolioUploadForm
    form_title = "Import portfolio"

    def form_post(self, form):
        data = form.csv_file.data.read(MAX_UPLOAD_BYTES + 1)
        if len(data) > MAX_UPLOAD_BYTES:
            flash("Nothing was imported: the file is larger than 64 MB.", "danger")
            return None
        db = self.appbuilder.session
        try:
            job = import_jobs.create(
                db,
                filename=form.csv_file.data.filename or "portfolio.csv",
                size=len(data),
                user_id=g.user.id,
            )
        except import_jobs.ImportBusy as busy:
            flash(
                Markup(
                    'Nothing was imported: <a href="{}">another import</a> is still running. '
                    "Upload the file again when it has finished."
                ).format(url_for(".job", job_id=busy.job.id)),
                "warning",
            )
            return None
        db.commit()
        if len(data) > int(settings.current()["IMPORT_BACKGROUND_BYTES"]):
            import_jobs.run_in_background(current_app._get_current_object(), job.id, data)
        else:
            import_jobs.run(db, job.id, data)
        return redirect(url_for(".job", job_id=job.id))

    @expose("/jobs/<int:job_id>")
    @has_access
    @permission_name("this_form_get")  # whoever may import may watch the import
    def job(self, job_id: int):
        job = self.appbuilder.session.get(ImportJob, job_id)
        if job is None:
            abort(404)
        progress = import_jobs.progress_of(job.id)
        broke_off = import_jobs.broke_off(job)
        return self.render_template(
            "rr/import_job.html",
            title="Portfolio import",
            job=job,
            running=job.status is ImportStatus.running and not broke_off,
            broke_off=broke_off,
            progress=progress,
            error_count=_plural(job.error_total or 0, "bad row"),
        )


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
