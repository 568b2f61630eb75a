"""What the scheduler (and the matching CLI commands) run.

Each run gets its own app context, hence its own database session, and leaves a ``JobRun``
row (when it ran, how it went, when the scheduler will run it next) for the Admin screens.
Jobs never read ``g.user``: everything they do goes through ``renewal_reminder.renewals``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable
from typing import Protocol

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from renewal_reminder import settings
from renewal_reminder.models import JobRun
from renewal_reminder.models.base import utcnow
from renewal_reminder.renewals import automation, escalation, receipts, registry_sync, reminders
from renewal_reminder.renewals.automation import AutomationSettings, AutomationSummary
from renewal_reminder.renewals.deadlines import DeadlineSettings
from renewal_reminder.renewals.mailer import MailSettings
from renewal_reminder.renewals.registry_sync import SyncSummary
from renewal_reminder.renewals.reminders import ReminderSettings, RunSummary, send_reminders
from renewal_reminder.renewals.sales_digest import DigestRunSummary, send_sales_digests
from renewal_reminder.session import EXTENSION, current_registrar, current_session

log = logging.getLogger(__name__)

REMINDERS = reminders.JOB_NAME
PROCESSING = "removal_and_renewal"
SALES_DIGEST = "sales_digest"
REGISTRAR_SYNC = "registrar_sync"


class JobSummary(Protocol):
    ok: bool


def _recorded(
    app: Flask,
    job: str,
    today: dt.date | None,
    dry_run: bool,
    next_run_at: dt.datetime | None,
    body: Callable[..., JobSummary],
    *,
    with_run: bool = False,
) -> JobSummary:
    """Run ``body(session, today)`` in its own app context, recorded as a ``JobRun``
    (``with_run``: ``body(session, today, run)``, for a job that records its progress)."""
    today = today or dt.date.today()
    with app.app_context():
        session = current_session()
        run = JobRun(job=job, run_date=today, dry_run=dry_run, next_run_at=next_run_at)
        session.add(run)
        session.commit()
        try:
            summary = body(session, today, run) if with_run else body(session, today)
        except Exception as exc:
            session.rollback()
            _finish(session, run, ok=False, summary=f"crashed: {exc!r}")
            raise
        _finish(session, run, ok=summary.ok, summary=str(summary))
        return summary


def run_reminders(
    app: Flask,
    today: dt.date | None = None,
    dry_run: bool = False,
    echo: Callable[[str], None] | None = None,
    next_run_at: dt.datetime | None = None,
) -> RunSummary:
    """One reminder run for ``today`` (default: the current date)."""

    def body(session: Session, day: dt.date, run: JobRun) -> RunSummary:
        reminder_settings = dataclasses.replace(
            ReminderSettings.from_config(settings.read(app.config)),
            registrar_executes=current_registrar().can_execute,
        )
        run.reminder_offsets = reminder_settings.calendar  # what this run covers
        return send_reminders(
            session,
            app.extensions[EXTENSION].mail,
            day,
            reminder_settings,
            dry_run=dry_run,
            echo=echo,
        )

    return _recorded(app, REMINDERS, today, dry_run, next_run_at, body, with_run=True)


def run_processing(
    app: Flask,
    today: dt.date | None = None,
    dry_run: bool = False,
    echo: Callable[[str], None] | None = None,
    next_run_at: dt.datetime | None = None,
) -> AutomationSummary:
    """One run of the automated removal and renewal for ``today``."""

    def body(session: Session, day: dt.date) -> AutomationSummary:
        config = settings.read(app.config)
        automation_settings = AutomationSettings.from_config(config)
        registrar = current_registrar()
        with registrar.session():  # one registry login for the whole run (EPP)
            summary = automation.run(
                session, registrar, day, automation_settings, dry_run=dry_run, echo=echo
            )
        # Then what is still unexecuted on its due date escalates (after the retries above).
        summary.alerts = escalation.send_alerts(
            session,
            app.extensions[EXTENSION].mail,
            MailSettings.from_config(config),
            day,
            automation_settings.deadlines,
            dry_run=dry_run,
            echo=echo,
        )
        summary.problems.extend(summary.alerts.problems)
        if not dry_run:  # and the customers' receipts still unsent (a failure, a crash)
            summary.receipts = receipts.send_receipts(
                session,
                app.extensions[EXTENSION].mail,
                MailSettings.from_config(config),
                echo=echo,
            )
            summary.problems.extend(summary.receipts.problems)
        return summary

    return _recorded(app, PROCESSING, today, dry_run, next_run_at, body)


def run_sales_digest(
    app: Flask,
    today: dt.date | None = None,
    dry_run: bool = False,
    echo: Callable[[str], None] | None = None,
    next_run_at: dt.datetime | None = None,
) -> DigestRunSummary:
    """The daily email to each sales contact (at most one per contact per day)."""

    def body(session: Session, day: dt.date) -> DigestRunSummary:
        config = settings.read(app.config)
        return send_sales_digests(
            session,
            app.extensions[EXTENSION].mail,
            MailSettings.from_config(config),
            day,
            dry_run=dry_run,
            echo=echo,
            lead_days=DeadlineSettings.from_config(config).lead_days,
        )

    return _recorded(app, SALES_DIGEST, today, dry_run, next_run_at, body)


def run_registrar_sync(
    app: Flask,
    today: dt.date | None = None,
    dry_run: bool = False,
    echo: Callable[[str], None] | None = None,
    next_run_at: dt.datetime | None = None,
    relation_number: int | None = None,
) -> SyncSummary:
    """One registrar sync (``renewals.registry_sync``), of every active domain or of one
    relation's. A full run resumes after the last domain that a run which stopped half-way
    (crashed, killed, the registry unreachable) had finished: its progress is committed with
    each batch (``JobRun.resume_after_id``; 0 once a run got to the end). Raises
    ``registry_sync.SyncRefused`` (nothing recorded) for a backend without a registry."""
    with app.app_context():
        registry_sync.check_backend(current_registrar())
        if relation_number is not None:
            registry_sync.relation_scope(current_session(), relation_number)

    def body(session: Session, day: dt.date, run: JobRun) -> SyncSummary:
        config = settings.read(app.config)
        scope = None
        if relation_number is not None:
            scope = registry_sync.relation_scope(session, relation_number)
        resumable = scope is None and not dry_run
        after_id = 0
        if resumable:
            after_id = _resume_point(session, REGISTRAR_SYNC, run.id)
            run.resume_after_id = after_id
            session.commit()

        def progress(last_id: int) -> None:
            run.resume_after_id = last_id  # committed with the batch

        # The sync commits per batch (it is the entry point that owns those transactions);
        # ``progress`` writes the resume point inside each batch's transaction.
        summary = registry_sync.sync(
            session,
            current_registrar(),
            settings=registry_sync.SyncSettings.from_config(config),
            relation_ids=scope,
            dry_run=dry_run,
            after_id=after_id,
            echo=echo,
            on_batch=progress if resumable else None,
            run_id=run.id,
        )
        if resumable and not summary.stopped:
            run.resume_after_id = 0  # got to the end: the next run starts at the beginning
        if summary.deletions_refused and not dry_run:
            _alarm_refused_deletions(app, session, config, summary)
        return summary

    return _recorded(app, REGISTRAR_SYNC, today, dry_run, next_run_at, body, with_run=True)


def _alarm_refused_deletions(app: Flask, session: Session, config, summary: SyncSummary) -> None:
    """The sync found too many names gone at once and deleted none: tell the escalation
    address (as overdue renewals are told), and say in the run's summary whether that worked."""
    error = escalation.send_operations_alarm(
        session,
        app.extensions[EXTENSION].mail,
        MailSettings.from_config(config),
        DeadlineSettings.from_config(config),
        "Registrar sync: deletions refused, check the registry settings",
        f"The registrar sync deleted nothing.\n\n{summary.deletions_refused}\n\n{summary}",
    )
    note = "alarm sent to the escalation address" if error is None else f"alarm failed: {error}"
    summary.deletions_refused = f"{summary.deletions_refused} ({note})"
    session.commit()


def _resume_point(session: Session, job: str, this_run_id: int) -> int:
    """Where the latest full run of ``job`` got to: after this domain id (0: the start)."""
    latest = session.scalar(
        select(JobRun.resume_after_id)
        .where(JobRun.job == job, JobRun.id != this_run_id, JobRun.resume_after_id.is_not(None))
        .order_by(JobRun.started_at.desc(), JobRun.id.desc())
        .limit(1)
    )
    return latest or 0


def _finish(session, run: JobRun, ok: bool, summary: str) -> None:
    run.finished_at = utcnow()
    run.ok = ok
    run.summary = summary
    session.commit()


def last_run(session: Session, job: str) -> JobRun | None:
    return session.scalar(
        select(JobRun).where(JobRun.job == job).order_by(JobRun.started_at.desc()).limit(1)
    )


def next_scheduled_run(session: Session, job: str) -> dt.datetime | None:
    """When the scheduler will next run ``job``: recorded by its latest scheduled run (runs
    started by hand have no next run and do not hide it)."""
    return session.scalar(
        select(JobRun.next_run_at)
        .where(JobRun.job == job, JobRun.next_run_at.is_not(None))
        .order_by(JobRun.started_at.desc())
        .limit(1)
    )
