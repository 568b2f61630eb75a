"""The expiration list: which domains expire in a window, for Sales and Admin.

Pure domain logic (no request, no ``g``): the view parses the query string with
``parse_filters`` and asks ``expiration_list`` for one capped page plus per-month totals, or
``iter_expiration_rows`` / ``iter_export_records`` for every row (the CSV export), streamed page
by page.

Built for large portfolios: one SQL range on ``expiry_date`` within the domain statuses asked
for (the ``(status, expiry_date)`` index), scoped in the same query by
``access.visible_relation_ids``; the current decision is a correlated lookup on the
``(domain_id, expiry_date)`` index (the rule of ``decisions.current_decisions`` in SQL), as a
value where it filters or counts and joined by its id where rows are shown, so the rows come
in one query, in the ``(expiry_date, name)`` index's order. Totals are counted by the
database, never by loading rows.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from dateutil.relativedelta import relativedelta
from sqlalchemy import String, func, or_, select, type_coerce
from sqlalchemy.orm import Session, aliased

from renewal_reminder.models import (
    OUT_OF_CYCLE,
    Decision,
    Domain,
    DomainStatus,
    ProcessingState,
    Relation,
    RenewalDecision,
)
from renewal_reminder.models.domain import unicode_domain_name
from renewal_reminder.renewals import access
from renewal_reminder.renewals.decisions import current_decision_of
from renewal_reminder.renewals.validation import InvalidValue

THIS_MONTH = "this_month"
NEXT_3_MONTHS = "next_3_months"
CUSTOM = "custom"
EXPIRED = "expired"
WINDOWS = (THIS_MONTH, NEXT_3_MONTHS, CUSTOM, EXPIRED)
DEFAULT_WINDOW = NEXT_3_MONTHS

#: Decision filter values: ``none`` means "no current decision" (awaiting one).
AWAITING = "none"
DECISION_FILTERS = (AWAITING, Decision.renew.value, Decision.decline.value)

#: Without a status filter the list shows domains still in the renewal cycle; deactivated and
#: deleted domains appear only when asked for by their status.
IN_CYCLE = tuple(status for status in DomainStatus if status not in OUT_OF_CYCLE)

#: A custom window spans at most this many days (five years).
MAX_CUSTOM_DAYS = 5 * 366
#: How many rows the page shows; the CSV export streams them all.
PAGE_LIMIT = 2000
#: Custom dates must lie between these (no date arithmetic near the calendar's ends).
MIN_DATE = dt.date(1980, 1, 1)
MAX_DATE = dt.date(2999, 12, 31)
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
#: Relation numbers are positive 32-bit integers in the database.
_MAX_NUMBER = 2**31 - 1
#: Query-string values longer than this are not even looked at.
_MAX_PARAM = 40


class InvalidFilter(InvalidValue):
    """A filter cannot be used; the message says why, for people."""


@dataclass(frozen=True)
class ExpirationFilters:
    """What the list is asked for. ``date_from``/``date_to`` only count for ``custom``."""

    window: str = DEFAULT_WINDOW
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    relation_number: int | None = None
    status: DomainStatus | None = None
    decision: str | None = None  # "none", "renew", "decline" or None (any)

    def __post_init__(self) -> None:
        if self.window not in WINDOWS:
            raise InvalidFilter(f"Unknown window {self.window!r}: choose one of the listed ones.")
        if self.decision is not None and self.decision not in DECISION_FILTERS:
            raise InvalidFilter(f"Unknown decision {self.decision!r}.")
        if self.relation_number is not None and not 0 < self.relation_number <= _MAX_NUMBER:
            raise InvalidFilter("A relation number is a positive whole number.")
        if self.window == CUSTOM:
            if self.date_from is None or self.date_to is None:
                raise InvalidFilter("Custom dates: give both a from and a to date.")
            if (
                not MIN_DATE <= self.date_from <= MAX_DATE
                or not MIN_DATE <= self.date_to <= MAX_DATE
            ):
                raise InvalidFilter(
                    f"Custom dates: choose dates between {MIN_DATE.year} and {MAX_DATE.year}."
                )
            if self.date_from > self.date_to:
                raise InvalidFilter("Custom dates: the from date must not be after the to date.")
            if (self.date_to - self.date_from).days >= MAX_CUSTOM_DAYS:
                raise InvalidFilter("Custom dates: choose a window of at most five years.")

    def as_params(self) -> dict[str, str]:
        """The filters as query-string values (for the export link and the form)."""
        params = {"window": self.window}
        if self.window == CUSTOM:
            params["from"] = self.date_from.isoformat()
            params["to"] = self.date_to.isoformat()
        if self.relation_number is not None:
            params["relation"] = str(self.relation_number)
        if self.status is not None:
            params["status"] = self.status.value
        if self.decision is not None:
            params["decision"] = self.decision
        return params


def parse_filters(params: Mapping[str, str]) -> ExpirationFilters:
    """Filters from query-string values (``window``, ``from``, ``to``, ``relation``, ``status``,
    ``decision``; empty means "not given"). Raises ``InvalidFilter`` with every problem."""
    problems: list[str] = []

    def text(name: str) -> str:
        return (params.get(name) or "").strip()[: _MAX_PARAM + 1]

    def date(name: str, label: str) -> dt.date | None:
        value = text(name)
        if not value:
            return None
        try:
            if not _ISO_DATE.fullmatch(value):
                raise ValueError
            return dt.date.fromisoformat(value)
        except ValueError:
            problems.append(f"{label} date {value[:_MAX_PARAM]!r} is not a date (YYYY-MM-DD).")
            return None

    date_from, date_to = date("from", "The from"), date("to", "The to")
    window = text("window")
    if not window:
        window = CUSTOM if (date_from or date_to) else DEFAULT_WINDOW
    if window not in WINDOWS:
        problems.append(f"Unknown window {window[:_MAX_PARAM]!r}.")
        window = DEFAULT_WINDOW
    relation_number = None
    relation = text("relation").lstrip("#")
    if relation:
        if relation.isdigit() and relation.isascii() and 0 < int(relation) <= _MAX_NUMBER:
            relation_number = int(relation)
        else:
            problems.append(f"Relation {relation[:_MAX_PARAM]!r} is not a relation number.")
    status = None
    if text("status"):
        try:
            status = DomainStatus(text("status"))
        except ValueError:
            problems.append(f"Unknown status {text('status')[:_MAX_PARAM]!r}.")
    decision = text("decision").lower() or None
    if decision is not None and decision not in DECISION_FILTERS:
        problems.append(f"Unknown decision {decision[:_MAX_PARAM]!r}.")
        decision = None
    if problems:
        raise InvalidFilter(" ".join(problems))
    if window != CUSTOM:
        date_from = date_to = None
    return ExpirationFilters(window, date_from, date_to, relation_number, status, decision)


def window_dates(filters: ExpirationFilters, today: dt.date) -> tuple[dt.date | None, dt.date]:
    """The window as an inclusive date range (``None``: no lower bound).

    This month is the calendar month (its expired days too); the next 3 months run from today
    to the same day three calendar months on (month-end clamping); expired is every day
    before today."""
    if filters.window == THIS_MONTH:
        first = today.replace(day=1)
        return first, first + relativedelta(months=1, days=-1)
    if filters.window == NEXT_3_MONTHS:
        return today, today + relativedelta(months=3)
    if filters.window == CUSTOM:
        return filters.date_from, filters.date_to
    return None, today - dt.timedelta(days=1)


class ExpirationRow(NamedTuple):
    """One line of the list (and of the CSV): plain values, cheap by the thousand."""

    domain_id: int
    name: str  # as people write it (Unicode)
    ascii_name: str
    expiry_date: dt.date
    days_left: int
    relation_number: int
    relation_name: str
    sales_contact: str  # the sales contact's login, "" when none
    status: DomainStatus
    renewal_years: int | None
    decision: Decision | None  # the current decision for this expiry date; None: awaiting
    decision_years: int | None
    decision_state: ProcessingState | None


class ExportRecord(NamedTuple):
    """One row of the CSV export as the database gives it: the enum columns as their stored
    values (the strings the CSV shows), the name in its ASCII form, the expiry date as the
    driver reads it (a ``date``; SQLite's driver: its ISO text)."""

    ascii_name: str
    expiry_date: dt.date | str
    status: str
    renewal_years: int | None
    relation_number: int
    relation_name: str
    sales_contact: str | None  # the sales contact's login
    decision: str | None  # the current decision for this expiry date; None: awaiting
    decision_years: int | None
    decision_state: str | None


class MonthTotal(NamedTuple):
    month: str  # YYYY-MM
    count: int
    awaiting: int  # no decision yet
    renew: int
    decline: int


@dataclass
class ExpirationList:
    rows: list[ExpirationRow]
    totals: list[MonthTotal]
    total: int  # every matching domain; ``rows`` holds at most ``limit`` of them
    limit: int
    date_from: dt.date | None
    date_to: dt.date
    #: Set when the relation filter names no relation the user can see (or none at all).
    unknown_relation: bool = False
    overall: MonthTotal = field(default_factory=lambda: MonthTotal("", 0, 0, 0, 0))

    @property
    def truncated(self) -> bool:
        return self.total > len(self.rows)


def expiration_list(
    session: Session,
    user: access.UserLike | None,
    filters: ExpirationFilters,
    today: dt.date,
    limit: int = PAGE_LIMIT,
) -> ExpirationList:
    """The domains ``user`` may see that match ``filters``: the first ``limit`` by expiry date
    (then name), and totals per expiry month over all of them."""
    date_from, date_to = window_dates(filters, today)
    conditions, unknown = _conditions(session, user, filters, today)
    if conditions is None:
        empty = ExpirationList([], [], 0, limit, date_from, date_to, unknown_relation=unknown)
        empty.totals = _with_empty_months({}, date_from, date_to)
        return empty
    totals = _totals(session, conditions, date_from, date_to)
    overall = MonthTotal(
        "",
        sum(t.count for t in totals),
        sum(t.awaiting for t in totals),
        sum(t.renew for t in totals),
        sum(t.decline for t in totals),
    )
    rows = _rows(session, conditions, today, limit=limit) if overall.count else []
    return ExpirationList(rows, totals, overall.count, limit, date_from, date_to, False, overall)


def iter_expiration_rows(
    session: Session,
    user: access.UserLike | None,
    filters: ExpirationFilters,
    today: dt.date,
    page_size: int = 1000,
) -> Iterator[list[ExpirationRow]]:
    """Every matching row, in the list's order, ``page_size`` at a time: one query streamed
    from the database (memory stays flat), run on the session's connection without the ORM's
    result layer (plain columns: it would only add a cost per row)."""
    conditions, _ = _conditions(session, user, filters, today)
    if conditions is None:
        return
    connection = session.connection().execution_options(yield_per=page_size)
    result = connection.execute(_row_query(conditions))
    try:
        for found in result.partitions():
            yield _build_rows(found, today)
    finally:
        result.close()  # also when the download is abandoned half-way


def iter_export_records(
    session: Session,
    user: access.UserLike | None,
    filters: ExpirationFilters,
    today: dt.date,
    page_size: int = 500,
) -> Iterator[Sequence[ExportRecord]]:
    """Every matching row for the CSV export, in the list's order, ``page_size`` at a time, as
    rows with ``ExportRecord``'s columns (the same rows as ``iter_expiration_rows``).

    Cheaper per row than ``iter_expiration_rows``, which an export of 300,000 rows feels: the
    enum columns come as the strings stored (SQLAlchemy's ``Enum`` would make a member of
    each, three Python calls a row, only for the CSV to take its value back), the expiry date
    as the driver reads it (SQLite's text is not parsed 300,000 times for a few hundred
    distinct dates) and no ``ExpirationRow`` is built. Small pages: fewer rows alive at once
    keep Python's garbage collector from walking them (and the whole app) over and over."""
    conditions, _ = _conditions(session, user, filters, today)
    if conditions is None:
        return
    connection = session.connection().execution_options(yield_per=page_size)
    result = connection.execute(_row_query(conditions, for_export=True))
    try:
        yield from result.partitions()
    finally:
        result.close()  # also when the download is abandoned half-way


# --- queries ----------------------------------------------------------------------------------


def _current_decision():
    """The domain's current decision for its expiry date as a correlated SQL value (NULL when
    awaiting one)."""
    return current_decision_of(RenewalDecision.decision)


def _conditions(session, user, filters: ExpirationFilters, today: dt.date):
    """The WHERE clauses on ``Domain`` for ``filters`` within ``user``'s scope, or ``None``
    when nothing can match (and whether that is because of an unknown relation)."""
    date_from, date_to = window_dates(filters, today)
    statuses = (filters.status,) if filters.status is not None else IN_CYCLE
    conditions = [Domain.status.in_(statuses), Domain.expiry_date <= date_to]
    if date_from is not None:
        conditions.append(Domain.expiry_date >= date_from)
    visible = access.visible_relation_ids(user)
    if visible is not None:
        conditions.append(Domain.relation_id.in_(visible))
    if filters.relation_number is not None:
        query = select(Relation.id).where(Relation.number == filters.relation_number)
        if visible is not None:
            query = query.where(Relation.id.in_(visible))
        relation_id = session.scalar(query)
        if relation_id is None:  # missing and not yours look the same
            return None, True
        # A relation and, for a reseller, its clients.
        tree = select(Relation.id).where(
            or_(Relation.id == relation_id, Relation.parent_id == relation_id)
        )
        conditions.append(Domain.relation_id.in_(tree))
    if filters.decision is not None:
        current = _current_decision()
        if filters.decision == AWAITING:
            conditions.append(current.is_(None))
        else:
            conditions.append(current == Decision(filters.decision))
    return conditions, False


def _totals(session, conditions, date_from, date_to) -> list[MonthTotal]:
    """Counts per expiry month and current decision, counted by the database (grouped by day,
    which both SQLite and PostgreSQL can do the same way; days are folded into months here)."""
    inner = (
        select(Domain.expiry_date.label("expiry"), _current_decision().label("decision"))
        .where(*conditions)
        .subquery()
    )
    grouped = session.execute(
        select(inner.c.expiry, inner.c.decision, func.count()).group_by(
            inner.c.expiry, inner.c.decision
        )
    )
    months: dict[str, list[int]] = {}
    for expiry, decision, count in grouped:
        counts = months.setdefault(expiry.strftime("%Y-%m"), [0, 0, 0, 0])
        counts[0] += count
        decision = Decision(decision) if decision is not None else None
        counts[{None: 1, Decision.renew: 2, Decision.decline: 3}[decision]] += count
    return _with_empty_months(months, date_from, date_to)


def _with_empty_months(months: dict[str, list[int]], date_from, date_to) -> list[MonthTotal]:
    """Every month of a bounded window (zeros included), in order; for the open-ended expired
    window only the months that have domains."""
    if date_from is not None:
        month = date_from.replace(day=1)
        while month <= date_to:
            months.setdefault(month.strftime("%Y-%m"), [0, 0, 0, 0])
            month += relativedelta(months=1)
    return [MonthTotal(key, *months[key]) for key in sorted(months)]


def _row_query(conditions, *, for_export: bool = False):
    """The rows with their relation, sales contact and current decision, in one query (the
    decision joined by its id, found on the ``(domain_id, expiry_date)`` index): an export of
    300,000 rows asks nothing more per page. ``for_export``: in ``ExportRecord``'s columns,
    the enums and the date read as the driver gives them."""
    user_model = Relation.sales_contact.property.mapper.class_
    current = aliased(RenewalDecision)
    if for_export:
        columns = (
            Domain.name,
            type_coerce(Domain.expiry_date, String),
            type_coerce(Domain.status, String),
            Domain.renewal_years,
            Relation.number,
            Relation.name,
            user_model.username,
            type_coerce(current.decision, String),
            current.years,
            type_coerce(current.state, String),
        )
    else:
        columns = (
            Domain.id,
            Domain.name,
            Domain.expiry_date,
            Domain.status,
            Domain.renewal_years,
            Relation.number,
            Relation.name,
            user_model.username,
            current.decision,
            current.years,
            current.state,
        )
    return (
        select(*columns)
        .join(Relation, Relation.id == Domain.relation_id)
        .outerjoin(user_model, user_model.id == Relation.sales_contact_id)
        .outerjoin(current, current.id == current_decision_of(RenewalDecision.id))
        .where(*conditions)
        .order_by(Domain.expiry_date, Domain.name)
    )


def _rows(session, conditions, today: dt.date, limit: int) -> list[ExpirationRow]:
    """The first ``limit`` rows: chosen on the domain table alone, then joined (a wide window
    holds many more domains than the page, and joining them all only to sort them is slow)."""
    page = (
        select(Domain.id)
        .where(*conditions)
        .order_by(Domain.expiry_date, Domain.name)
        .limit(limit)
        .subquery()
    )
    found = session.execute(_row_query([Domain.id.in_(select(page.c.id))])).all()
    return _build_rows(found, today)


def _build_rows(found, today: dt.date) -> list[ExpirationRow]:
    return [
        ExpirationRow(
            domain_id,
            unicode_domain_name(name),
            name,
            expiry,
            (expiry - today).days,
            number,
            relation_name,
            sales or "",
            status,
            years,
            decision,
            decision_years,
            state,
        )
        for (
            domain_id,
            name,
            expiry,
            status,
            years,
            number,
            relation_name,
            sales,
            decision,
            decision_years,
            state,
        ) in found
    ]
