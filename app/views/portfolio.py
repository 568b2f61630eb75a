"""Admin upload form for the portfolio CSV import (same import as `flask domains import`)."""

from __future__ import annotations

import io

from flask import flash
from flask_appbuilder import SimpleFormView
from flask_appbuilder.forms import DynamicForm
from flask_wtf.file import FileField, FileRequired
from markupsafe import Markup

from renewal_reminder.renewals.portfolio import PortfolioImportError, import_portfolio
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
            return
        try:
            summary = import_portfolio(
                self.appbuilder.session,
                io.BytesIO(data),
            )
        except PortfolioImportError as exc:
            flash(
                Markup("Nothing was imported. {}:<ul>{}</ul>").format(
                    _plural(exc.total, "bad row"),
                    Markup("").join(Markup("<li>{}</li>").format(error) for error in exc.errors),
                ),
                "danger",
            )
            return
        flash(f"Imported {summary}.", "success")


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
