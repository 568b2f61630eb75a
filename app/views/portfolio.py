"""Admin upload form for the portfolio CSV import (same import as `flask domains import`)."""

from __future__ import annotations

import io

from flask import flash
from flask_appbuilder import SimpleFormView
from flask_appbuilder.forms import DynamicForm
from flask_wtf.file import FileField, FileRequired

from app.renewals.portfolio import PortfolioImportError, import_portfolio

MAX_UPLOAD_BYTES = 64 * 1024 * 1024


class PortfolioUploadForm(DynamicForm):
    csv_file = FileField(
        "Portfolio CSV",
        validators=[FileRequired()],
        description="UTF-8 CSV with the columns domain, expiry_date, relation_number, "
        "relation_name, relation_email (optional: relation_kind, reseller_number, "
        "sales_contact_email, language, status). Nothing is imported if any row is bad.",
    )


class PortfolioImportView(SimpleFormView):
    route_base = "/portfolio-import"
    form = PortfolioUploadForm
    form_title = "Import portfolio"

    def form_post(self, form):
        data = form.csv_file.data.read(MAX_UPLOAD_BYTES + 1)
        if len(data) > MAX_UPLOAD_BYTES:
            flash("Nothing was imported: the file is larger than 64 MB.", "danger")
            return
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            flash("Nothing was imported: the file is not UTF-8 text.", "danger")
            return
        try:
            summary = import_portfolio(self.appbuilder.session, io.StringIO(text, newline=""))
        except PortfolioImportError as exc:
            flash(f"Nothing was imported. {exc}", "danger")
            return
        flash(f"Imported {summary}.", "success")
