"""CSV exports shared by the screens: streamed page by page, spreadsheet-safe.

The domain list's export (``csv_response``) and the expiration list's both write through
``stream_csv``; text that people typed goes through ``spreadsheet_safe`` first.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import unicodedata
from collections.abc import Iterable

from flask import Response, stream_with_context

#: The domain columns every domain export starts with.
CSV_HEADER = [
    "domain",
    "domain_ascii",
    "relation_number",
    "relation_name",
    "expiry_date",
    "days_left",
    "status",
    "renewal_years",
]


#: First characters that make a spreadsheet read a cell as a formula (OWASP's list).
_FORMULA_STARTS = frozenset("=+-@\t\r")


def spreadsheet_safe(value: str) -> str:
    """Neutralise text a spreadsheet would run as a formula (CSV injection).

    The first character is compared in its NFKC form, so full-width ``＝＋－＠`` (which some
    spreadsheets also treat as formulas) are caught too.
    """
    first = unicodedata.normalize("NFKC", value[:1])[:1]
    return f"'{value}" if first in _FORMULA_STARTS else value


def stream_csv(header: list[str], pages: Iterable[Iterable[list]], filename: str) -> Response:
    """Stream ``header`` and then each page of rows as it comes (an export can be large)."""

    def chunks():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(header)
        for rows in pages:
            writer.writerows(rows)
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
        if buffer.tell():  # no pages at all: the header alone
            yield buffer.getvalue()

    return Response(
        stream_with_context(chunks()),
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename={filename}"},
    )


def domain_row(domain, today: dt.date) -> list:
    """One domain as a row of ``CSV_HEADER``'s columns."""
    return [
        domain.unicode_name,
        domain.name,
        domain.relation.number,
        spreadsheet_safe(domain.relation.name),
        domain.expiry_date.isoformat(),
        domain.days_until_expiry(today),
        domain.status.value,
        domain.renewal_years or "",
    ]


def csv_response(pages) -> Response:
    """Stream domains (pages of ``Domain`` rows, queried as the response streams) as CSV with
    ``CSV_HEADER``'s columns."""
    today = dt.date.today()
    rows = ([domain_row(domain, today) for domain in domains] for domains in pages)
    return stream_csv(CSV_HEADER, rows, f"domains-{today}.csv")


def csv_of_loaded(domains: list) -> Response:
    """Domains this request already loaded, as CSV. Their rows are written now: the response
    streams after the request's database session is gone, and its rows with it."""
    today = dt.date.today()
    rows = [domain_row(domain, today) for domain in domains]
    return stream_csv(CSV_HEADER, [rows], f"domains-{today}.csv")
