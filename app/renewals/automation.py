"""The automated removal and renewal job: the routine part of the sales contacts' queue.

Each run, for a given day:

1. with ``AUTO_EXECUTE_RENEWALS`` on and a backend that can execute (not ``manual``), queued
   renewals are executed (``processing.execute``: claimed, sent with their curExpDate, recorded);
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
from renewal_reminder.renewals import processing
from renewal_reminder.renewals.registrars import RegistrarBackend
from renewal_reminder.renewals.validation import InvalidValue

log = logging.getLogger(__name__)

BATCH = 500


@dataclass(frozen=True)
class AutomationSettings:
    auto_execute: bool
    auto_delete: bool
    grace_days: int

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
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failed == 0

    def __str__(self) -> str:
        verb = "would " if self.dry_run else ""
        return (
            f"removal and renewal {self.run_date}: {verb}renew {self.renewed}, "
            f"{verb}deactivate {self.deactivated}, {verb}delete {self.deleted}, "
            f"queued for sales {self.queued}, failed {self.failed}"
        )


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
        _execute_renewals(session, backend, summary, dry_run, say)
    _remove_lapsed(session, backend, today, settings, summary, dry_run, say)
    log.info("%s", summary)
    return summary


def _execute_renewals(session, backend, summary, dry_run, say) -> None:
    """Queued (not failed: those wait for a person) renewals of confirmed domains."""
    ids = list(
        session.scalars(
            select(RenewalDecision.id)
            .join(Domain, Domain.id == RenewalDecision.domain_id)
            .where(
                RenewalDecision.state == ProcessingState.queued,
                RenewalDecision.decision == Decision.renew,
                RenewalDecision.expiry_date == Domain.expiry_date,
                Domain.status == DomainStatus.renewal_confirmed,
            )
            .order_by(RenewalDecision.decided_at)
        )
    )
    for decision_id in ids:
        if dry_run:
            decision = session.get(RenewalDecision, decision_id)
            say(f"would renew {decision.domain.unicode_name} for {decision.years} year(s)")
            summary.renewed += 1
            continue
        _count(summary, _execute(session, backend, decision_id), "renewed", say)


def _remove_lapsed(session, backend, today, settings, summary, dry_run, say) -> None:
    """Expired domains that were declined, or are still undecided after the grace period."""
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
