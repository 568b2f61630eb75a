"""The registrar sync: what the registry says about each active domain, reconciled here.

A domain can change at the registrar without this product: a sales contact renewed it in the
registrar's own control panel, the registry auto-renewed it, or it was deleted there. The sync
asks the backend's ``info`` for every active domain (not deactivated or deleted) and
reconciles:

- **unchanged**: the registry's expiry date is ours and the name is not being deleted;
- **moved on**: the registry's expiry date is at least a year later (``renewed_expiry(ours,
  1)``, less ``DATE_TOLERANCE`` for registries that count in another time zone). The next
  cycle starts exactly as for a renewal executed here (``lifecycle.start_next_cycle``). An
  open confirmed renewal that the new date fulfils is marked done, with the customer's
  receipt, as its execution would have been (``processing.record_done``); other open
  decisions for the old date are superseded; otherwise the renewal is recorded as a done
  renewal decision of the automatic channel, so the domain's history says what happened. A
  later date that does *not* fulfil an open confirmed renewal (a 1-year renewal at the
  registrar for a confirmed 2 years) changes nothing but that renewal: it is kept open as
  ``failed`` with the reason, so the queue and the escalation alarms keep showing it;
- **gone** (the registry answers 2303) or **pendingDelete**: never on one answer. The first
  run that finds it records when (``Domain.registry_gone_since``); a run at least
  ``SyncSettings.confirm_after`` later (``REGISTRAR_SYNC_HOURS``) that still finds it gone
  deletes it as a deletion is recorded (``processing.supersede`` and
  ``processing.removal_record``: open decisions superseded, a done decline decision with the
  reason). A domain with an open confirmed renewal is not deleted: the renewal is kept open as
  ``failed`` ("deleted at the registry: restore it during the redemption period") and
  escalates. A name the registry has again clears the mark.

A safety cap per run: when more than ``SyncSettings.max_delete_share`` of the domains checked
(``REGISTRAR_SYNC_MAX_DELETE_SHARE``, default 5%, and never fewer than ``MIN_DELETE_CAP``)
are gone, the run deletes none, is recorded as failed, and the job alarms the escalation
mailbox (``jobs.run_registrar_sync``): a wrong ``EPP_HOST``, an OT&E registry, a TLD this
registry does not serve or ``SIMULATED_REGISTRAR_FAIL=2303`` answers 2303 for everything, and
that must not delete the portfolio. Deletions therefore wait until the run has checked
everything (a run that stops early deletes nothing; the next finds them again).

Everything else (the registry's date is earlier, later by less than a year, or does not
fulfil a confirmed renewal; a hold that is not ours; a name gone while a renewal is
confirmed; a question the registry did not answer) is left for people: one
``RegistryDifference`` row per domain and run (at most ``MAX_STORED`` per run, pruned after
``KEEP_DIFFERENCES``), which the sales digest lists for the domain's sales contact
(``sales_digest``), and a line in the summary.

Every change is a decision executed by nobody (``processed_by_id`` NULL), so the sales
digest lists it with what the automated job did.

Transactions. ``sync`` is an entry point and owns them: ``BATCH_SIZE`` domains are asked,
then reconciled and committed in one transaction, in domain id order, so a run that stops
half-way resumes after the last committed batch (``after_id``; the job keeps it in
``JobRun.resume_after_id``, written by its ``on_batch`` callback inside that transaction).
The database is not written while the registry is being asked. One registry session per run
(``backend.session()``: one EPP login); an unavailable registry (``RegistrarUnavailable``:
no connection, TLS, greeting or login) stops the run at once.

Safe to run twice, concurrently, and beside executions: a change first claims the domain's
open decisions (one conditional UPDATE of their ``claimed_at``, as an execution claims one;
if any of them is claimed by someone else, the domain is left alone), then the domain (a
conditional UPDATE: it must still have the expiry date and status the registry's answer was
compared with). On PostgreSQL those UPDATEs lock the rows until the commit, so an execution
that claims a decision meanwhile waits and then finds it changed; a decision being executed
is never overwritten. A second run finds nothing to change.
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Row, Select, delete, func, select, update
from sqlalchemy.orm import Session

from renewal_reminder.models import (
    OUT_OF_CYCLE,
    Decision,
    DecisionChannel,
    Domain,
    DomainStatus,
    ProcessingState,
    RegistryDifference,
    Relation,
    RenewalDecision,
)
from renewal_reminder.models.base import utcnow
from renewal_reminder.renewals import lifecycle, processing
from renewal_reminder.renewals.decisions import tree_relation_ids
from renewal_reminder.renewals.processing import OPEN_STATES, claimable
from renewal_reminder.renewals.registrars import (
    DomainInfo,
    RegistrarBackend,
    RegistrarError,
    RegistrarUnavailable,
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
#: A registry's date this close to the one a renewal would give counts as that renewal
#: (registries that write exDate in another time zone, or renew from another day).
DATE_TOLERANCE = dt.timedelta(days=3)
#: The per-run cap never refuses this few deletions (a small portfolio loses one domain).
MIN_DELETE_CAP = 3
#: The default of REGISTRAR_SYNC_MAX_DELETE_SHARE.
DEFAULT_MAX_DELETE_SHARE = 0.05
#: REGISTRAR_SYNC_HOURS at most (a month): beyond it the sync is not keeping anything in sync.
MAX_SYNC_HOURS = 24 * 31
#: A name is deleted only when found gone again at least this long after the first time,
#: however often the sync runs (REGISTRAR_SYNC_HOURS=0: only by hand).
MIN_CONFIRM_AFTER = dt.timedelta(hours=1)
#: Differences left for people stored per run (the digest lists them); the rest is counted.
MAX_STORED = 1000
#: Differences older than this are pruned by the next run.
KEEP_DIFFERENCES = dt.timedelta(days=60)


@dataclass(frozen=True)
class SyncSettings:
    """How careful the sync is before deleting (see the module docstring)."""

    #: REGISTRAR_SYNC_HOURS: how often the job runs (0: never; by hand only).
    hours: float = 24.0
    #: REGISTRAR_SYNC_MAX_DELETE_SHARE: the share of checked domains one run may delete.
    max_delete_share: float = DEFAULT_MAX_DELETE_SHARE

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SyncSettings:
        """``ValueError`` says what is wrong, so that start-up stops (``addon``)."""
        try:
            hours = float(config.get("REGISTRAR_SYNC_HOURS") or 0)
        except (TypeError, ValueError):
            raise ValueError(
                f"REGISTRAR_SYNC_HOURS must be a number, not {config.get('REGISTRAR_SYNC_HOURS')!r}"
            ) from None
        if not (math.isfinite(hours) and 0 <= hours <= MAX_SYNC_HOURS):
            raise ValueError(
                f"REGISTRAR_SYNC_HOURS must be 0 (off) to {MAX_SYNC_HOURS}, not {hours}"
            )
        return cls(
            hours=hours, max_delete_share=parse_share(config.get("REGISTRAR_SYNC_MAX_DELETE_SHARE"))
        )

    @property
    def confirm_after(self) -> dt.timedelta:
        """How long after the first sighting a name must still be gone to be deleted: one
        job interval (less a tenth, for the scheduler's jitter), at least an hour."""
        return max(dt.timedelta(hours=self.hours) * 0.9, MIN_CONFIRM_AFTER)

    def delete_cap(self, checked: int) -> int:
        """The most names one run that checked ``checked`` may find gone and delete."""
        return max(MIN_DELETE_CAP, math.floor(self.max_delete_share * checked))


def parse_share(value: object) -> float:
    """REGISTRAR_SYNC_MAX_DELETE_SHARE: a fraction ("0.05") or a percentage ("5%"), 0 to 1;
    empty is the default."""
    text = str(value if value is not None else "").strip()
    if not text:
        return DEFAULT_MAX_DELETE_SHARE
    try:
        share = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        share = math.nan
    if not (math.isfinite(share) and 0 <= share <= 1):
        raise ValueError(
            f"REGISTRAR_SYNC_MAX_DELETE_SHARE must be a share of 0 to 1 (or 0% to 100%), "
            f"not {value!r}"
        )
    return share


class Change(enum.StrEnum):
    moved_on = "moved on"
    gone = "gone"
    pending_delete = "pendingDelete"
    #: Left for people: recorded for the digest, the domain unchanged.
    left = "left for people"
    #: The registry did not answer for this name.
    failed = "failed"


@dataclass(frozen=True)
class Difference:
    """One domain whose registry state differs from ours, and what the sync does about it."""

    domain_id: int
    name: str
    change: Change
    expiry_date: dt.date
    status: DomainStatus
    #: The registry's expiry date (moved on, or a date left for people); None when gone.
    registry_expiry: dt.date | None = None
    reason: str = ""
    #: When a run first found it gone (``Domain.registry_gone_since``).
    gone_since: dt.datetime | None = None
    #: Left for people because of the date: an open confirmed renewal for our date cannot be
    #: executed as decided (the registry's curExpDate differs) and is marked failed.
    date_differs: bool = False

    @property
    def is_gone(self) -> bool:
        return self.change in (Change.gone, Change.pending_delete)

    def describe(self) -> str:
        if self.change is Change.moved_on:
            return (
                f"{self.name}: renewed at the registrar, {self.expiry_date} -> "
                f"{self.registry_expiry}"
            )
        if self.is_gone:
            return f"{self.name}: deleted at the registry ({self.reason})"
        return f"{self.name} ({self.expiry_date}): {self.reason}"


@dataclass
class SyncSummary:
    dry_run: bool = False
    #: Where the run started (a resumed run: after this domain id).
    started_after: int = 0
    checked: int = 0
    unchanged: int = 0
    moved_on: int = 0
    deleted: int = 0
    #: Found gone for the first time (or not long enough ago): deleted if a later run still
    #: finds them gone.
    gone_waiting: int = 0
    #: Differences left for people (see the module): recorded for the sales digest.
    left: int = 0
    #: Changed meanwhile by someone else (another run, an execution): left to them.
    skipped: int = 0
    #: Questions the registry did not answer (other than 2303).
    failed: int = 0
    #: The last domain id this run finished (its batch committed).
    last_id: int = 0
    #: True when the run stopped early (the registry kept failing): the next run resumes.
    stopped: bool = False
    #: Too many names gone in one run (the per-run cap): none deleted, an alarm is due.
    deletions_refused: str | None = None
    #: Differences left for people stored for the sales digest, and those beyond
    #: ``MAX_STORED`` that were not.
    stored: int = 0
    not_stored: int = 0
    differences: list[Difference] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failed == 0 and not self.stopped and self.deletions_refused is None

    def __str__(self) -> str:
        verb = "would change" if self.dry_run else "changed"
        resumed = f" (resumed after domain id {self.started_after})" if self.started_after else ""
        stopped = "; stopped early, the next run resumes" if self.stopped else ""
        refused = f"; DELETIONS REFUSED: {self.deletions_refused}" if self.deletions_refused else ""
        return (
            f"registrar sync{resumed}: checked {self.checked}, unchanged {self.unchanged}; "
            f"{verb}: moved on {self.moved_on}, deleted {self.deleted}; gone, waiting for a "
            f"second look {self.gone_waiting}; left for people {self.left}, changed meanwhile "
            f"{self.skipped}, failed {self.failed}{stopped}{refused}"
        )


def active_domains(relation_ids: Select | None = None) -> Select:
    """The domains the sync asks about, in id order: not deactivated or deleted (and, given
    ``relation_ids``, held by those relations)."""
    query = (
        select(
            Domain.id, Domain.name, Domain.expiry_date, Domain.status, Domain.registry_gone_since
        )
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
    settings: SyncSettings | None = None,
    relation_ids: Select | None = None,
    dry_run: bool = False,
    after_id: int = 0,
    batch_size: int | None = None,
    echo: Callable[[str], None] | None = None,
    on_batch: Callable[[int], None] | None = None,
    run_id: int | None = None,
) -> SyncSummary:
    """Ask the registry about every active domain (with an id above ``after_id``) and reconcile
    (see the module docstring). Commits once per batch; ``on_batch(last_id)`` is called just
    before each batch's commit (the job records its progress in that transaction). With
    ``dry_run`` nothing is written: the differences are printed and counted. ``run_id``: the
    job run the stored differences belong to."""
    say = echo or (lambda _text: None)
    settings = settings or SyncSettings()
    batch_size = batch_size or BATCH_SIZE
    summary = SyncSummary(dry_run=dry_run, started_after=after_id, last_id=after_id)
    confirmed: list[Difference] = []  # gone long enough: deleted once the whole run is seen
    failures_in_a_row = 0
    if not dry_run:
        session.execute(
            delete(RegistryDifference).where(
                RegistryDifference.found_at < utcnow() - KEEP_DIFFERENCES
            )
        )
        session.commit()
    with backend.session():  # one registry session (EPP login) for the whole run
        while not summary.stopped:
            rows = session.execute(
                active_domains(relation_ids).where(Domain.id > summary.last_id).limit(batch_size)
            ).all()
            session.commit()  # no transaction (no SQLite lock) held while the registry answers
            if not rows:
                break
            differences: list[Difference] = []
            for index, row in enumerate(rows):
                answer = _ask(backend, row.name)
                if isinstance(answer, RegistrarError):
                    summary.failed += 1
                    failures_in_a_row += 1
                    summary.problems.append(f"{row.name}: {answer}")
                    say(f"{row.name}: the registry did not answer: {answer}")
                    if isinstance(answer, RegistrarUnavailable):
                        # Every further question would fail the same way: stop at once; the
                        # next run resumes with this domain.
                        summary.stopped = True
                        rows = rows[:index]
                        break
                    if failures_in_a_row >= MAX_FAILURES_IN_A_ROW:
                        # Stop; the resumed run starts with the first of these failures.
                        summary.stopped = True
                        rows = rows[: max(index + 1 - failures_in_a_row, 0)]
                        break
                    differences.append(
                        _difference(row, Change.failed, f"the registry did not answer: {answer}")
                    )
                    continue
                failures_in_a_row = 0
                summary.checked += 1
                difference = _compare(row, answer, summary)
                if difference is not None:
                    differences.append(difference)
            kept_up_to = rows[-1].id if rows else 0  # the rest is asked again by the next run
            differences = [d for d in differences if d.domain_id <= kept_up_to]
            now = utcnow()
            for difference in differences:
                _reconcile(session, difference, settings, now, summary, confirmed, run_id, say)
            if rows:
                summary.last_id = rows[-1].id
            if dry_run:
                session.rollback()
                continue
            if on_batch is not None:
                on_batch(summary.last_id)
            session.commit()
        _delete_confirmed(session, confirmed, settings, summary, run_id, say)
    log.info("%s", summary)
    return summary


def _ask(backend: RegistrarBackend, name: str) -> DomainInfo | RegistrarError | None:
    """The registry's info; None when it does not have the name (2303); the error otherwise."""
    try:
        return backend.info(name)
    except RegistrarError as exc:
        if exc.code == OBJECT_DOES_NOT_EXIST and not isinstance(exc, RegistrarUnavailable):
            return None
        return exc


def _difference(row: Row, change: Change, reason: str = "", **values: Any) -> Difference:
    return Difference(
        domain_id=row.id,
        name=row.name,
        change=change,
        expiry_date=row.expiry_date,
        status=row.status,
        reason=reason,
        gone_since=row.registry_gone_since,
        **values,
    )


def _compare(row: Row, info: DomainInfo | None, summary: SyncSummary) -> Difference | None:
    """What differs between our row and the registry's answer (None: nothing to change)."""
    if info is None:
        reason = f"gone from the registry ({OBJECT_DOES_NOT_EXIST} Object does not exist)"
        return _difference(row, Change.gone, reason)
    if info.deleted:
        reason = "in its redemption period at the registry (pendingDelete)"
        return _difference(row, Change.pending_delete, reason)
    ours, theirs = row.expiry_date, info.expiry_date
    if theirs > ours and theirs >= renewed_expiry(ours, 1) - DATE_TOLERANCE:
        return _difference(row, Change.moved_on, registry_expiry=theirs)
    left = []
    if theirs > ours:
        left.append(
            f"the registry's expiry date {theirs} is later than ours by less than a year "
            "(not a renewal)"
        )
    elif theirs < ours:
        left.append(f"the registry's expiry date {theirs} is before ours")
    if info.on_hold:
        left.append(f"on hold at the registry ({', '.join(sorted(info.statuses))})")
    if left:
        reason = f"{'; '.join(left)}: check it"
        return _difference(
            row, Change.left, reason, registry_expiry=theirs, date_differs=theirs != ours
        )
    if row.registry_gone_since is not None:
        return _difference(row, Change.left, "")  # back at the registry: forget the mark
    summary.unchanged += 1
    return None


def _reconcile(
    session: Session,
    difference: Difference,
    settings: SyncSettings,
    now: dt.datetime,
    summary: SyncSummary,
    confirmed: list[Difference],
    run_id: int | None,
    say: Callable[[str], None],
) -> None:
    """Act on one difference (dry run: say what would happen), and count it."""
    dry = "would record: " if summary.dry_run else ""
    if difference.change is Change.left and not difference.reason:
        summary.unchanged += 1
        if not summary.dry_run:
            _forget_gone(session, difference)
        return
    if difference.is_gone:
        since = difference.gone_since
        if since is not None and now - since >= settings.confirm_after:
            confirmed.append(difference)
            return
        summary.gone_waiting += 1
        first = since or now
        say(
            f"{difference.name}: {difference.reason}; deleted if still gone on a run from "
            f"{first + settings.confirm_after:%Y-%m-%d %H:%M} UTC on"
        )
        if since is None and not summary.dry_run:
            _mark_gone(session, difference, now)
        return
    if difference.change is Change.moved_on:
        if summary.dry_run:
            summary.moved_on += 1
            summary.differences.append(difference)
            say(dry + difference.describe())
            return
        outcome = _apply_moved_on(session, difference, now)
        if outcome is Change.moved_on:
            summary.moved_on += 1
            summary.differences.append(difference)
            say(difference.describe())
            return
        if outcome is None:
            summary.skipped += 1
            say(f"{difference.name}: changed meanwhile (another run, an execution)")
            return
        difference = outcome  # left for people: a confirmed renewal it does not fulfil
    _leave(session, difference, now, summary, run_id, say)


def _leave(
    session: Session,
    difference: Difference,
    now: dt.datetime,
    summary: SyncSummary,
    run_id: int | None,
    say: Callable[[str], None],
) -> None:
    """A difference left for people: counted, said, stored for the sales digest; an open
    confirmed renewal for our date that cannot be executed as decided is marked failed."""
    if difference.change is Change.failed:
        pass  # counted as failed already
    else:
        summary.left += 1
        summary.problems.append(
            f"{difference.name} ({difference.expiry_date}): {difference.reason}"
        )
        say(difference.describe())
    summary.differences.append(difference)
    if summary.dry_run:
        return
    if difference.date_differs and _claim(session, difference, now):
        reason = (
            f"the registry's expiry date is {difference.registry_expiry}, not "
            f"{difference.expiry_date}: renewing from {difference.expiry_date} would fail; "
            f"check it at the registrar ({BY_SYNC})"
        )
        _keep_renewals_failed(session, difference, reason, now)
        _release(session, difference.domain_id, now)
    _store(session, difference, now, summary, run_id)


def _store(
    session: Session,
    difference: Difference,
    now: dt.datetime,
    summary: SyncSummary,
    run_id: int | None,
) -> None:
    """One ``RegistryDifference`` row for the sales digest (at most ``MAX_STORED`` a run)."""
    if summary.stored >= MAX_STORED:
        summary.not_stored += 1
        return
    summary.stored += 1
    session.add(
        RegistryDifference(
            domain_id=difference.domain_id,
            job_run_id=run_id,
            found_at=now,
            detail=difference.reason[:1000],
        )
    )


# --- claiming, then changing ---------------------------------------------------------------------


def _claim(session: Session, difference: Difference, now: dt.datetime) -> bool:
    """Claim the domain for a change (see the module docstring): first its open decisions
    (each unclaimed, or claimed so long ago that its claimant died), then the domain itself
    (still with the expiry date and status the registry's answer was compared with). False,
    with nothing held, when an execution or another run has any of them."""
    domain_id = difference.domain_id
    claimed = session.execute(
        update(RenewalDecision)
        .where(
            RenewalDecision.domain_id == domain_id,
            claimable(now),
        )
        .values(claimed_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    still_open = session.scalar(
        select(func.count())
        .select_from(RenewalDecision)
        .where(RenewalDecision.domain_id == domain_id, RenewalDecision.state.in_(OPEN_STATES))
    )
    if claimed != still_open:  # one of them is being executed right now
        _release(session, domain_id, now)
        return False
    result = session.execute(
        update(Domain)
        .where(
            Domain.id == domain_id,
            Domain.expiry_date == difference.expiry_date,
            Domain.status == difference.status,
        )
        # Changes nothing: takes the row (locked until the commit on PostgreSQL).
        .values(expiry_date=difference.expiry_date)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        _release(session, domain_id, now)
        return False
    return True


def _release(session: Session, domain_id: int, now: dt.datetime) -> None:
    """Give back this run's claims on the domain's decisions that it left open."""
    session.flush()
    session.execute(
        update(RenewalDecision)
        .where(RenewalDecision.domain_id == domain_id, RenewalDecision.claimed_at == now)
        .values(claimed_at=None)
        .execution_options(synchronize_session=False)
    )


def _open_decisions(session: Session, domain_id: int) -> list[RenewalDecision]:
    return list(
        session.scalars(
            select(RenewalDecision)
            .where(RenewalDecision.domain_id == domain_id, RenewalDecision.state.in_(OPEN_STATES))
            .order_by(RenewalDecision.id)
            .execution_options(populate_existing=True)
        )
    )


def _open_renewals(decisions: list[RenewalDecision], expiry: dt.date) -> list[RenewalDecision]:
    """The confirmed renewals among ``decisions`` for the expiry date ``expiry``."""
    return [d for d in decisions if d.decision is Decision.renew and d.expiry_date == expiry]


def _keep_renewals_failed(
    session: Session, difference: Difference, reason: str, now: dt.datetime
) -> int:
    """Open confirmed renewals for our date stay open, as failed with ``reason``: the queue
    shows them and escalation keeps alarming until a person acts. Idempotent."""
    kept = 0
    for decision in _open_renewals(
        _open_decisions(session, difference.domain_id), difference.expiry_date
    ):
        kept += 1
        if decision.state is ProcessingState.failed and decision.message == reason:
            decision.claimed_at = None
            continue
        processing.record_failed(decision, reason, now, processed_by_id=None, count_attempt=False)
    return kept


def _apply_moved_on(
    session: Session, difference: Difference, now: dt.datetime
) -> Change | Difference | None:
    """Start the next cycle (``Change.moved_on``); None when another run or an execution has
    the domain; a ``Difference`` left for people when the new date does not fulfil an open
    confirmed renewal."""
    if not _claim(session, difference, now):
        return None
    old_expiry, new_expiry = difference.expiry_date, difference.registry_expiry
    assert new_expiry is not None
    decisions = _open_decisions(session, difference.domain_id)
    renewals = _open_renewals(decisions, old_expiry)
    fulfilled = next(
        (d for d in renewals if new_expiry >= renewed_expiry(old_expiry, d.years) - DATE_TOLERANCE),
        None,
    )
    if renewals and fulfilled is None:
        wanted = max(renewals, key=lambda d: d.years)
        reason = (
            f"the registry's expiry date {new_expiry} does not fulfil the confirmed "
            f"{wanted.years}-year renewal (until {renewed_expiry(old_expiry, wanted.years)}): "
            f"renewed at the registrar for less; check it"
        )
        _keep_renewals_failed(session, difference, f"{reason} ({BY_SYNC})", now)
        _release(session, difference.domain_id, now)
        return Difference(
            domain_id=difference.domain_id,
            name=difference.name,
            change=Change.left,
            expiry_date=old_expiry,
            status=difference.status,
            registry_expiry=new_expiry,
            reason=reason,
        )
    domain = session.get(Domain, difference.domain_id, populate_existing=True)
    message = f"renewed at the registrar until {new_expiry} ({BY_SYNC})"
    processing.supersede(
        [d for d in decisions if d is not fulfilled], f"superseded: {message}", now
    )
    lifecycle.start_next_cycle(domain, new_expiry)
    domain.registry_gone_since = None
    if fulfilled is not None:  # what executing it would have done (processing.execute)
        processing.record_done(session, fulfilled, message, now, processed_by_id=None)
    else:
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
    session.flush()
    return Change.moved_on


def _mark_gone(session: Session, difference: Difference, now: dt.datetime) -> None:
    """The first sighting: remember when (only if nobody changed the domain meanwhile)."""
    session.execute(
        update(Domain)
        .where(
            Domain.id == difference.domain_id,
            Domain.expiry_date == difference.expiry_date,
            Domain.status == difference.status,
            Domain.registry_gone_since.is_(None),
        )
        .values(registry_gone_since=now)
        .execution_options(synchronize_session=False)
    )


def _forget_gone(session: Session, difference: Difference) -> None:
    """The registry has the name again: a later 2303 starts counting afresh."""
    session.execute(
        update(Domain)
        .where(Domain.id == difference.domain_id, Domain.registry_gone_since.is_not(None))
        .values(registry_gone_since=None)
        .execution_options(synchronize_session=False)
    )


def _delete_confirmed(
    session: Session,
    confirmed: list[Difference],
    settings: SyncSettings,
    summary: SyncSummary,
    run_id: int | None,
    say: Callable[[str], None],
) -> None:
    """The names still gone a confirmation interval after their first sighting: deleted in
    one transaction once the run has seen everything, unless the per-run cap is exceeded or
    the run stopped early (then none; the next run finds them again)."""
    gone = summary.gone_waiting + len(confirmed)
    cap = settings.delete_cap(summary.checked)
    if gone > cap:
        summary.deletions_refused = (
            f"{gone} of {summary.checked} domains checked are gone from the registry or "
            f"pendingDelete, more than {cap} ({settings.max_delete_share:.0%} of them, at least "
            f"{MIN_DELETE_CAP}): none deleted. Is EPP_HOST the production registry, and does "
            "it serve these names? (REGISTRAR_SYNC_MAX_DELETE_SHARE sets the share)"
        )
        summary.problems.append(summary.deletions_refused)
        say(summary.deletions_refused)
        return
    if not confirmed:
        return
    if summary.stopped:
        say(f"{len(confirmed)} deletion(s) wait for a run that gets to the end")
        return
    now = utcnow()
    for difference in confirmed:
        if summary.dry_run:
            summary.deleted += 1
            summary.differences.append(difference)
            say("would record: " + difference.describe())
            continue
        outcome = _apply_gone(session, difference, now)
        if outcome is Change.gone:
            summary.deleted += 1
            summary.differences.append(difference)
            say(difference.describe())
        elif outcome is None:
            summary.skipped += 1
            say(f"{difference.name}: changed meanwhile (another run, an execution)")
        else:
            _leave(session, outcome, now, summary, run_id, say)
    if not summary.dry_run:
        session.commit()


def _apply_gone(
    session: Session, difference: Difference, now: dt.datetime
) -> Change | Difference | None:
    """Delete the domain as a deletion is recorded (``Change.gone``); None when another run
    or an execution has it; a ``Difference`` left for people when a renewal is confirmed."""
    if not _claim(session, difference, now):
        return None
    decisions = _open_decisions(session, difference.domain_id)
    if _open_renewals(decisions, difference.expiry_date):
        reason = (
            "deleted at the registry: restore it during the redemption period "
            f"({difference.reason})"
        )
        _keep_renewals_failed(session, difference, f"{reason} ({BY_SYNC})", now)
        _release(session, difference.domain_id, now)
        return Difference(
            domain_id=difference.domain_id,
            name=difference.name,
            change=Change.left,
            expiry_date=difference.expiry_date,
            status=difference.status,
            reason=f"{reason}; a renewal is confirmed",
        )
    domain = session.get(Domain, difference.domain_id, populate_existing=True)
    message = f"deleted at the registry: {difference.reason} ({BY_SYNC})"
    processing.supersede(decisions, f"superseded: the domain was {message}", now)
    domain.status = DomainStatus.deleted
    domain.renewal_years = None
    session.add(
        processing.removal_record(
            domain,
            now,
            channel=DecisionChannel.automatic,
            decided_by_id=None,
            done_message=message,
        )
    )
    session.flush()
    return Change.gone


def _years_between(old_expiry: dt.date, new_expiry: dt.date) -> int:
    """The renewal period a move from ``old`` to ``new`` stands for (a renewal decision needs
    1 to 10): the fewest years that reach the new date (within ``DATE_TOLERANCE``); the message
    has the exact dates."""
    for years in range(MIN_YEARS, MAX_YEARS + 1):
        if renewed_expiry(old_expiry, years) + DATE_TOLERANCE >= new_expiry:
            return years
    return MAX_YEARS


__all__ = [
    "BATCH_SIZE",
    "Change",
    "Difference",
    "SyncRefused",
    "SyncSettings",
    "SyncSummary",
    "active_domains",
    "check_backend",
    "parse_share",
    "relation_scope",
    "sync",
]
