"""The daily email to each sales contact: what needs them, and what the automated job did.

One digest per sales contact per day, only when there is something in it:

0. **Due now** (first): confirmed renewals still open (queued or failed) that are overdue or
   due today (``deadlines.due_by``: ``EXECUTION_LEAD_DAYS`` before expiry), each with its
   expiry date, days left and, when it failed, the attempts so far. Soonest expiry first. The
   same renewals also escalate by email of their own (``renewals.escalation``).
1. **Expiring without a decision**: domains of their relations awaiting a decision (status
   ``active`` or ``renewed``, and no open decision in the queue for the current expiry date)
   that expire within ``HORIZON_DAYS`` (30) days. Domains that have *already expired* and are
   still undecided are included too, first (they are the most urgent: the automated job
   removes them once ``DELETION_GRACE_DAYS`` have passed; with the default grace of 0 they
   appear at most once, as the job then queues or removes them). Soonest first.
2. **Waiting in their queue**: open decisions (queued, or failed with the registrar's
   message), oldest first.
3. **What the automated job did** since the moment their last *sent* digest covered (or the
   last 24 hours for their first digest): decisions executed by nobody (``processed_by_id``
   NULL: renewed, deactivated, deleted, failed) and the job's own decisions (channel
   ``automatic``: queued for removal). Each action is reported once: a sent digest records the
   moment it covers (``covered_until``), and the next digest starts there.
4. **Differences at the registry** found by the registrar sync in the same window and left for
   people (``RegistryDifference``: the registry's date earlier, later but not a renewal, or not
   the one confirmed; a hold that is not ours; a name gone while a renewal is confirmed; a
   question the registry did not answer), newest last.

The recipients are the active logins with the Sales role that are the sales contact of at least
one relation. Their scope is the Sales part of ``access.visible_relation_ids``: relations
assigned to them and the clients of resellers assigned to them (for a Sales user that is exactly
what the queue and the expiration list show them; a login that is also Admin gets its assigned
relations, not the whole portfolio). A relation can be in two scopes (a client with its own
sales contact under a reseller with another): both are told.

Each section is one set-based query for all sales contacts at once (the relation's and its
reseller's sales contact come with each row), so a run costs the same few queries for 100 or
100,000 relations. Lists are capped at ``MAX_LISTED`` lines per section; the counts are exact.

Exactly once per day, even with two app servers running the job at the same moment: a digest
is sent only by the run whose claim wrote (or retook) its ``SalesDigestLog`` row, unique per
sales contact and day; a concurrent run's claim is ignored by the database. A failed digest
(refused, server down, template error) is retried by the next run of the same day; a claim left
``sending`` for ``STALE_CLAIM`` by a run that died is retaken. A day with nothing to report
writes no row, so a later run of the same day still sends if something turns up.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sqlalchemy import and_, exists, func, not_, or_, select
from sqlalchemy.orm import Session, aliased

from renewal_reminder.models import (
    AWAITING_DECISION,
    Decision,
    DecisionChannel,
    Domain,
    ProcessingState,
    RegistryDifference,
    Relation,
    RenewalDecision,
    SalesDigestLog,
    SalesDigestStatus,
)
from renewal_reminder.models.base import user_ids_with_role, user_model, utcnow
from renewal_reminder.models.domain import unicode_domain_name
from renewal_reminder.renewals import access, deadlines, email_templates, escalation, mailer
from renewal_reminder.renewals.claims import (
    claim,
    outcome_update,
    record_outcomes,
)
from renewal_reminder.renewals.notifications import CHANNEL_NAMES
from renewal_reminder.renewals.processing import OPEN_STATES
from renewal_reminder.renewals.validation import InvalidValue, normalize_email

log = logging.getLogger(__name__)

#: Domains expiring within this many days (from today) are listed.
HORIZON_DAYS = 30
#: Lines listed per section; the counts in the subject and headings are exact.
MAX_LISTED = 200
#: Without a sent digest before, the automated actions of this last stretch are reported.
FIRST_LOOKBACK = dt.timedelta(hours=24)
#: A claim this old belongs to a run that died before recording the result: take it over.
STALE_CLAIM = dt.timedelta(minutes=30)
#: Digests claimed, sent and recorded per transaction.
CHUNK_SIZE = 200
QUEUE_PATH = "/queue/"
EXPIRATIONS_PATH = "/expirations/"
_RETRYABLE = (SalesDigestStatus.failed,)
_EXECUTED = (ProcessingState.done, ProcessingState.failed)


# --- who gets one -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SalesContact:
    user_id: int
    name: str
    email: str


def sales_contacts(session: Session) -> list[SalesContact]:
    """Active logins with the Sales role that are the sales contact of at least one relation."""
    has_sales_role = user_ids_with_role(access.current_roles().sales)
    User = user_model()  # noqa: N806 (the host's user class)
    rows = session.execute(
        select(User.id, User.first_name, User.username, User.email)
        .where(
            User.id.in_(has_sales_role),
            or_(User.active.is_(None), User.active.is_(True)),
            exists().where(Relation.sales_contact_id == User.id),
        )
        .order_by(User.id)
    )
    return [
        SalesContact(user_id, first_name or username, email)
        for user_id, first_name, username, email in rows
    ]


# --- what is in it ------------------------------------------------------------------------------


@dataclass
class Section:
    """One section of one digest: the first ``MAX_LISTED`` lines and the exact count."""

    items: list[dict] = field(default_factory=list)
    total: int = 0

    def add(self, item: dict) -> None:
        self.total += 1
        if len(self.items) < MAX_LISTED:
            self.items.append(item)


@dataclass
class SalesDigest:
    contact: SalesContact
    #: Automated actions after ``since`` up to ``until`` are in it.
    since: dt.datetime
    until: dt.datetime
    expiring: Section = field(default_factory=Section)
    queue: Section = field(default_factory=Section)
    automated: Section = field(default_factory=Section)
    #: Confirmed renewals overdue or due today (``escalation.alert_line`` dicts).
    due: Section = field(default_factory=Section)
    #: What the registrar sync found and left for people (``registry_line`` dicts).
    registry: Section = field(default_factory=Section)

    @property
    def empty(self) -> bool:
        return not (
            self.due.total
            or self.expiring.total
            or self.queue.total
            or self.automated.total
            or self.registry.total
        )

    def describe(self) -> str:
        due = f"{self.due.total} due now, " if self.due.total else ""
        registry = f", {self.registry.total} at the registry" if self.registry.total else ""
        return (
            f"{due}{self.expiring.total} expiring, {self.queue.total} in the queue, "
            f"{self.automated.total} automated{registry}"
        )


def _scope_columns():
    """The columns every section query selects to know whose scope a row is in: the relation's
    own sales contact and its reseller's (see ``access.visible_relation_ids``)."""
    parent = aliased(Relation)
    return parent, (Relation.sales_contact_id, parent.sales_contact_id)


def _in_scope(parent, user_ids: list[int]):
    return or_(Relation.sales_contact_id.in_(user_ids), parent.sales_contact_id.in_(user_ids))


def _owners(own: int | None, via_reseller: int | None, wanted: set[int]) -> set[int]:
    return {user_id for user_id in (own, via_reseller) if user_id in wanted}


def _relation(number: int, name: str) -> dict:
    return {"number": number, "name": name}


def expiring_line(
    name: str, expiry_date: dt.date, today: dt.date, relation_number: int, relation_name: str
) -> dict:
    """One domain of the expiring section; ``when`` says it in words ("in 5 days")."""
    days_left = (expiry_date - today).days
    if days_left > 1:
        when = f"in {days_left} days"
    elif days_left == 1:
        when = "tomorrow"
    elif days_left == 0:
        when = "today"
    elif days_left == -1:
        when = "expired yesterday"
    else:
        when = f"expired {-days_left} days ago"
    return {
        "name": unicode_domain_name(name),
        "expiry_date": expiry_date.isoformat(),
        "days_left": days_left,
        "when": when,
        "relation": _relation(relation_number, relation_name),
    }


def queue_line(
    *,
    name: str,
    decision: str,
    years: int | None,
    expiry_date: dt.date,
    state: str,
    message: str | None,
    decided_at: dt.datetime,
    decided_by: str,
    relation_number: int,
    relation_name: str,
    attempts: int = 0,
) -> dict:
    """One open decision of the queue section; ``failed`` ones carry the registrar's message
    and how many executions have failed so far (``attempts``)."""
    return {
        "name": unicode_domain_name(name),
        "decision": str(decision),
        "years": years,
        "expiry_date": expiry_date.isoformat(),
        "state": str(state),
        "failed": str(state) == ProcessingState.failed,
        "message": message or "",
        "attempts": attempts,
        "decided_at": _when(decided_at),
        "decided_by": decided_by,
        "relation": _relation(relation_number, relation_name),
    }


def automated_line(
    *,
    name: str,
    action: str,
    ok: bool,
    message: str | None,
    at: dt.datetime,
    relation_number: int,
    relation_name: str,
) -> dict:
    """One action of the automated job: ``action`` is "renewed", "deactivated", "deleted",
    "failed" or "queued for removal"."""
    return {
        "name": unicode_domain_name(name),
        "action": action,
        "ok": ok,
        "message": message or "",
        "at": _when(at),
        "relation": _relation(relation_number, relation_name),
    }


def registry_line(
    *, name: str, detail: str, at: dt.datetime, relation_number: int, relation_name: str
) -> dict:
    """One difference the registrar sync found at the registry and left for people."""
    return {
        "name": unicode_domain_name(name),
        "detail": detail,
        "at": _when(at),
        "relation": _relation(relation_number, relation_name),
    }


def _when(moment: dt.datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def _collect_expiring(
    session: Session, digests: dict[int, SalesDigest], today: dt.date, horizon_days: int
) -> None:
    parent, (own, via_reseller) = _scope_columns()
    wanted = set(digests)
    open_decision = (
        select(RenewalDecision.id)
        .where(
            RenewalDecision.domain_id == Domain.id,
            RenewalDecision.expiry_date == Domain.expiry_date,
            RenewalDecision.state.in_(OPEN_STATES),
        )
        .exists()
    )
    rows = session.execute(
        select(
            Domain.name,
            Domain.expiry_date,
            Relation.number,
            Relation.name,
            own,
            via_reseller,
        )
        .join(Relation, Relation.id == Domain.relation_id)
        .outerjoin(parent, parent.id == Relation.parent_id)
        .where(
            Domain.status.in_(AWAITING_DECISION),
            Domain.expiry_date <= today + dt.timedelta(days=horizon_days),
            _in_scope(parent, list(wanted)),
            not_(open_decision),
        )
        .order_by(Domain.expiry_date, Domain.name)
    )
    for name, expiry, number, relation_name, own_id, reseller_id in rows:
        line = expiring_line(name, expiry, today, number, relation_name)
        for user_id in _owners(own_id, reseller_id, wanted):
            digests[user_id].expiring.add(line)


def _collect_due(
    session: Session, digests: dict[int, SalesDigest], today: dt.date, lead_days: int
) -> None:
    """Confirmed renewals overdue or due today (``escalation.due_renewals``), soonest first."""
    parent, (own, via_reseller) = _scope_columns()
    wanted = set(digests)
    rows = session.execute(
        escalation.due_renewals(today, lead_days)
        .add_columns(Domain.name, Relation.number, Relation.name, own, via_reseller)
        .join(Relation, Relation.id == Domain.relation_id)
        .outerjoin(parent, parent.id == Relation.parent_id)
        .where(_in_scope(parent, list(wanted)))
    )
    for decision, name, number, relation_name, own_id, reseller_id in rows:
        line = escalation.alert_line(
            name=unicode_domain_name(name),
            expiry_date=decision.expiry_date,
            today=today,
            lead_days=lead_days,
            years=decision.years,
            state=decision.state,
            message=decision.message,
            attempts=decision.attempts or 0,
            relation_number=number,
            relation_name=relation_name,
            sales_name=None,
            sales_email=None,
        )
        for user_id in _owners(own_id, reseller_id, wanted):
            digests[user_id].due.add(line)


def _collect_queue(session: Session, digests: dict[int, SalesDigest]) -> None:
    parent, (own, via_reseller) = _scope_columns()
    decider = aliased(user_model())
    wanted = set(digests)
    rows = session.execute(
        select(
            Domain.name,
            RenewalDecision.decision,
            RenewalDecision.years,
            RenewalDecision.expiry_date,
            RenewalDecision.state,
            RenewalDecision.message,
            RenewalDecision.decided_at,
            RenewalDecision.channel,
            decider.username,
            Relation.number,
            Relation.name,
            own,
            via_reseller,
            RenewalDecision.attempts,
        )
        .join(Domain, Domain.id == RenewalDecision.domain_id)
        .join(Relation, Relation.id == Domain.relation_id)
        .outerjoin(parent, parent.id == Relation.parent_id)
        .outerjoin(decider, decider.id == RenewalDecision.decided_by_id)
        .where(RenewalDecision.state.in_(OPEN_STATES), _in_scope(parent, list(wanted)))
        .order_by(RenewalDecision.decided_at, RenewalDecision.id)
    )
    for row in rows:
        (name, decision, years, expiry, state, message, decided_at, channel, username) = row[:9]
        number, relation_name, own_id, reseller_id, attempts = row[9:]
        line = queue_line(
            name=name,
            decision=decision,
            years=years,
            expiry_date=expiry,
            state=state,
            message=message,
            decided_at=decided_at,
            decided_by=username or CHANNEL_NAMES.get(channel, str(channel)),
            relation_number=number,
            relation_name=relation_name,
            attempts=attempts or 0,
        )
        for user_id in _owners(own_id, reseller_id, wanted):
            digests[user_id].queue.add(line)


def _executed_action(decision: Decision, state: ProcessingState, message: str | None) -> str:
    if state is ProcessingState.failed:
        return "failed"
    if decision is Decision.renew:
        return "renewed"
    text = (message or "").lower()
    if text.startswith("deleted"):
        return "deleted"
    if text.startswith("deactivated"):
        return "deactivated"
    return "removed"


def _collect_automated(session: Session, digests: dict[int, SalesDigest]) -> None:
    """The automated job's actions in each digest's window (one query over the widest one)."""
    parent, (own, via_reseller) = _scope_columns()
    wanted = set(digests)
    earliest = min(digest.since for digest in digests.values())
    until = max(digest.until for digest in digests.values())
    executed = and_(
        RenewalDecision.processed_by_id.is_(None),
        RenewalDecision.state.in_(_EXECUTED),
        RenewalDecision.processed_at > earliest,
        RenewalDecision.processed_at <= until,
    )
    queued = and_(
        RenewalDecision.channel == DecisionChannel.automatic,
        RenewalDecision.decided_at > earliest,
        RenewalDecision.decided_at <= until,
    )
    rows = session.execute(
        select(
            Domain.name,
            RenewalDecision.decision,
            RenewalDecision.state,
            RenewalDecision.message,
            RenewalDecision.channel,
            RenewalDecision.decided_at,
            RenewalDecision.processed_at,
            RenewalDecision.processed_by_id,
            Relation.number,
            Relation.name,
            own,
            via_reseller,
        )
        .join(Domain, Domain.id == RenewalDecision.domain_id)
        .join(Relation, Relation.id == Domain.relation_id)
        .outerjoin(parent, parent.id == Relation.parent_id)
        .where(or_(executed, queued), _in_scope(parent, list(wanted)))
        .order_by(func.coalesce(RenewalDecision.processed_at, RenewalDecision.decided_at))
    )
    for row in rows:
        name, decision, state, message, channel, decided_at, processed_at, processed_by = row[:8]
        number, relation_name, own_id, reseller_id = row[8:]
        for user_id in _owners(own_id, reseller_id, wanted):
            digest = digests[user_id]

            def within(moment, digest=digest):
                return moment is not None and digest.since < moment <= digest.until

            if processed_by is None and state in _EXECUTED and within(processed_at):
                action = _executed_action(decision, state, message)
                at, ok = processed_at, state is ProcessingState.done
            elif channel is DecisionChannel.automatic and within(decided_at):
                action, at, ok = "queued for removal", decided_at, True
            else:
                continue
            digest.automated.add(
                automated_line(
                    name=name,
                    action=action,
                    ok=ok,
                    message=message,
                    at=at,
                    relation_number=number,
                    relation_name=relation_name,
                )
            )


def _collect_registry(session: Session, digests: dict[int, SalesDigest]) -> None:
    """The registrar sync's differences left for people in each digest's window."""
    parent, (own, via_reseller) = _scope_columns()
    wanted = set(digests)
    earliest = min(digest.since for digest in digests.values())
    until = max(digest.until for digest in digests.values())
    rows = session.execute(
        select(
            Domain.name,
            RegistryDifference.detail,
            RegistryDifference.found_at,
            Relation.number,
            Relation.name,
            own,
            via_reseller,
        )
        .join(Domain, Domain.id == RegistryDifference.domain_id)
        .join(Relation, Relation.id == Domain.relation_id)
        .outerjoin(parent, parent.id == Relation.parent_id)
        .where(
            RegistryDifference.found_at > earliest,
            RegistryDifference.found_at <= until,
            _in_scope(parent, list(wanted)),
        )
        .order_by(RegistryDifference.found_at, RegistryDifference.id)
    )
    for name, detail, found_at, number, relation_name, own_id, reseller_id in rows:
        line = registry_line(
            name=name,
            detail=detail,
            at=found_at,
            relation_number=number,
            relation_name=relation_name,
        )
        for user_id in _owners(own_id, reseller_id, wanted):
            digest = digests[user_id]
            if digest.since < found_at <= digest.until:
                digest.registry.add(line)


def _last_covered(session: Session, user_ids: list[int]) -> dict[int, dt.datetime]:
    """Per sales contact, the moment up to which their last sent digest reported."""
    rows = session.execute(
        select(SalesDigestLog.user_id, func.max(SalesDigestLog.covered_until))
        .where(
            SalesDigestLog.user_id.in_(user_ids),
            SalesDigestLog.status == SalesDigestStatus.sent,
        )
        .group_by(SalesDigestLog.user_id)
    )
    return {user_id: covered for user_id, covered in rows if covered is not None}


def build_digests(
    session: Session,
    contacts: Iterable[SalesContact],
    today: dt.date,
    now: dt.datetime | None = None,
    lead_days: int = deadlines.DeadlineSettings.lead_days,
) -> list[SalesDigest]:
    """The digest of each sales contact (empty ones included), in the order given."""
    now = now or utcnow()
    contacts = list(contacts)
    if not contacts:
        return []
    covered = _last_covered(session, [c.user_id for c in contacts])
    digests = {
        contact.user_id: SalesDigest(
            contact, since=covered.get(contact.user_id, now - FIRST_LOOKBACK), until=now
        )
        for contact in contacts
    }
    _collect_due(session, digests, today, lead_days)
    _collect_expiring(session, digests, today, HORIZON_DAYS)
    _collect_queue(session, digests)
    _collect_automated(session, digests)
    _collect_registry(session, digests)
    return list(digests.values())


def sales_digest_context(
    *,
    sales_name: str,
    sales_email: str,
    today: dt.date,
    since: dt.datetime,
    expiring: list[dict],
    expiring_count: int,
    queue: list[dict],
    queue_count: int,
    automated: list[dict],
    automated_count: int,
    mail: mailer.MailSettings,
    horizon_days: int = HORIZON_DAYS,
    due: list[dict] = (),
    due_count: int = 0,
    lead_days: int = deadlines.DeadlineSettings.lead_days,
    registry: list[dict] = (),
    registry_count: int = 0,
) -> dict:
    """What a sales-digest template can use: plain values only (it renders in a sandbox).

    The lists hold ``escalation.alert_line`` (due now), ``expiring_line``, ``queue_line``,
    ``automated_line`` and ``registry_line`` dicts (at most ``MAX_LISTED`` each); the counts
    are the full numbers, ``*_more`` what is not listed."""
    return {
        "sales_contact": {"name": sales_name, "email": sales_email},
        "today": today.isoformat(),
        "horizon_days": horizon_days,
        "lead_days": lead_days,
        "since": _when(since),
        "due": list(due),
        "due_count": due_count,
        "due_more": max(due_count - len(due), 0),
        "expiring": list(expiring),
        "expiring_count": expiring_count,
        "expiring_more": max(expiring_count - len(expiring), 0),
        "queue": list(queue),
        "queue_count": queue_count,
        "queue_more": max(queue_count - len(queue), 0),
        "automated": list(automated),
        "automated_count": automated_count,
        "automated_more": max(automated_count - len(automated), 0),
        "registry": list(registry),
        "registry_count": registry_count,
        "registry_more": max(registry_count - len(registry), 0),
        "queue_url": mail.url(QUEUE_PATH),
        "expirations_url": mail.url(EXPIRATIONS_PATH),
        "base_url": mail.base_url,
    }


def digest_context(
    digest: SalesDigest,
    today: dt.date,
    mail: mailer.MailSettings,
    lead_days: int = deadlines.DeadlineSettings.lead_days,
) -> dict:
    return sales_digest_context(
        due=digest.due.items,
        due_count=digest.due.total,
        lead_days=lead_days,
        sales_name=digest.contact.name,
        sales_email=digest.contact.email,
        today=today,
        since=digest.since,
        expiring=digest.expiring.items,
        expiring_count=digest.expiring.total,
        queue=digest.queue.items,
        queue_count=digest.queue.total,
        automated=digest.automated.items,
        automated_count=digest.automated.total,
        registry=digest.registry.items,
        registry_count=digest.registry.total,
        mail=mail,
    )


# --- the run ------------------------------------------------------------------------------------


@dataclass
class DigestRunSummary:
    run_date: dt.date
    dry_run: bool = False
    #: Sales contacts considered (Sales role, at least one relation).
    recipients: int = 0
    sent: int = 0
    failed: int = 0
    #: Nothing to report: no email.
    empty: int = 0
    #: Already sent today, or being sent by another run right now.
    already: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failed == 0

    def __str__(self) -> str:
        verb = "would send" if self.dry_run else "sent"
        return (
            f"sales digests {self.run_date}: {self.recipients} sales contacts; {verb} "
            f"{self.sent}, failed {self.failed}, nothing to report {self.empty}, "
            f"already sent {self.already}"
        )


def send_sales_digests(
    session: Session,
    mail_state,
    mail: mailer.MailSettings,
    today: dt.date,
    dry_run: bool = False,
    echo: Callable[[str], None] | None = None,
    lead_days: int = deadlines.DeadlineSettings.lead_days,
) -> DigestRunSummary:
    """One run for ``today``: at most one digest per sales contact per day, none when there
    is nothing to report. Safe to run again (a failed digest is retried) or concurrently.
    ``mail_state`` is Flask-Mail's settings (``session.current_mail()``); ``lead_days`` is
    ``EXECUTION_LEAD_DAYS`` (``deadlines``)."""
    summary = DigestRunSummary(today, dry_run)
    say = echo or (lambda _text: None)
    now = utcnow()
    contacts = sales_contacts(session)
    summary.recipients = len(contacts)
    done_today, retry_ids = _todays_log(session, [c.user_id for c in contacts], today, now)
    pending = [c for c in contacts if c.user_id not in done_today]
    summary.already = len(contacts) - len(pending)
    digests = []
    for digest in build_digests(session, pending, today, now, lead_days):
        if digest.empty:
            summary.empty += 1
        else:
            digests.append(digest)
    session.commit()  # end the read transaction before claiming
    if dry_run:
        for digest in digests:
            summary.sent += 1
            say(f"would send to {digest.contact.email}: {digest.describe()}")
        return summary
    source = email_templates.template_for(session, email_templates.SALES_DIGEST, "en")
    with mailer.Outbox(mail_state, mail.sender) as outbox:  # one connection per run
        for start in range(0, len(digests), CHUNK_SIZE):
            chunk = digests[start : start + CHUNK_SIZE]
            _send_chunk(
                session, outbox, today, mail, source, chunk, retry_ids, summary, say, lead_days
            )
    log.info("%s", summary)
    return summary


def _todays_log(
    session: Session, user_ids: list[int], today: dt.date, now: dt.datetime
) -> tuple[set[int], dict[int, int]]:
    """``(users done today, {user: log id to retry})``: done is sent, or being sent by a live
    run; a failed row, or a claim abandoned for ``STALE_CLAIM``, is retried."""
    done, retry = set(), {}
    if not user_ids:
        return done, retry
    rows = session.execute(
        select(
            SalesDigestLog.user_id,
            SalesDigestLog.id,
            SalesDigestLog.status,
            SalesDigestLog.claimed_at,
        ).where(SalesDigestLog.digest_date == today, SalesDigestLog.user_id.in_(user_ids))
    )
    for user_id, log_id, status, claimed_at in rows:
        if status in _RETRYABLE or (
            status is SalesDigestStatus.sending
            and (claimed_at is None or claimed_at < now - STALE_CLAIM)
        ):
            retry[user_id] = log_id
        else:
            done.add(user_id)
    return done, retry


def _send_chunk(
    session, outbox, today, mail, source, chunk, retry_ids, summary, say, lead_days
) -> None:
    """Claim the chunk, then send its digests one by one, recording each one's outcome (and
    committing) as soon as it is known: a run that dies after email N has recorded 1..N."""
    token = uuid.uuid4().hex
    owned = _claim(session, today, chunk, retry_ids, token)
    outgoing, updates = [], []
    for digest in chunk:
        if digest.contact.user_id not in owned:
            summary.already += 1  # another run has it
            continue
        log_id, attempts = owned[digest.contact.user_id]
        row = {
            "log_id": log_id,
            "recipient": digest.contact.email[:320],
            "attempts": attempts + 1,
            "covered_until": digest.until,
            "expiring_count": digest.expiring.total,
            "queue_count": digest.queue.total,
            "automated_count": digest.automated.total,
            "sent_at": None,
        }
        try:
            to = normalize_email(digest.contact.email)
        except InvalidValue as exc:
            _failed(summary, say, digest, str(exc))
            updates.append(row | {"status": SalesDigestStatus.failed, "error": str(exc)})
            continue
        outgoing.append(
            mailer.OutgoingEmail(
                to, _renderer(source, digest, today, mail, lead_days), tag=(digest, row)
            )
        )
    record_outcomes(session, _RECORD, updates)
    for result in outbox.send(outgoing):  # the next email is built after this one is recorded
        digest, row = result.email.tag
        if result.ok:
            summary.sent += 1
            say(f"sent to {digest.contact.email}: {digest.describe()}")
            outcome = {"status": SalesDigestStatus.sent, "error": None, "sent_at": utcnow()}
        else:
            _failed(summary, say, digest, result.error)
            outcome = {"status": SalesDigestStatus.failed, "error": result.error}
        record_outcomes(session, _RECORD, [row | outcome])


def _renderer(
    source, digest, today, mail, lead_days
) -> Callable[[], email_templates.RenderedEmail]:
    """The digest's email, rendered when ``Outbox`` builds it (so a failure is its own)."""
    return lambda: email_templates.render(source, digest_context(digest, today, mail, lead_days))


#: One log row's outcome, with what the digest covered.
_RECORD = outcome_update(
    SalesDigestLog.__table__, "covered_until", "expiring_count", "queue_count", "automated_count"
)


def _failed(summary: DigestRunSummary, say, digest: SalesDigest, problem: str) -> None:
    summary.failed += 1
    summary.problems.append(f"{digest.contact.email}: {problem}")
    say(f"failed for {digest.contact.email}: {problem}")


def _claim(
    session: Session,
    today: dt.date,
    chunk: list[SalesDigest],
    retry_ids: dict[int, int],
    token: str,
) -> dict[int, tuple[int, int]]:
    """Claim the chunk's digests for this run; return ``{user id: (log id, attempts)}`` of
    those this run now owns (a concurrent run's claims are left out). Commits."""
    now = utcnow()
    new_rows, retry = [], []
    for digest in chunk:
        user_id = digest.contact.user_id
        if user_id in retry_ids:
            retry.append(retry_ids[user_id])
            continue
        new_rows.append(
            {
                "user_id": user_id,
                "digest_date": today,
                "recipient": digest.contact.email[:320],
                "expiring_count": 0,
                "queue_count": 0,
                "automated_count": 0,
            }
        )
    return claim(
        session,
        SalesDigestLog,
        key_columns=["user_id"],
        unique_columns=["user_id", "digest_date"],
        new_rows=new_rows,
        retry_ids=retry,
        token=token,
        now=now,
        retryable=_RETRYABLE,
        sending=SalesDigestStatus.sending,
        stale_before=now - STALE_CLAIM,
    )


__all__ = [
    "DigestRunSummary",
    "SalesContact",
    "SalesDigest",
    "build_digests",
    "registry_line",
    "sales_contacts",
    "sales_digest_context",
    "send_sales_digests",
]
