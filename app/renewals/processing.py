"""Carrying out decisions: the sales contact's queue and the automated removal and renewal.

Executing is claim → registrar → record:

1. claim the decision with one conditional UPDATE (it must still be queued or failed, and not
   claimed by someone else in the last few minutes), so a double click or two sales contacts
   at once execute it once;
2. call the registrar backend with the expiry date the decision was made for (EPP's
   curExpDate), so even a retry after a lost answer renews once;
3. record the outcome in one transaction: the domain moves on (new expiry date, status
   ``renewed``: a new cycle needing its own decision) and the decision is ``done``; or the
   decision is ``failed`` with the backend's message, visible for a retry. Nothing is
   half-applied: the database changes only after the backend answered.

Every entry point (the queue page, the domain page, the automated job) calls these functions.
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import Select, and_, or_, select, update
from sqlalchemy.orm import Session, selectinload

from renewal_reminder.models import (
    AWAITING_DECISION,
    Decision,
    DecisionChannel,
    Domain,
    DomainStatus,
    ProcessingState,
    RenewalDecision,
)
from renewal_reminder.models.base import utcnow
from renewal_reminder.renewals import access, deadlines, lifecycle, receipts
from renewal_reminder.renewals.registrars import (
    RegistrarBackend,
    RegistrarError,
    RegistrarUnavailable,
)
from renewal_reminder.renewals.validation import InvalidValue, check_expiry_date

log = logging.getLogger(__name__)

#: A claim older than this belongs to a request or job that died mid-way: take it over.
CLAIM_TIMEOUT = dt.timedelta(minutes=10)
OPEN_STATES = (ProcessingState.queued, ProcessingState.failed)


def claimable(now: dt.datetime):
    """The SQL condition of a decision that may be claimed at ``now``: open, and not held by
    an execution that may still be running (claimed within ``CLAIM_TIMEOUT``). Executing,
    replacing and the registrar sync all claim through it."""
    return and_(
        RenewalDecision.state.in_(OPEN_STATES),
        or_(
            RenewalDecision.claimed_at.is_(None),
            RenewalDecision.claimed_at < now - CLAIM_TIMEOUT,
        ),
    )


_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class DeclineAction(enum.StrEnum):
    deactivate = "deactivate"
    delete = "delete"


class NotExecutable(Exception):
    """This decision cannot be executed now; the message says why, for people."""


def parse_new_expiry(text: str, today: dt.date) -> dt.date:
    """The new expiry date a sales contact typed (YYYY-MM-DD, in the range every expiry date
    must be in), or ``InvalidValue`` saying what is wrong."""
    value = (text or "").strip()
    try:
        parsed = dt.date.fromisoformat(value) if _ISO_DATE.fullmatch(value) else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise InvalidValue(f"{value[:40]!r} is not a date (use YYYY-MM-DD)")
    return check_expiry_date(parsed, today)


class NotExecutableAtRegistrar(RegistrarError):
    """The domain's own state forbids the action (recorded as a failure, like a 2304)."""

    def __init__(self, detail: str):
        super().__init__(detail, 2304, summary="Object status prohibits operation")


@dataclass
class Outcome:
    decision_id: int
    domain_name: str
    ok: bool
    message: str
    #: The customer's receipt, written with the outcome: send it after the commit.
    receipts: list[receipts.ReceiptKey] = field(default_factory=list)
    #: The registry could not be reached or refused the session (``RegistrarUnavailable``):
    #: a batch stops here instead of failing every further domain the same way.
    unavailable: bool = False

    def __str__(self) -> str:
        return f"{self.domain_name}: {self.message}"


def queue(
    session: Session,
    user,
    limit: int = 1000,
    *,
    today: dt.date | None = None,
    lead_days: int = 3,
    relation_ids: Select | None = None,
) -> list[RenewalDecision]:
    """Decisions waiting to be carried out (queued, or failed and waiting for a retry) that
    ``user`` may see (and, given ``relation_ids``, only those relations' domains): overdue
    renewals first (``deadlines.deadline``), then by the expiry date they were decided for,
    then oldest first."""
    today = today or dt.date.today()
    query = (
        select(RenewalDecision)
        .where(RenewalDecision.state.in_(OPEN_STATES))
        .options(selectinload(RenewalDecision.domain).selectinload(Domain.relation))
        .order_by(RenewalDecision.expiry_date, RenewalDecision.decided_at, RenewalDecision.id)
        .limit(limit)
    )
    visible = access.visible_domain_ids(user)
    if visible is not None:
        query = query.where(RenewalDecision.domain_id.in_(visible))
    if relation_ids is not None:
        held = select(Domain.id).where(Domain.relation_id.in_(relation_ids))
        query = query.where(RenewalDecision.domain_id.in_(held))

    def overdue_first(decision: RenewalDecision) -> int:
        late = deadlines.deadline(decision.expiry_date, today, lead_days).overdue
        return 0 if decision.decision is Decision.renew and late else 1

    return sorted(session.scalars(query), key=overdue_first)


def _claim(
    session: Session, decision_id: int, now: dt.datetime, attempts: int | None = None
) -> bool:
    """Claim the decision (see the module's docstring); with ``attempts``, only if that many
    executions have failed so far, so two job runs retry one failure once."""
    conditions = [] if attempts is None else [RenewalDecision.attempts == attempts]
    result = session.execute(
        update(RenewalDecision)
        .where(
            RenewalDecision.id == decision_id,
            claimable(now),
            *conditions,
        )
        .values(claimed_at=now)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return result.rowcount == 1


def _load(session: Session, decision_id: int) -> RenewalDecision:
    session.expire_all()
    return session.get(RenewalDecision, decision_id)


def execute(
    session: Session,
    backend: RegistrarBackend,
    decision_id: int,
    *,
    processed_by_id: int | None,
    new_expiry: dt.date | None = None,
    decline_action: DeclineAction = DeclineAction.deactivate,
    today: dt.date | None = None,
    expected_attempts: int | None = None,
    retry_at: dt.datetime | None = None,
) -> Outcome:
    """Carry out one queued (or failed) decision at the registrar and record the result.

    The automated job passes ``expected_attempts`` (the failures it saw: another run that
    retried meanwhile wins) and ``retry_at`` (when it retries should this attempt fail).

    A renewal gives the backend the decision's expiry date and years (and, for the manual
    backend, the ``new_expiry`` the sales contact entered). A decline deactivates or deletes
    the domain. Raises ``NotExecutable`` if the decision is not open or is being executed by
    someone else right now; registrar failures are recorded and returned, not raised.
    """
    now = utcnow()
    if not _claim(session, decision_id, now, expected_attempts):
        decision = session.get(RenewalDecision, decision_id)
        if decision is None:
            raise NotExecutable("There is no such decision.")
        if decision.state not in OPEN_STATES:
            raise NotExecutable(
                f"{decision.domain.unicode_name}: this decision is already {decision.state}."
            )
        raise NotExecutable(f"{decision.domain.unicode_name} is being processed right now.")
    decision = _load(session, decision_id)
    domain = decision.domain
    try:
        if decision.decision is Decision.renew:
            message = _renew(session, backend, decision, domain, new_expiry)
        else:
            message = _decline(backend, domain, decline_action)
    except RegistrarError as exc:
        record_failed(
            decision,
            f"{backend.name}: {exc}",
            now,
            processed_by_id=processed_by_id,
            retry_at=retry_at,
        )
        session.commit()
        log.warning("executing decision %s for %s failed: %s", decision.id, domain.name, exc)
        return Outcome(
            decision.id,
            domain.unicode_name,
            False,
            decision.message,
            unavailable=isinstance(exc, RegistrarUnavailable),
        )
    except Exception:
        session.rollback()
        _release(session, decision_id)
        raise
    receipt = record_done(session, decision, message, now, processed_by_id=processed_by_id)
    session.commit()
    keys = [receipt] if receipt else []
    return Outcome(decision.id, domain.unicode_name, True, message, keys)


# --- recording an outcome: one rule for every caller (executions here, the registrar sync) ----


def record_done(
    session: Session,
    decision: RenewalDecision,
    message: str,
    now: dt.datetime,
    *,
    processed_by_id: int | None,
) -> receipts.ReceiptKey | None:
    """The decision was carried out at the registrar (here, or found done there by the
    registrar sync): ``done`` with the message, its claim released, and the customer's
    receipt written in the same transaction. Flushes; the caller commits (then sends the
    receipt)."""
    decision.state = ProcessingState.done
    decision.message = message[:2000]
    decision.processed_by_id = processed_by_id
    decision.processed_at = now
    decision.claimed_at = None
    session.flush()
    return receipts.write_execution_receipt(session, decision, decision.domain)


def record_failed(
    decision: RenewalDecision,
    message: str,
    now: dt.datetime,
    *,
    processed_by_id: int | None,
    retry_at: dt.datetime | None = None,
    count_attempt: bool = True,
) -> None:
    """The decision stays open as ``failed`` with the reason: the queue shows it for a retry,
    and a confirmed renewal keeps escalating (``escalation``) until a person acts.
    ``count_attempt`` False: not an execution that failed (the registrar sync found the
    registry's state in the way), so the automated job's retry budget is not spent on it."""
    decision.state = ProcessingState.failed
    decision.message = message[:2000]
    if count_attempt:
        decision.attempts = (decision.attempts or 0) + 1
        decision.next_attempt_at = retry_at  # None: the job waits (deadlines.next_retry_at)
    decision.processed_by_id = processed_by_id
    decision.processed_at = now
    decision.claimed_at = None


def supersede(decisions: Iterable[RenewalDecision], message: str, now: dt.datetime) -> int:
    """Open decisions that no longer apply (replaced by a direct removal, or by what the
    registry did): ``superseded`` with the reason, their claims released. Returns how many."""
    count = 0
    for decision in decisions:
        decision.state = ProcessingState.superseded
        decision.processed_at = now
        decision.message = message[:2000]
        decision.claimed_at = None
        count += 1
    return count


def removal_record(
    domain: Domain,
    now: dt.datetime,
    *,
    channel: DecisionChannel,
    decided_by_id: int | None,
    done_message: str | None = None,
) -> RenewalDecision:
    """The decline decision that keeps a removal in the domain's history, for its current
    expiry date: queued (to be executed), or, given ``done_message``, already done (the
    registry deleted it without us). Added to the domain's decisions; the caller flushes."""
    record = RenewalDecision(
        domain=domain,
        decision=Decision.decline,
        expiry_date=domain.expiry_date,
        channel=channel,
        decided_by_id=decided_by_id,
        decided_at=now,
        state=ProcessingState.queued,
    )
    if done_message is not None:
        record.state = ProcessingState.done
        record.processed_by_id = None
        record.processed_at = now
        record.message = done_message[:2000]
    return record


def _release(session: Session, decision_id: int) -> None:
    session.execute(
        update(RenewalDecision)
        .where(RenewalDecision.id == decision_id)
        .values(claimed_at=None)
        .execution_options(synchronize_session=False)
    )
    session.commit()


def _renew(session, backend, decision, domain, new_expiry) -> str:
    if domain.status not in (DomainStatus.renewal_confirmed, *AWAITING_DECISION):
        raise NotExecutableAtRegistrar(f"the domain is {domain.status}")
    result = backend.renew(domain.name, decision.expiry_date, decision.years, new_expiry=new_expiry)
    # The domain moves on only if nobody moved it meanwhile (an import with the new date).
    moved_meanwhile = domain.expiry_date != decision.expiry_date
    lifecycle.start_next_cycle(domain, domain.expiry_date if moved_meanwhile else result.new_expiry)
    note = " (the registrar had already done it)" if result.already_done else ""
    if not backend.can_execute:
        return f"recorded as renewed for {decision.years} year(s) until {result.new_expiry}"
    return f"renewed for {decision.years} year(s) until {result.new_expiry}{note}"


def _decline(backend, domain, action: DeclineAction) -> str:
    """Carry out a decline. With a backend that cannot act at the registrar (``manual``), the
    sales contact did it by hand: the message says it was recorded, not done here."""
    by_hand = "(recorded; done at the registrar by hand)"
    where = "at the registrar" if backend.can_execute else by_hand
    if action is DeclineAction.delete:
        backend.delete(domain.name)
        domain.status = DomainStatus.deleted
        return f"deleted {where}"
    backend.deactivate(domain.name)
    domain.status = DomainStatus.deactivated
    return f"deactivated {where}"


def remove_domain(
    session: Session,
    backend: RegistrarBackend,
    domain: Domain,
    action: DeclineAction,
    *,
    processed_by_id: int | None,
    channel: DecisionChannel = DecisionChannel.sales,
) -> Outcome:
    """Deactivate or delete a domain directly (from its page, or by the automated job).

    The history keeps it: a decline decision for the current expiry date is recorded as done
    (or, when the registrar fails, as failed and queued for a retry). An open decision for the
    same date is superseded by it."""
    now = utcnow()
    if domain.status is DomainStatus.deleted or (
        domain.status is DomainStatus.deactivated and action is DeclineAction.deactivate
    ):
        return Outcome(0, domain.unicode_name, True, f"already {domain.status}")
    open_decisions = session.scalars(
        select(RenewalDecision).where(
            RenewalDecision.domain_id == domain.id,
            RenewalDecision.expiry_date == domain.expiry_date,
            RenewalDecision.state.in_(OPEN_STATES),
        )
    ).all()
    supersede(open_decisions, f"replaced: the domain was {action}d directly", now)
    session.flush()
    record = removal_record(domain, now, channel=channel, decided_by_id=processed_by_id)
    session.add(record)
    session.commit()
    return execute(
        session, backend, record.id, processed_by_id=processed_by_id, decline_action=action
    )


@dataclass
class QueueResult:
    outcomes: list[Outcome] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def execute_many(
    session: Session,
    backend: RegistrarBackend,
    user,
    decision_ids: list[int],
    *,
    new_expiries: dict[int, dt.date] | None = None,
    decline_action: DeclineAction = DeclineAction.deactivate,
) -> QueueResult:
    """The queue page's bulk execution: only decisions ``user`` may see; one failure does not
    stop the others."""
    result = QueueResult()
    visible = access.visible_domain_ids(user)
    query = select(RenewalDecision.id).where(RenewalDecision.id.in_(decision_ids))
    if visible is not None:
        query = query.where(RenewalDecision.domain_id.in_(visible))
    allowed = set(session.scalars(query))
    if len(allowed) != len(set(decision_ids)):
        raise access.AccessDenied("decision not found")
    manual_renewals = set()
    if not backend.can_execute:
        manual_renewals = set(
            session.scalars(
                select(RenewalDecision.id).where(
                    RenewalDecision.id.in_(decision_ids),
                    RenewalDecision.decision == Decision.renew,
                )
            )
        )
    today = dt.date.today()
    unavailable: Outcome | None = None
    with backend.session():  # one registry login for the selection (EPP)
        for decision_id in decision_ids:
            if unavailable is not None:  # every further one would fail the same way
                decision = session.get(RenewalDecision, decision_id)
                result.skipped.append(
                    f"{decision.domain.unicode_name}: not tried, the registry is unavailable "
                    f"({unavailable.message})"
                )
                continue
            new_expiry = (new_expiries or {}).get(decision_id)
            if new_expiry is not None:
                try:
                    check_expiry_date(new_expiry, today)
                except InvalidValue as exc:
                    decision = session.get(RenewalDecision, decision_id)
                    result.skipped.append(f"{decision.domain.unicode_name}: {exc}")
                    continue
            if decision_id in manual_renewals and new_expiry is None:
                decision = session.get(RenewalDecision, decision_id)
                result.skipped.append(
                    f"{decision.domain.unicode_name}: renew it at the registrar, then enter the "
                    "new expiry date here"
                )
                continue
            try:
                outcome = execute(
                    session,
                    backend,
                    decision_id,
                    processed_by_id=getattr(user, "id", None),
                    new_expiry=new_expiry,
                    decline_action=decline_action,
                )
            except NotExecutable as exc:
                result.skipped.append(str(exc))
                continue
            result.outcomes.append(outcome)
            if outcome.unavailable:
                unavailable = outcome
    return result


__all__ = [
    "DeclineAction",
    "NotExecutable",
    "Outcome",
    "QueueResult",
    "execute",
    "execute_many",
    "parse_new_expiry",
    "queue",
    "record_done",
    "record_failed",
    "removal_record",
    "remove_domain",
    "supersede",
]
