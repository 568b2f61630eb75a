"""The expiration list (``/expirations/``): for Sales and Admin, the domains expiring in a
window, filtered, with totals per month and a CSV export of every matching row.

Thin: parsing the query string and showing results; the rules (window, filters, scope) live in
``renewal_reminder.renewals.expirations``. Read-only: GET forms only, so nothing here needs CSRF.
"""

from __future__ import annotations

import datetime as dt

from flask import g, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name

from renewal_reminder import settings
from renewal_reminder.models import Decision, DomainStatus
from renewal_reminder.renewals import expirations
from renewal_reminder.views import TEMPLATE_FOLDER
from renewal_reminder.views.base import AddonView
from renewal_reminder.views.csv_export import CSV_HEADER, spreadsheet_safe, stream_csv

#: The expiration export: the domain columns of every domain export, then the decision.
EXPORT_HEADER = [*CSV_HEADER, "sales_contact", "decision", "decision_years", "decision_state"]

WINDOW_LABELS = {
    expirations.THIS_MONTH: "This month",
    expirations.NEXT_3_MONTHS: "Next 3 months",
    expirations.CUSTOM: "Custom dates",
    expirations.EXPIRED: "Already expired",
}
DECISION_LABELS = {
    expirations.AWAITING: "Awaiting decision",
    Decision.renew.value: "Renew",
    Decision.decline.value: "Decline",
}


class RenewalsExpirationListView(AddonView, BaseView):
    route_base = "/expirations"
    default_view = "index"
    template_folder = TEMPLATE_FOLDER

    @expose("/")
    @has_access
    @permission_name("view")
    def index(self):
        today = dt.date.today()
        try:
            filters = expirations.parse_filters(request.args)
        except expirations.InvalidFilter as exc:
            return self._page(today, None, None, error=str(exc)), 400
        result = expirations.expiration_list(
            self.appbuilder.session,
            g.user,
            filters,
            today,
            limit=max(1, int(settings.current()["EXPIRATION_LIST_LIMIT"])),
        )
        return self._page(today, filters, result)

    @expose("/export.csv")
    @has_access
    @permission_name("view")
    def export_csv(self):
        """Every row the page's filters match (not just the page's first rows), same scope."""
        today = dt.date.today()
        try:
            filters = expirations.parse_filters(request.args)
        except expirations.InvalidFilter as exc:
            return self._page(today, None, None, error=str(exc)), 400
        pages = expirations.iter_expiration_rows(self.appbuilder.session, g.user, filters, today)
        return stream_csv(
            EXPORT_HEADER,
            ([_csv_row(row) for row in rows] for rows in pages),
            f"expirations-{today}.csv",
        )

    def _page(self, today, filters, result, error=None):
        args = request.args
        return self.render_template(
            "rr/expirations.html",
            title="Expiration list",
            today=today,
            filters=filters,
            result=result,
            error=error,
            # The form shows what was typed, even when it was not valid.
            form={
                name: (args.get(name) or "")[:40]
                for name in ("window", "from", "to", "relation", "status", "decision")
            },
            window=filters.window if filters else (args.get("window") or "")[:40],
            export_url=url_for(".export_csv", **filters.as_params()) if filters else None,
            domain_url=url_for("RenewalsDomainView.show", pk=0)[:-1],
            windows=WINDOW_LABELS,
            statuses=[status.value for status in DomainStatus],
            decision_labels=DECISION_LABELS,
        )


def _csv_row(row: expirations.ExpirationRow) -> list:
    return [
        row.name,
        row.ascii_name,
        row.relation_number,
        spreadsheet_safe(row.relation_name),
        row.expiry_date.isoformat(),
        row.days_left,
        row.status.value,
        row.renewal_years or "",
        spreadsheet_safe(row.sales_contact),
        row.decision.value if row.decision else "",
        row.decision_years or "",
        row.decision_state.value if row.decision_state else "",
    ]
