"""The automated removal and renewal job: the routine part of the sales contacts' queue.

Each run, for a given day:

1. with ``AUTO_EXECUTE_RENEWALS`` on and a backend that can execute (not ``manual``), queued
   renewals are executed (``processing.execute``: claimed, sent with their curExpDate, recorded),
   and failed ones are retried with backoff, a bounded number of times (``deadlines``);
2. domains whose expiry date has passed that were declined, or are still undecided
   ``DELETION_GRACE_DAYS`` after it, get an automatic decline decision (unless one is open) and,
   with an executing backend, are deactivated (or deleted with ``AUTO_DELETE``); a deactivated
   domain is then queued for deletion by the sales contact. With the manual backend the job only
   queues them: the registrar work is done by hand.

Every action is a ``RenewalDecision`` row (channel ``automatic`` for the job's own, processed by
nobody) that the sales digest reports. Running twice, or in two processes, does each action once:
open decisions are unique per domain and expiry date, and execution claims the decision first.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

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
from renewal_reminder.renewals import deadlines, processing
from renewal_reminder.renewals.registrars import RegistrarBackend
from renewal_reminder.renewals.validation import InvalidValue

log = logging.getLogger(__name__)

BATCH = 500


@dataclass(frozen=True)
class AutomationSettings:
    auto_execute: bool
    auto_delete: bool
    grace_days: int
    #: When failed renewals are retried (and, for the job's alerts, when renewals are due).
    deadlines: deadlines.DeadlineSettings = deadlines.DeadlineSettings()

    def removal_date(self, expiry_date: dt.date) -> dt.date:
        """The day the job removes a domain still undecided for ``expiry_date`` (deletes it
        with AUTO_DELETE, else deactivates it): the first day after the grace period. The
        reminders quote this date; ``_remove_lapsed`` selects by it."""
        return expiry_date + dt.timedelta(days=self.grace_days + 1)

    def will_delete(self, registrar_executes: bool) -> bool:
        """Whether an undecided domain really gets deleted on ``removal_date``: AUTO_DELETE,
        and a registrar backend that carries it out (the manual one only queues it for the
        sales contact). What customers are promised follows this, nothing else."""
        return self.auto_delete and registrar_executes

    @classmethod
    def from_config(cls, config: Mapping) -> AutomationSettings:
        try:
            grace = int(config.get("DELETION_GRACE_DAYS", 0))
        except (TypeError, ValueError):
            raise InvalidValue("DELETION_GRACE_DAYS must be a whole number of days") from None
        if grace < 0:
            raise InvalidValue("DELETION_GRACE_DAYS cannot be negative")
        return cls(
            auto_execute=_flag(config.get("AUTO_EXECUTE_RENEWALS", False)),
            auto_delete=_flag(config.get("AUTO_DELETE", False)),
            grace_days=grace,
            deadlines=deadlines.DeadlineSettings.from_config(config),
        )


def _flag(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return bool(value)


@dataclass
class AutomationSummary:
    run_date: dt.date
    dry_run: bool = False
    renewed: int = 0
    deactivated: int = 0
    deleted: int = 0
    queued: int = 0
    failed: int = 0
    #: Failed renewals tried again (each also counted as renewed or failed).
    retried: int = 0
    problems: list[str] = field(default_factory=list)
    #: The alerts about renewals left unexecuted (``renewals.escalation``), sent by the same job.
    alerts: object | None = None
    #: The customers' receipts left unsent before (``renewals.receipts``), sent by the same job.
    receipts: object | None = None
    #: The registry could not be reached or refused the session (``RegistrarUnavailable``):
    #: the run stopped trying further domains (each would fail the same way, and a refused
    #: login tried per domain can lock the registrar's account). Its message.
    unavailable: str | None = None

    @property
    def ok(self) -> bool:
        return (
            self.failed == 0
            and getattr(self.alerts, "ok", True)
            and getattr(self.receipts, "ok", True)
        )

    def __str__(self) -> str:
        verb = "would " if self.dry_run else ""
        text = (
            f"removal and renewal {self.run_date}: {verb}renew {self.renewed}, "
            f"{verb}deactivate {self.deactivated}, {verb}delete {self.deleted}, "
            f"queued for sales {self.queued}, failed {self.failed}"
        )
        if self.retried:
            text += f", retried {self.retried}"
        if self.unavailable:
            text += "; stopped: the registry is unavailable"
        for part in (self.alerts, self.receipts):
            if part is not None:
                text += f"; {part}"
        return text


def run(
    session: Session,
    backend: RegistrarBackend,
    today: dt.date,
    settings: AutomationSettings,
    dry_run: bool = False,
    echo: Callable[[str], None] | None = None,
) -> AutomationSummary:
    summary = AutomationSummary(today, dry_run)
    say = echo or (lambda _text: None)
    executing = backend.can_execute
    if settings.auto_execute and executing:
        _execute_renewals(session, backend, today, settings, summary, dry_run, say)
    if summary.unavailable is None:
        _remove_lapsed(session, backend, today, settings, summary, dry_run, say)
    log.info("%s", summary)
    return summary


def _execute_renewals(session, backend, today, settings, summary, dry_run, say) -> None:
    """Queued renewals of confirmed domains, and failed ones whose retry is due
    (``deadlines.next_retry_at``: backoff, bounded attempts; then they wait for a person)."""
    now = deadlines.job_clock(today)
    rows = session.execute(
        select(
            RenewalDecision.id,
            RenewalDecision.state,
            RenewalDecision.attempts,
            RenewalDecision.next_attempt_at,
            RenewalDecision.processed_at,
        )
        .join(Domain, Domain.id == RenewalDecision.domain_id)
        .where(
            RenewalDecision.state.in_(processing.OPEN_STATES),
            RenewalDecision.decision == Decision.renew,
            RenewalDecision.expiry_date == Domain.expiry_date,
            Domain.status == DomainStatus.renewal_confirmed,
        )
        .order_by(RenewalDecision.expiry_date, RenewalDecision.decided_at)
    ).all()
    for decision_id, state, attempts, next_attempt_at, failed_at in rows:
        if summary.unavailable is not None:
            break
        retry = state is ProcessingState.failed
        if retry:
            due = deadlines.next_retry_at(attempts, next_attempt_at, failed_at, settings.deadlines)
            if due is None or due > now:
                continue
        if dry_run:
            decision = session.get(RenewalDecision, decision_id)
            again = f" (attempt {attempts + 1})" if retry else ""
            say(f"would renew {decision.domain.unicode_name} for {decision.years} year(s){again}")
            summary.renewed += 1
            continue
        retry_at = now + deadlines.retry_delay(attempts + 1, settings.deadlines)
        try:
            outcome = processing.execute(
                session,
                backend,
                decision_id,
                processed_by_id=None,
                expected_attempts=attempts,
                retry_at=retry_at if attempts + 1 < settings.deadlines.retry_attempts else None,
            )
        except processing.NotExecutable:
            continue  # done, or being done (or retried) by another run
        summary.retried += int(retry)
        _count(summary, outcome, "renewed", say)


def _remove_lapsed(session, backend, today, settings, summary, dry_run, say) -> None:
    """Expired domains that were declined, or are still undecided after the grace period."""
    # removal_date(expiry) <= today, written as a range on the indexed expiry date
    undecided_before = today - dt.timedelta(days=settings.grace_days)
    conditions = [
        and_(Domain.status == DomainStatus.renewal_declined, Domain.expiry_date < today),
        and_(Domain.status.in_(AWAITING_DECISION), Domain.expiry_date < undecided_before),
    ]
    if settings.auto_delete:  # deactivated earlier, now to be deleted as well
        conditions.append(
            and_(Domain.status == DomainStatus.deactivated, Domain.expiry_date < today)
        )
    lapsed = list(
        session.scalars(
            select(Domain).where(or_(*conditions)).order_by(Domain.expiry_date, Domain.id)
        )
    )
    action = (
        processing.DeclineAction.delete
        if settings.auto_delete
        else processing.DeclineAction.deactivate
    )
    for domain in lapsed:
        if summary.unavailable is not None:
            break
        if dry_run:
            _report_lapsed(session, backend, domain, action, summary, say)
            continue
        decision, created = _open_decline(session, domain)
        if decision is None:
            continue
        if not backend.can_execute:
            if created:
                summary.queued += 1
                say(f"queued {domain.unicode_name} for removal by the sales contact")
            continue
        if (
            domain.status is DomainStatus.deactivated
            and action is processing.DeclineAction.deactivate
        ):
            continue  # already deactivated: waits in the queue for deletion
        outcome = _execute(session, backend, decision.id, action)
        _count(
            summary,
            outcome,
            "deleted" if action is processing.DeclineAction.delete else "deactivated",
            say,
        )
        if outcome and outcome.ok and action is processing.DeclineAction.deactivate:
            session.refresh(domain)
            _, queued = _open_decline(session, domain, "deactivated automatically; delete it")
            summary.queued += int(queued)


def _report_lapsed(session, backend, domain, action, summary, say) -> None:
    """The dry run of one lapsed domain: say and count only what the real run above would
    change (no "would queue" for a decline already queued, nothing for an open renewal)."""
    existing = _open_decision(session, domain)
    if existing is not None and existing.decision is not Decision.decline:
        return  # a person decided to renew: the run leaves it alone
    expired = f"{domain.unicode_name} (expired {domain.expiry_date})"
    if not backend.can_execute:
        if existing is None:
            say(f"would queue {expired} for removal by the sales contact")
            summary.queued += 1
        return
    if domain.status is DomainStatus.deactivated and action is processing.DeclineAction.deactivate:
        return  # already deactivated: waits in the queue for deletion
    if action is processing.DeclineAction.delete:
        say(f"would delete {expired}")
        summary.deleted += 1
    else:
        say(f"would deactivate {expired} and queue it for deletion by the sales contact")
        summary.deactivated += 1
        summary.queued += 1


def _open_decision(session: Session, domain: Domain) -> RenewalDecision | None:
    """The open (queued or failed) decision for the domain's current expiry date, if any."""
    return session.scalar(
        select(RenewalDecision).where(
            RenewalDecision.domain_id == domain.id,
            RenewalDecision.expiry_date == domain.expiry_date,
            RenewalDecision.state.in_(processing.OPEN_STATES),
        )
    )


def _open_decline(
    session: Session, domain: Domain, message: str | None = None
) -> tuple[RenewalDecision | None, bool]:
    """The open decline decision for the domain's expiry date, creating an automatic one if
    there is none. ``(None, False)`` if an open *renewal* is waiting (a person decided)."""
    existing = _open_decision(session, domain)
    if existing is not None:
        return (existing, False) if existing.decision is Decision.decline else (None, False)
    decision = RenewalDecision(
        domain=domain,
        decision=Decision.decline,
        expiry_date=domain.expiry_date,
        channel=DecisionChannel.automatic,
        decided_at=utcnow(),
        message=message,
    )
    session.add(decision)
    try:
        session.commit()
    except IntegrityError:  # a concurrent run queued it first
        session.rollback()
        return _open_decline(session, domain, message)
    return decision, True


def _execute(session, backend, decision_id, action=processing.DeclineAction.deactivate):
    try:
        return processing.execute(
            session, backend, decision_id, processed_by_id=None, decline_action=action
        )
    except processing.NotExecutable:
        return None  # done or being done by another run


def _count(summary: AutomationSummary, outcome, what: str, say) -> None:
    if outcome is None:
        return
    if outcome.ok:
        setattr(summary, what, getattr(summary, what) + 1)
        say(f"{outcome.domain_name}: {outcome.message}")
    else:
        summary.failed += 1
        summary.problems.append(str(outcome))
        if outcome.unavailable and summary.unavailable is None:
            summary.unavailable = outcome.message
            summary.problems.append("the registry is unavailable: stopped trying further domains")
            say(f"the registry is unavailable, stopping: {outcome.message}")
