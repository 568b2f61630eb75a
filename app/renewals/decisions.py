"""Renew/decline decisions: what a customer may decide on, and recording it.

A decision belongs to one expiry date. While its domain awaits a decision for that date, or
its decision is still queued (not yet processed by the sales contact), the customer may decide
or change their mind; every change is a new ``RenewalDecision`` row, the one it replaces is
marked ``superseded``, so the history is never rewritten. Once the sales contact has carried
the decision out (done), the page can no longer change it; a decision that failed at the
registrar can be replaced by a new one for the same expiry date (unless it is being executed
right now), which takes it out of the queue.

A renewal period must keep the new expiry within the registry's 10-year cap counted from today
(``registrars.base.max_renewal_years``): every entry point offers only those periods, and
``record_decisions`` refuses longer ones (``PeriodTooLong``).

Every entry point (the selection page, the public confirmation page, the sales queue) records
through ``record_decisions``; the relation-tree check lives in ``renewal_reminder.renewals.access``.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from sqlalchemy import Select, bindparam, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from renewal_reminder.i18n import gettext as _
from renewal_reminder.models import (
    AWAITING_DECISION,
    Decision,
    DecisionChannel,
    Domain,
    DomainStatus,
    ProcessingState,
    Relation,
    RenewalDecision,
)
from renewal_reminder.models.base import user_model, utcnow
from renewal_reminder.models.domain import unicode_domain_name
from renewal_reminder.renewals import receipts
from renewal_reminder.renewals.processing import CLAIM_TIMEOUT, OPEN_STATES, claimable
from renewal_reminder.renewals.registrars.base import MAX_TERM_YEARS, max_renewal_years
from renewal_reminder.renewals.validation import (
    MAX_YEARS,
    InvalidValue,
    normalize_domain_name,
    parse_years,
)

#: Statuses a domain can have while a customer may still decide for its current expiry date.
DECIDABLE = (*AWAITING_DECISION, DomainStatus.renewal_confirmed, DomainStatus.renewal_declined)
_STATUS_FOR = {
    Decision.renew: DomainStatus.renewal_confirmed,
    Decision.decline: DomainStatus.renewal_declined,
}


class DecisionRejected(Exception):
    """The submission cannot be recorded as a whole; nothing was changed. For people."""


class _ReplacedMeanwhile(Exception):
    """The decision being replaced changed state since it was read: retried like a race."""


class PeriodTooLong(DecisionRejected):
    """A renewal period would take the domain past the registry's 10-year cap."""

    def __init__(self, domain: Domain, max_years: int):
        self.domain_id = domain.id
        self.max_years = max_years
        if max_years < 1:
            message = _(
                "%(domain)s cannot be renewed now: it already runs until %(date)s, and "
                "registries allow at most %(cap)s years ahead.",
                domain=domain.unicode_name,
                date=domain.expiry_date.isoformat(),
                cap=MAX_TERM_YEARS,
            )
        else:
            message = _(
                "%(domain)s can be renewed for at most %(years)s year(s): registries allow at "
                "most %(cap)s years ahead.",
                domain=domain.unicode_name,
                years=max_years,
                cap=MAX_TERM_YEARS,
            )
        super().__init__(message)


def period_hint(max_years: int) -> str | None:
    """Why fewer than 10 years are offered, for the hint next to the period control (``None``
    when all are offered)."""
    if max_years >= MAX_YEARS:
        return None
    if max_years < 1:
        return _(
            "cannot be renewed now: registries allow at most %(cap)s years ahead",
            cap=MAX_TERM_YEARS,
        )
    return _(
        "at most %(years)s year(s): registries allow at most %(cap)s years ahead",
        years=max_years,
        cap=MAX_TERM_YEARS,
    )


@dataclass(frozen=True)
class Choice:
    """What was asked for one domain: renew (with years) or decline."""

    domain_id: int
    decision: Decision
    years: int | None = None


@dataclass
class RecordedDecisions:
    """What a submission changed (``unchanged`` were already decided that way)."""

    renew: list[tuple[Domain, int]] = field(default_factory=list)
    decline: list[Domain] = field(default_factory=list)
    unchanged: list[Domain] = field(default_factory=list)
    decisions: list[RenewalDecision] = field(default_factory=list)
    #: The customers' receipts, written with the decisions: send them after the commit.
    receipts: list[receipts.ReceiptKey] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.decisions)


def parse_choice(domain_id: int, decision_text: str, years_text: str | None) -> Choice | None:
    """A choice from form values; ``None`` for "no decision". Raises ``InvalidValue``."""
    decision_text = (decision_text or "").strip().lower()
    if decision_text in ("", "none", "keep"):
        return None
    try:
        decision = Decision(decision_text)
    except ValueError:
        raise InvalidValue(
            _("%(value)s is not a decision: choose renew or decline", value=repr(decision_text))
        ) from None
    if decision is Decision.decline:
        return Choice(domain_id, decision)
    return Choice(domain_id, decision, parse_years(years_text if years_text is not None else 1))


class SelectionRow(NamedTuple):
    """One line of the renewal selection page: plain values, cheap to load by the thousand."""

    domain_id: int
    name: str  # as people write it (Unicode)
    expiry_date: dt.date
    days_left: int
    holder_id: int
    holder_name: str
    decision: str | None  # "renew", "decline" or None: the current decision for this date
    years: int | None
    locked: bool  # carried out by the sales contact: shown, no longer changeable here
    max_years: int = MAX_YEARS  # the longest period on offer (0: cannot be renewed now)
    failed: bool = False  # the current decision failed at the registrar: may be replaced
    #: When the current decision was saved, and by whom or how (a login's name, "link",
    #: "code", "automatic", "sales"): the page marks saved rows with it.
    decided_at: dt.datetime | None = None
    decided_by: str | None = None
    automatic: bool = False  # declined by the automated job: the page says why


class CurrentDecision(NamedTuple):
    id: int
    decision: Decision
    years: int | None
    state: ProcessingState
    channel: DecisionChannel
    decided_at: dt.datetime
    decided_by_id: int | None


def plain_rows(session: Session, statement, parameters: dict | None = None):
    """The rows of a query of plain columns, run on the session's connection without the
    ORM's result layer: for a page of 500 rows that layer costs three times the query itself
    (2.5 ms against 0.8 ms), and plain columns gain nothing from it. Pending changes are
    flushed first, as ``session.execute`` would (unless autoflush is off)."""
    if session.autoflush:
        session.flush()
    return session.connection().execute(statement, parameters)


def current_decisions(session: Session, domain_ids: list[int]) -> dict[int, CurrentDecision]:
    """The latest not-superseded decision of each domain for its current expiry date (what
    the selection page, the decision rules and the expiration list all mean by "current")."""
    result: dict[int, CurrentDecision] = {}
    for start in range(0, len(domain_ids), 900):
        rows = plain_rows(session, _CURRENT_DECISIONS, {"ids": domain_ids[start : start + 900]})
        for domain_id, *values in rows:
            result[domain_id] = CurrentDecision(*values)  # later rows win
    return result


# One statement for every call: the ids are bound as one expanding parameter, not coerced one
# by one into the statement (which cost more than the query for a page of 500 rows).
_CURRENT_DECISIONS = (
    select(
        RenewalDecision.domain_id,
        RenewalDecision.id,
        RenewalDecision.decision,
        RenewalDecision.years,
        RenewalDecision.state,
        RenewalDecision.channel,
        RenewalDecision.decided_at,
        RenewalDecision.decided_by_id,
    )
    .join(Domain, Domain.id == RenewalDecision.domain_id)
    .where(
        RenewalDecision.domain_id.in_(bindparam("ids", expanding=True)),
        RenewalDecision.expiry_date == Domain.expiry_date,
        RenewalDecision.state != ProcessingState.superseded,
    )
    .order_by(RenewalDecision.id)
)


def tree_relation_ids(relation: Relation):
    """A relation and its clients (a reseller decides for its clients' domains too)."""
    return select(Relation.id).where(
        or_(Relation.id == relation.id, Relation.parent_id == relation.id)
    )


class _SelectionStatements(NamedTuple):
    """The selection's statements for one combination of filters (``_selection_statements``)."""

    count: Select  # how many domains match
    page: Select  # the rows of one page: ``:limit`` rows from ``:offset``
    every: Select  # the rows of every page ("apply to all matching")


@functools.cache
def _selection_statements(users: type, by_name: bool, by_client: bool) -> _SelectionStatements:
    """Which domains the selection page lists (the rule every view of it shares: a page, the
    count, and "apply to all matching"): the relation ``:relation_id`` and its clients,
    expiring on or before ``:last_expiry`` (expired ones too, until deleted), still awaiting a
    decision or its processing, soonest first; ``by_name``: names ``LIKE :name_pattern``,
    ``by_client``: held by relation number ``:client_number``.

    Built once per combination, with every value a bound parameter: building these
    statements cost more than running them (1.5 ms a page). ``users`` is the host's user
    class (``user_model``), part of the key in case a process builds apps with another."""
    tree = select(Relation.id).where(
        or_(
            Relation.id == bindparam("relation_id"),
            Relation.parent_id == bindparam("relation_id"),
        )
    )
    matching = select(Domain.id).where(
        Domain.relation_id.in_(tree),
        Domain.status.in_(DECIDABLE),
        Domain.expiry_date <= bindparam("last_expiry", type_=Domain.expiry_date.type),
    )
    if by_name:
        matching = matching.where(Domain.name.like(bindparam("name_pattern"), escape="/"))
    if by_client:
        matching = matching.where(
            Domain.relation_id.in_(
                select(Relation.id).where(Relation.number == bindparam("client_number"))
            )
        )
    page = (
        matching.order_by(Domain.expiry_date, Domain.name)
        .limit(bindparam("limit"))
        .offset(bindparam("offset"))
    )
    return _SelectionStatements(
        count=select(func.count()).select_from(matching.subquery()),
        page=_rows_query(users, page),
        every=_rows_query(users, matching),
    )


def _selection_parameters(
    relation: Relation,
    today: dt.date,
    window_days: int,
    name_filter: str,
    client_number: int | None,
) -> tuple[_SelectionStatements, dict]:
    """The statements for these filters and the values of their parameters."""
    parameters: dict = {
        "relation_id": relation.id,
        "last_expiry": today + dt.timedelta(days=window_days),
    }
    name_filter = (name_filter or "").strip().lower()
    if name_filter:
        # What ``Domain.name.contains(fragment, autoescape=True)`` matches: the fragment
        # anywhere in the name, its "%" and "_" taken literally.
        fragment = _ascii_fragment(name_filter)
        escaped = fragment.replace("/", "//").replace("%", "/%").replace("_", "/_")
        parameters["name_pattern"] = f"%{escaped}%"
    if client_number is not None:
        parameters["client_number"] = client_number
    statements = _selection_statements(user_model(), bool(name_filter), client_number is not None)
    return statements, parameters


def _rows_query(users: type, domain_ids: Select) -> Select:
    """The selection's rows for the domains ``domain_ids`` (a query of ids) picks, soonest
    first, each with its holder, its current decision and the login that saved it: one
    statement, where a page of 500 rows took four (and a list of 500 bound ids). The ids are
    picked on the domain table alone and joined afterwards: a page's ``LIMIT`` then applies
    before the joins, not after joining every matching domain."""
    holder = aliased(Relation)
    current = aliased(RenewalDecision)
    return (
        select(
            Domain.id,
            Domain.name,
            Domain.expiry_date,
            holder.id,
            holder.name,
            current.decision,
            current.years,
            current.state,
            current.channel,
            current.decided_at,
            users.first_name,
            users.last_name,
            users.username,
        )
        .join(holder, holder.id == Domain.relation_id)
        .outerjoin(current, current.id == current_decision_of(RenewalDecision.id))
        .outerjoin(users, users.id == current.decided_by_id)
        .where(Domain.id.in_(domain_ids))
        .order_by(Domain.expiry_date, Domain.name)
    )


def current_decision_of(column):
    """``column`` of the domain's current decision as a correlated SQL value (NULL while it
    awaits one): the rule of ``current_decisions``, the latest row for its expiry date that
    is not superseded, found on the ``(domain_id, expiry_date)`` index. The lists and exports
    that read decisions in SQL use it (``expirations``)."""
    return (
        select(column)
        .where(
            RenewalDecision.domain_id == Domain.id,
            RenewalDecision.expiry_date == Domain.expiry_date,
            RenewalDecision.state != ProcessingState.superseded,
        )
        .order_by(RenewalDecision.id.desc())
        .limit(1)
        .correlate(Domain)
        .scalar_subquery()
    )


def selection_rows(
    session: Session,
    relation: Relation,
    today: dt.date,
    window_days: int,
    name_filter: str = "",
    client_number: int | None = None,
) -> list[SelectionRow]:
    """Domains of ``relation``'s tree expiring within ``window_days`` (expired ones too, until
    deleted) that still await a decision or its processing, soonest first: all of them."""
    statements, parameters = _selection_parameters(
        relation, today, window_days, name_filter, client_number
    )
    return _selection_rows(plain_rows(session, statements.every, parameters).all(), today)


@dataclass(frozen=True)
class SelectionPage:
    """One page of the selection: its rows, and where it sits among all matching rows."""

    rows: list[SelectionRow]
    total: int  # matching rows on all pages
    page: int  # 1-based, within 1..pages
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))

    @property
    def first(self) -> int:
        """The 1-based position of the page's first row (0 on an empty page)."""
        return (self.page - 1) * self.page_size + 1 if self.rows else 0

    @property
    def last(self) -> int:
        return self.first + len(self.rows) - 1 if self.rows else 0


def selection_page(
    session: Session,
    relation: Relation,
    today: dt.date,
    window_days: int,
    *,
    page: int,
    page_size: int,
    name_filter: str = "",
    client_number: int | None = None,
) -> SelectionPage:
    """Page ``page`` (past the end: the last page) of ``selection_rows``, in the same order;
    only its rows' decisions are loaded, so a page costs the same in any portfolio size."""
    statements, parameters = _selection_parameters(
        relation, today, window_days, name_filter, client_number
    )
    total = plain_rows(session, statements.count, parameters).scalar() or 0
    page = max(1, min(page, -(-total // page_size) or 1))
    parameters.update(limit=page_size, offset=(page - 1) * page_size)
    rows = _selection_rows(plain_rows(session, statements.page, parameters).all(), today)
    return SelectionPage(rows, total, page, page_size)


def all_matching_choices(
    rows: list[SelectionRow], decision: Decision, years: int | None
) -> list[Choice]:
    """What "apply to all matching" asks for, row by row, as the page's bulk controls do it
    on the rows of one page: rows carried out already are left alone, a renewal is never
    longer than its row allows, and rows that cannot be renewed now are not renewed."""
    choices = []
    for row in rows:
        if row.locked:
            continue
        if decision is Decision.decline:
            choices.append(Choice(row.domain_id, decision))
        elif row.max_years >= 1:
            choices.append(Choice(row.domain_id, decision, min(years or 1, row.max_years)))
    return choices


def _selection_rows(found, today: dt.date) -> list[SelectionRow]:
    """A ``SelectionRow`` for each row of ``_rows_query``."""
    channels = _channel_names()
    rows = []
    for (
        domain_id,
        name,
        expiry,
        holder_id,
        holder_name,
        decision,
        years,
        state,
        channel,
        decided_at,
        first_name,
        last_name,
        username,
    ) in found:
        if decision is None:
            decided_by = None
        elif username is not None:
            decided_by = " ".join(part for part in (first_name, last_name) if part) or username
        else:
            decided_by = channels.get(channel) or channels[DecisionChannel.sales]
        rows.append(
            SelectionRow(
                domain_id,
                unicode_domain_name(name),
                expiry,
                (expiry - today).days,
                holder_id,
                holder_name,
                decision.value if decision is not None else None,
                years if decision is not None else None,
                state is ProcessingState.done,
                max_renewal_years(expiry, today),
                state is ProcessingState.failed,
                decided_at,
                decided_by,
                channel is DecisionChannel.automatic,
            )
        )
    return rows


def _channel_names() -> dict[DecisionChannel, str]:
    """How the page names who saved a decision that no login made, per channel (translated
    once per page, not per row)."""
    return {
        DecisionChannel.email_link: _("you, through the link in an email"),
        DecisionChannel.confirmation_code: _("you, with an activation code"),
        DecisionChannel.automatic: _("automatically"),
        DecisionChannel.sales: _("your sales contact"),
    }


def _ascii_fragment(text: str) -> str:
    """Search text as stored: a whole Unicode name is matched by its punycode form; other
    text is used as typed."""
    if "." not in text:
        return text
    try:
        return normalize_domain_name(text)
    except InvalidValue:
        return text


def _locked(decision: CurrentDecision | None) -> bool:
    """Carried out by the sales contact: no longer the customer's to change. (A decision that
    failed at the registrar is not locked: a new decision may replace it.)"""
    return decision is not None and decision.state is ProcessingState.done


def record_decisions(
    session: Session,
    *,
    relation: Relation,
    choices: list[Choice],
    channel: DecisionChannel,
    decided_by_id: int | None,
    remote_addr: str | None,
    prepare: Callable[[Session], None] | None = None,
    today: dt.date | None = None,
) -> RecordedDecisions:
    """Record ``choices`` for domains of ``relation``'s tree, all or nothing, and commit.

    ``prepare`` runs first in the same transaction (e.g. consuming an activation code), so it
    is committed with the decisions or not at all; it may raise to abort.

    Rejects the whole submission (``DecisionRejected``, nothing changed) if any domain is not
    in the tree, is no longer decidable, was already carried out or is being executed right
    now, appears twice, or would be renewed past the 10-year cap on ``today`` (default: the
    current date; ``PeriodTooLong``). A choice equal to the current decision changes nothing,
    so a resubmitted form records nothing new (a failed one stays in the queue for a retry).

    Two submissions at the same moment (a double click) cannot both queue a decision for one
    domain (a partial unique index); the loser is retried once, and then finds the winner's
    decisions: equal ones are "unchanged", different ones are recorded after them.
    """
    for attempt in (1, 2):
        try:
            if prepare is not None:
                prepare(session)
            return _record(
                session,
                relation,
                choices,
                channel,
                decided_by_id,
                remote_addr,
                today or dt.date.today(),
            )
        except (IntegrityError, _ReplacedMeanwhile):
            session.rollback()
            if attempt == 2:
                raise DecisionRejected(
                    _(
                        "These domains were changed at the same moment from elsewhere; nothing "
                        "was saved. Please review them and submit again."
                    )
                ) from None
        except BaseException:
            session.rollback()  # nothing half-done stays in the session
            raise
    raise AssertionError("unreachable")


def _record(
    session, relation, choices, channel, decided_by_id, remote_addr, today
) -> RecordedDecisions:
    if not choices:
        return RecordedDecisions()
    ids = [choice.domain_id for choice in choices]
    if len(set(ids)) != len(ids):
        raise DecisionRejected(_("A domain appears more than once in the submission."))
    tree = set(session.scalars(tree_relation_ids(relation)))
    domains = {
        domain.id: domain
        for start in range(0, len(ids), 900)
        for domain in session.scalars(select(Domain).where(Domain.id.in_(ids[start : start + 900])))
    }
    foreign = [i for i in ids if i not in domains or domains[i].relation_id not in tree]
    if foreign:
        # Same answer for "not yours" and "does not exist": ids cannot be probed.
        raise DecisionRejected(
            _("The submission contains domains that are not yours to decide on; nothing was saved.")
        )
    current = current_decisions(session, list(domains))
    result = RecordedDecisions()
    now = utcnow()
    for choice in choices:
        domain = domains[choice.domain_id]
        decision = current.get(domain.id)
        if domain.status not in DECIDABLE:
            raise DecisionRejected(
                _(
                    "%(domain)s can no longer be changed (%(status)s).",
                    domain=domain.unicode_name,
                    status=domain.status.value,
                )
            )
        if _locked(decision):
            raise DecisionRejected(
                _(
                    "%(domain)s was already processed by your sales contact and can no longer be "
                    "changed here.",
                    domain=domain.unicode_name,
                )
            )
        if choice.decision is Decision.renew:
            allowed = max_renewal_years(domain.expiry_date, today)
            if choice.years > allowed:
                raise PeriodTooLong(domain, allowed)
        if (
            decision is not None
            and decision.decision is choice.decision
            and decision.years == choice.years
        ):
            result.unchanged.append(domain)
            continue
        if decision is not None:
            # Executed now, so the old row leaves the unique "one queued decision" index first.
            # Only if it is still open and not being executed at the registrar right now
            # (``processing`` claims it first): that execution would otherwise record its
            # outcome over the replacement.
            replaced = session.execute(
                update(RenewalDecision)
                .where(
                    RenewalDecision.id == decision.id,
                    claimable(now),
                )
                .values(
                    state=ProcessingState.superseded,
                    processed_at=now,
                    message="replaced by a newer decision",
                )
            )
            if replaced.rowcount != 1:
                if _being_executed(session, decision.id, now):
                    raise DecisionRejected(
                        _(
                            "%(domain)s is being processed by your sales contact right now; "
                            "nothing was saved. Please try again in a few minutes.",
                            domain=domain.unicode_name,
                        )
                    )
                raise _ReplacedMeanwhile()  # replaced by a simultaneous submission
        new = RenewalDecision(
            domain=domain,
            decision=choice.decision,
            years=choice.years,
            expiry_date=domain.expiry_date,
            channel=channel,
            decided_by_id=decided_by_id,
            decided_at=now,
            remote_addr=(remote_addr or "")[:45] or None,
        )
        session.add(new)
        domain.status = _STATUS_FOR[choice.decision]
        domain.renewal_years = choice.years
        result.decisions.append(new)
        if choice.decision is Decision.renew:
            result.renew.append((domain, choice.years))
        else:
            result.decline.append(domain)
    result.receipts = receipts.write_decision_receipts(session, result)
    session.commit()
    return result


def _being_executed(session: Session, decision_id: int, now: dt.datetime) -> bool:
    """Claimed by a request or job executing it at the registrar right now."""
    state, claimed_at = session.execute(
        select(RenewalDecision.state, RenewalDecision.claimed_at).where(
            RenewalDecision.id == decision_id
        )
    ).one()
    return state in OPEN_STATES and claimed_at is not None and claimed_at >= now - CLAIM_TIMEOUT
