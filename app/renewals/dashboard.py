"""What the home pages show: today's work for staff, and what needs deciding for a customer.

Every figure is one aggregate query through an index, scoped by ``access`` (the one place that
decides who sees what), so a home page stays fast at a million domains:

- counts over ``rr_domain`` use ``ix_rr_domain_status_expiry`` (status, expiry_date) ranges;
- the 13-week chart groups those same ranges by (status, expiry_date) and buckets the days into
  weeks here, which keeps the SQL the same on SQLite and PostgreSQL;
- decisions and the reminder log are read through their (state, ...) and created_at indexes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, selectinload

from renewal_reminder.models import (
    AWAITING_DECISION,
    Decision,
    Domain,
    DomainStatus,
    JobRun,
    ProcessingState,
    Relation,
    ReminderLog,
    ReminderStatus,
    RenewalDecision,
)
from renewal_reminder.models.receipt import Receipt, ReceiptStatus
from renewal_reminder.renewals import access
from renewal_reminder.renewals.decisions import tree_relation_ids

#: The chart's span: 13 weeks from today.
CHART_WEEKS = 13
#: "Expiring soon without a decision" looks this many days ahead.
SOON_DAYS = 30
#: Failed emails are counted over this many days (older failures were retried or reported).
FAILED_EMAIL_DAYS = 7

#: How a domain's status reads in the chart: it has a decision to renew, to decline, or none.
CHART_SERIES = ("renew", "decline", "none")
_SERIES_OF_STATUS = {
    DomainStatus.renewal_confirmed: "renew",
    DomainStatus.renewal_declined: "decline",
    DomainStatus.active: "none",
    DomainStatus.renewed: "none",
}

_OPEN_STATES = (ProcessingState.queued, ProcessingState.failed)


@dataclass(frozen=True)
class Week:
    start: dt.date
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class JobStatus:
    job: str
    last: JobRun | None
    next_run_at: dt.datetime | None


@dataclass
class StaffHome:
    """Today's work at a glance for Admin and Sales."""

    today: dt.date
    lead_days: int
    overdue_renewals: int
    due_renewals: int
    queue: int
    failed_executions: int
    expiring_without_decision: int
    failed_emails: int
    weeks: list[Week]
    jobs: list[JobStatus] = field(default_factory=list)

    @property
    def chart_max(self) -> int:
        return max((week.total for week in self.weeks), default=0)


@dataclass
class CustomerHome:
    """What a customer has to decide, and what they decided lately."""

    relation: Relation
    today: dt.date
    needing_decision: int
    next_expiry: dt.date | None
    recent_decisions: list[RenewalDecision]


def _scoped(query: Select, user, column) -> Select:
    relations = access.visible_relation_ids(user)
    return query if relations is None else query.where(column.in_(relations))


def _domain_count(session: Session, user, statuses: Sequence, start: dt.date, end: dt.date):
    query = select(func.count()).where(
        Domain.status.in_(statuses), Domain.expiry_date >= start, Domain.expiry_date <= end
    )
    return session.scalar(_scoped(query, user, Domain.relation_id)) or 0


def _open_decisions(user) -> Select:
    query = (
        select(func.count())
        .select_from(RenewalDecision)
        .join(Domain, Domain.id == RenewalDecision.domain_id)
        .where(RenewalDecision.state.in_(_OPEN_STATES))
    )
    return _scoped(query, user, Domain.relation_id)


def expiry_weeks(
    session: Session, user, today: dt.date, relation_ids: Select | None = None
) -> list[Week]:
    """Domains still in the cycle expiring in each of the next ``CHART_WEEKS`` weeks (week 1
    starts today), by decision: renew, decline, or none yet."""
    end = today + dt.timedelta(weeks=CHART_WEEKS) - dt.timedelta(days=1)
    query = (
        select(Domain.status, Domain.expiry_date, func.count())
        .where(
            Domain.status.in_(list(_SERIES_OF_STATUS)),
            Domain.expiry_date >= today,
            Domain.expiry_date <= end,
        )
        .group_by(Domain.status, Domain.expiry_date)
    )
    query = _scoped(query, user, Domain.relation_id)
    if relation_ids is not None:
        query = query.where(Domain.relation_id.in_(relation_ids))
    weeks = [
        Week(today + dt.timedelta(weeks=i), dict.fromkeys(CHART_SERIES, 0))
        for i in range(CHART_WEEKS)
    ]
    for status, expiry, count in session.execute(query):
        week = (expiry - today).days // 7
        weeks[week].counts[_SERIES_OF_STATUS[DomainStatus(status)]] += count
    return weeks


def staff_home(session: Session, user, today: dt.date, lead_days: int) -> StaffHome:
    """The staff home page's figures for ``user`` (Admin: everything; Sales: their relations)."""
    renewals = _open_decisions(user).where(RenewalDecision.decision == Decision.renew)
    # A renewal is due ``lead_days`` before the expiry date it was decided for (``deadlines``).
    due_by_today = today + dt.timedelta(days=lead_days)
    overdue = session.scalar(renewals.where(RenewalDecision.expiry_date < due_by_today))
    due_today = session.scalar(renewals.where(RenewalDecision.expiry_date == due_by_today))
    failed_executions = session.scalar(
        _open_decisions(user).where(RenewalDecision.state == ProcessingState.failed)
    )
    since = dt.datetime.combine(today - dt.timedelta(days=FAILED_EMAIL_DAYS), dt.time())
    # The failed reminders of the last days first (few, through the log's status-and-date
    # index), then only those of domains the viewer may see: driving the count from a sales
    # contact's domains instead would probe the log once per domain.
    failed_log = select(ReminderLog.domain_id).where(
        ReminderLog.status == ReminderStatus.failed, ReminderLog.created_at >= since
    )
    relations = access.visible_relation_ids(user)
    if relations is None:
        failed_reminders = select(func.count()).select_from(failed_log.subquery())
    else:
        failed_reminders = select(func.count()).select_from(
            failed_log.where(
                ReminderLog.domain_id.in_(
                    select(Domain.id).where(Domain.relation_id.in_(relations))
                )
            ).subquery()
        )
    failed_receipts = (
        select(func.count())
        .select_from(Receipt)
        .where(Receipt.created_at >= since, Receipt.status == ReceiptStatus.failed)
    )
    failed_emails = (session.scalar(failed_reminders) or 0) + (
        session.scalar(_scoped(failed_receipts, user, Receipt.relation_id)) or 0
    )
    return StaffHome(
        today=today,
        lead_days=lead_days,
        overdue_renewals=overdue or 0,
        due_renewals=due_today or 0,
        queue=session.scalar(_open_decisions(user)) or 0,
        failed_executions=failed_executions or 0,
        expiring_without_decision=_domain_count(
            session, user, AWAITING_DECISION, today, today + dt.timedelta(days=SOON_DAYS)
        ),
        failed_emails=failed_emails,
        weeks=expiry_weeks(session, user, today),
        jobs=job_statuses(session),
    )


def job_statuses(session: Session) -> list[JobStatus]:
    """The last run of each job that has run, and when its scheduler runs it next."""
    latest = (
        select(JobRun.job, func.max(JobRun.started_at).label("started_at"))
        .where(JobRun.dry_run.is_(False))
        .group_by(JobRun.job)
        .subquery()
    )
    runs = session.scalars(
        select(JobRun)
        .join(latest, (JobRun.job == latest.c.job) & (JobRun.started_at == latest.c.started_at))
        .order_by(JobRun.job)
    ).all()
    seen, statuses = set(), []
    for run in runs:
        if run.job not in seen:
            seen.add(run.job)
            statuses.append(JobStatus(run.job, run, run.next_run_at))
    return statuses


def customer_home(session: Session, relation: Relation, today: dt.date, window_days: int):
    """A customer's home: their (and their clients') domains awaiting a decision within the
    selection page's window, the next expiry among them, and their ten latest decisions."""
    tree = tree_relation_ids(relation)
    end = today + dt.timedelta(days=window_days)
    awaiting = select(func.count(), func.min(Domain.expiry_date)).where(
        Domain.relation_id.in_(tree),
        Domain.status.in_(AWAITING_DECISION),
        Domain.expiry_date >= today,
        Domain.expiry_date <= end,
    )
    count, next_expiry = session.execute(awaiting).one()
    recent = session.scalars(
        select(RenewalDecision)
        .where(RenewalDecision.relation_id.in_(tree))
        .options(selectinload(RenewalDecision.domain))
        .order_by(RenewalDecision.decided_at.desc(), RenewalDecision.id.desc())
        .limit(10)
    ).all()
    return CustomerHome(relation, today, count or 0, next_expiry, list(recent))
