"""The registrar sync: what the registry says about each active domain, reconciled here.

A domain can change at the registrar without this product: a sales contact renewed it in the
registrar's own control panel, the registry auto-renewed it, or it was deleted there. The sync
asks the backend's ``info`` for every active domain (not deactivated or deleted) and
reconciles the four cases:

- **unchanged**: the registry's expiry date is ours and the name is not being deleted;
- **moved on**: the registry's expiry date is later. The next cycle starts exactly as for a
  renewal executed here (``lifecycle.start_next_cycle``). An open renewal decision that this
  renewal fulfils (its date plus its years is the registry's date) is marked done, with the
  customer's receipt, as its execution would have been; other open decisions for the old date
  are superseded; otherwise the renewal is recorded as a done renewal decision of the
  automatic channel, so the domain's history says what happened;
- **gone** (the registry answers 2303) or **pendingDelete**: the domain is deleted here, as a
  deletion is recorded today (``processing.remove_domain``): open decisions are superseded and
  a done decline decision carries the reason.

Every change is a decision executed by nobody (``processed_by_id`` NULL), so the sales digest
lists it with what the automated job did, with the reason. Other differences (the registry's
date is *earlier*, or the name is on hold while active here) are left for people: they are
reported in the summary (and the job run), not changed.

Batched: ``BATCH_SIZE`` domains are asked, then reconciled and committed in one transaction,
in domain id order, so a run that stops half-way can resume after the last committed batch
(``after_id``; the job keeps it in ``JobRun.resume_after_id``). The database is not written
while the registry is being asked. One registry session per run (``backend.session()``: one
EPP login). Safe to run twice or concurrently: each change is claimed with one conditional
UPDATE of the domain (it must still have the expiry date and status the registry's answer was
compared with, and no decision of it may be executing right now), so two runs, or a run and
an execution, record it once; a second run finds nothing to change.
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Select, exists, not_, select, update
from sqlalchemy.orm import Session

from renewal_reminder.models import (
    OUT_OF_CYCLE,
    Decision,
    DecisionChannel,
    Domain,
    DomainStatus,
    ProcessingState,
    Relation,
    RenewalDecision,
)
from renewal_reminder.models.base import utcnow
from renewal_reminder.renewals import lifecycle, receipts
from renewal_reminder.renewals.decisions import tree_relation_ids
from renewal_reminder.renewals.processing import CLAIM_TIMEOUT, OPEN_STATES
from renewal_reminder.renewals.registrars import (
    DomainInfo,
    RegistrarBackend,
    RegistrarError,
    renewed_expiry,
)
from renewal_reminder.renewals.registrars.base import OBJECT_DOES_NOT_EXIST
from renewal_reminder.renewals.validation import MAX_YEARS, MIN_YEARS

log = logging.getLogger(__name__)

#: Domains asked, then reconciled and committed, per transaction.
BATCH_SIZE = 500
#: This many failed questions in a row (and none answered since): the registry is unreachable
#: or refusing us; stop, and let the next run resume rather than fail 10,000 times.
MAX_FAILURES_IN_A_ROW = 25
#: Marks the sync's own records (decisions' messages), for people and for the digest.
BY_SYNC = "found by the registrar sync"


class Change(enum.StrEnum):
    moved_on = "moved on"
    gone = "gone"
    pending_delete = "pendingDelete"


@dataclass(frozen=True)
class Difference:
    """One domain whose registry state differs from ours, and what the sync does about it."""

    domain_id: int
    name: str
    change: Change
    expiry_date: dt.date
    status: DomainStatus
    #: The registry's expiry date (moved on); None when gone.
    registry_expiry: dt.date | None = None
    reason: str = ""

    def describe(self) -> str:
        if self.change is Change.moved_on:
            return (
                f"{self.name}: renewed at the registrar, {self.expiry_date} -> "
                f"{self.registry_expiry}"
            )
        return f"{self.name}: deleted at the registry ({self.reason})"


@dataclass
class SyncSummary:
    dry_run: bool = False
    #: Where the run started (a resumed run: after this domain id).
    started_after: int = 0
    checked: int = 0
    unchanged: int = 0
    moved_on: int = 0
    deleted: int = 0
    #: Differences left for people (an earlier date, a hold): see ``problems``.
    left: int = 0
    #: Changed meanwhile by someone else (another run, an execution): left to them.
    skipped: int = 0
    #: Questions the registry did not answer (other than 2303).
    failed: int = 0
    #: The last domain id this run finished (its batch committed).
    last_id: int = 0
    #: True when the run stopped early (the registry kept failing): the next run resumes.
    stopped: bool = False
    differences: list[Difference] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failed == 0 and not self.stopped

    def __str__(self) -> str:
        verb = "would change" if self.dry_run else "changed"
        resumed = f" (resumed after domain id {self.started_after})" if self.started_after else ""
        stopped = "; stopped early, the next run resumes" if self.stopped else ""
        return (
            f"registrar sync{resumed}: checked {self.checked}, unchanged {self.unchanged}; "
            f"{verb}: moved on {self.moved_on}, deleted {self.deleted}; left for people "
            f"{self.left}, changed meanwhile {self.skipped}, failed {self.failed}{stopped}"
        )


def active_domains(relation_ids: Select | None = None) -> Select:
    """The domains the sync asks about, in id order: not deactivated or deleted (and, given
    ``relation_ids``, held by those relations)."""
    query = (
        select(Domain.id, Domain.name, Domain.expiry_date, Domain.status)
        .where(Domain.status.not_in(OUT_OF_CYCLE))
        .order_by(Domain.id)
    )
    if relation_ids is not None:
        query = query.where(Domain.relation_id.in_(relation_ids))
    return query


class SyncRefused(Exception):
    """The sync cannot run as asked; the message says why, for people."""


def check_backend(backend: RegistrarBackend) -> None:
    """A backend that cannot execute (``manual``: a person acts at the registrar) has no
    registry to ask."""
    if not backend.can_execute:
        raise SyncRefused(
            f"the {backend.name or 'configured'} registrar backend has no registry to ask: "
            "the sync needs one that executes (REGISTRAR_BACKEND=epp or simulated)"
        )


def relation_scope(session: Session, relation_number: int) -> Select:
    """``--relation N``: the relation's domains and its clients' (as the queue's filter)."""
    relation = session.scalar(select(Relation).where(Relation.number == relation_number))
    if relation is None:
        raise SyncRefused(f"there is no relation {relation_number}")
    return tree_relation_ids(relation)


def sync(
    session: Session,
    backend: RegistrarBackend,
    *,
    relation_ids: Select | None = None,
    dry_run: bool = False,
    after_id: int = 0,
    batch_size: int | None = None,
    echo: Callable[[str], None] | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> SyncSummary:
    """Ask the registry about every active domain (with an id above ``after_id``) and reconcile
    (see the module docstring). Commits once per batch; ``on_batch(last_id)`` is called just
    before each batch's commit (the job records its progress in that transaction). With
    ``dry_run`` nothing is written: the differences are printed and counted."""
    say = echo or (lambda _text: None)
    batch_size = batch_size or BATCH_SIZE
    summary = SyncSummary(dry_run=dry_run, started_after=after_id, last_id=after_id)
    failures_in_a_row = 0
    with backend.session():  # one registry session (EPP login) for the whole run
        while not summary.stopped:
            rows = session.execute(
                active_domains(relation_ids).where(Domain.id > summary.last_id).limit(batch_size)
            ).all()
            session.commit()  # no transaction (no SQLite lock) held while the registry answers
            if not rows:
                break
            differences = []
            for index, row in enumerate(rows):
                answer = _ask(backend, row.name)
                if isinstance(answer, RegistrarError):
                    summary.failed += 1
                    failures_in_a_row += 1
                    summary.problems.append(f"{row.name}: {answer}")
                    say(f"{row.name}: the registry did not answer: {answer}")
                    if failures_in_a_row >= MAX_FAILURES_IN_A_ROW:
                        # Stop; the resumed run starts with the first of these failures.
                        summary.stopped = True
                        rows = rows[: max(index + 1 - failures_in_a_row, 0)]
                        break
                    continue
                failures_in_a_row = 0
                summary.checked += 1
                difference = _compare(row, answer, summary, say)
                if difference is not None:
                    differences.append(difference)
            for difference in differences:
                if dry_run or _apply(session, difference):
                    _count(summary, difference)
                    summary.differences.append(difference)
                    say(("would record: " if dry_run else "") + difference.describe())
                else:
                    summary.skipped += 1
                    say(f"{difference.name}: changed meanwhile (another run, an execution)")
            if rows:
                summary.last_id = rows[-1].id
            if dry_run:
                session.rollback()
                continue
            if on_batch is not None:
                on_batch(summary.last_id)
            session.commit()
    log.info("%s", summary)
    return summary


def _ask(backend: RegistrarBackend, name: str) -> DomainInfo | RegistrarError | None:
    """The registry's info; None when it does not have the name (2303); the error otherwise."""
    try:
        return backend.info(name)
    except RegistrarError as exc:
        if exc.code == OBJECT_DOES_NOT_EXIST:
            return None
        return exc


def _compare(row, info: DomainInfo | None, summary: SyncSummary, say) -> Difference | None:
    """What differs between our row and the registry's answer (None: nothing to change)."""
    common = {
        "domain_id": row.id,
        "name": row.name,
        "expiry_date": row.expiry_date,
        "status": row.status,
    }
    if info is None:
        reason = f"gone from the registry ({OBJECT_DOES_NOT_EXIST} Object does not exist)"
        return Difference(change=Change.gone, reason=reason, **common)
    if info.deleted:
        reason = "in its redemption period at the registry (pendingDelete)"
        return Difference(change=Change.pending_delete, reason=reason, **common)
    if info.expiry_date > row.expiry_date:
        return Difference(change=Change.moved_on, registry_expiry=info.expiry_date, **common)
    left = []
    if info.expiry_date < row.expiry_date:
        left.append(f"the registry's expiry date {info.expiry_date} is before ours")
    if info.on_hold:
        left.append(f"on hold at the registry ({', '.join(sorted(info.statuses))})")
    if left:
        summary.left += 1
        problem = f"{row.name} ({row.expiry_date}): {'; '.join(left)}: check it"
        summary.problems.append(problem)
        say(problem)
    else:
        summary.unchanged += 1
    return None


def _count(summary: SyncSummary, difference: Difference) -> None:
    if difference.change is Change.moved_on:
        summary.moved_on += 1
    else:
        summary.deleted += 1


def _claim(session: Session, difference: Difference, now: dt.datetime, **values) -> bool:
    """Change the domain only if it is as the registry's answer was compared with, and none of
    its decisions is being executed right now (one conditional UPDATE; see the module)."""
    executing = exists().where(
        RenewalDecision.domain_id == Domain.id,
        RenewalDecision.state.in_(OPEN_STATES),
        RenewalDecision.claimed_at >= now - CLAIM_TIMEOUT,
    )
    result = session.execute(
        update(Domain)
        .where(
            Domain.id == difference.domain_id,
            Domain.expiry_date == difference.expiry_date,
            Domain.status == difference.status,
            not_(executing),
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _apply(session: Session, difference: Difference) -> bool:
    """Record one difference; False when another run or an execution changed it first."""
    now = utcnow()
    if difference.change is Change.moved_on:
        new_expiry = difference.registry_expiry
        if not _claim(session, difference, now, expiry_date=new_expiry):
            return False
        domain = session.get(Domain, difference.domain_id, populate_existing=True)
        _moved_on(session, domain, difference, new_expiry, now)
    else:
        if not _claim(session, difference, now, status=DomainStatus.deleted, renewal_years=None):
            return False
        domain = session.get(Domain, difference.domain_id, populate_existing=True)
        _deleted(session, domain, difference, now)
    session.flush()
    return True


def _open_decisions(session: Session, domain_id: int) -> list[RenewalDecision]:
    return list(
        session.scalars(
            select(RenewalDecision)
            .where(RenewalDecision.domain_id == domain_id, RenewalDecision.state.in_(OPEN_STATES))
            .order_by(RenewalDecision.id)
        )
    )


def _moved_on(
    session: Session, domain: Domain, difference: Difference, new_expiry: dt.date, now
) -> None:
    old_expiry = difference.expiry_date
    message = f"renewed at the registrar until {new_expiry} ({BY_SYNC})"
    fulfilled = None
    for decision in _open_decisions(session, domain.id):
        if (
            fulfilled is None
            and decision.decision is Decision.renew
            and decision.expiry_date == old_expiry
            and decision.years
            and renewed_expiry(old_expiry, decision.years) == new_expiry
        ):
            fulfilled = decision
            continue
        decision.state = ProcessingState.superseded
        decision.processed_at = now
        decision.message = f"superseded: {message}"
    lifecycle.start_next_cycle(domain, new_expiry)
    if fulfilled is not None:  # what executing it would have done (processing.execute)
        fulfilled.state = ProcessingState.done
        fulfilled.message = message
        fulfilled.processed_by_id = None
        fulfilled.processed_at = now
        fulfilled.claimed_at = None
        session.flush()
        receipts.write_execution_receipt(session, fulfilled, domain)
        return
    session.add(
        RenewalDecision(
            domain=domain,
            decision=Decision.renew,
            years=_years_between(old_expiry, new_expiry),
            expiry_date=old_expiry,
            channel=DecisionChannel.automatic,
            decided_by_id=None,
            decided_at=now,
            state=ProcessingState.done,
            processed_by_id=None,
            processed_at=now,
            message=message,
        )
    )


def _deleted(session: Session, domain: Domain, difference: Difference, now) -> None:
    message = f"deleted at the registry: {difference.reason} ({BY_SYNC})"
    for decision in _open_decisions(session, domain.id):
        decision.state = ProcessingState.superseded
        decision.processed_at = now
        decision.message = f"superseded: the domain was {message}"
    session.add(
        RenewalDecision(
            domain=domain,
            decision=Decision.decline,
            expiry_date=domain.expiry_date,
            channel=DecisionChannel.automatic,
            decided_by_id=None,
            decided_at=now,
            state=ProcessingState.done,
            processed_by_id=None,
            processed_at=now,
            message=message,
        )
    )


def _years_between(old_expiry: dt.date, new_expiry: dt.date) -> int:
    """The renewal period a move from ``old`` to ``new`` stands for (a renewal decision needs
    1 to 10): the fewest years that reach the new date; the message has the exact dates."""
    for years in range(MIN_YEARS, MAX_YEARS + 1):
        if renewed_expiry(old_expiry, years) >= new_expiry:
            return years
    return MAX_YEARS


__all__ = [
    "BATCH_SIZE",
    "Change",
    "Difference",
    "SyncRefused",
    "SyncSummary",
    "active_domains",
    "check_backend",
    "relation_scope",
    "sync",
]
