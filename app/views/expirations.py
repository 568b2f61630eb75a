"""The expiration list (``/expirations/``): for Sales and Admin, the domains expiring in a
window, filtered, with totals per month and a CSV export of every matching row.

Thin: parsing the query string and showing results; the rules (window, filters, scope) live in
``renewal_reminder.renewals.expirations``. Read-only: GET forms only, so nothing here needs CSRF.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence

from flask import g, request, url_for
from flask_appbuilder import BaseView, expose, has_access
from flask_appbuilder.security.decorators import permission_name

from renewal_reminder import settings
from renewal_reminder.models import Decision, DomainStatus
from renewal_reminder.models.domain import unicode_domain_name
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
        pages = expirations.iter_export_records(self.appbuilder.session, g.user, filters, today)
        return stream_csv(EXPORT_HEADER, _csv_pages(pages, today), f"expirations-{today}.csv")

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


def _csv_pages(
    pages: Iterable[Sequence[expirations.ExportRecord]], today: dt.date
) -> Iterator[Iterator[tuple]]:
    """The export's CSV rows, a page at a time, each page a generator for
    ``csv.writer.writerows``.

    An export has 300,000 rows but only a few hundred distinct expiry dates, a few thousand
    relations and a few dozen sales contacts: their cells (the ISO date, the days left, the
    spreadsheet-safe names) are worked out once each and then looked up, and each row is one
    tuple built inline (no function call per row or per cell). The tuples are written as they
    are made, not kept in a list: thousands of live tuples made Python's garbage collector
    walk the whole application again and again (a quarter of the export's time).
    """
    iso_dates = _Lookup(lambda expiry: _as_date(expiry).isoformat())
    days_left = _Lookup(lambda expiry: (_as_date(expiry) - today).days)
    relation_names = _Lookup(spreadsheet_safe)
    sales_contacts = _Lookup(lambda login: spreadsheet_safe(login or ""))
    for records in pages:
        yield (
            (
                unicode_domain_name(name) if "xn--" in name else name,
                name,
                relation_number,
                relation_names[relation_name],
                iso_dates[expiry],
                days_left[expiry],
                status,
                renewal_years or "",
                sales_contacts[sales_contact],
                decision or "",
                decision_years or "",
                decision_state or "",
            )
            for (
                name,
                expiry,
                status,
                renewal_years,
                relation_number,
                relation_name,
                sales_contact,
                decision,
                decision_years,
                decision_state,
            ) in records
        )


def _as_date(value: dt.date | str) -> dt.date:
    """An ``ExportRecord``'s expiry date as a ``date`` (SQLite's driver gives ISO text)."""
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)


class _Lookup(dict):
    """A dict that fills itself: ``lookup[key]`` is ``compute(key)``, computed on the first
    ask only (a hit is a plain dict lookup, no Python call)."""

    def __init__(self, compute: Callable) -> None:
        super().__init__()
        self.compute = compute

    def __missing__(self, key):
        value = self[key] = self.compute(key)
        return value
