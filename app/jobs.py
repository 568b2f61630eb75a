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
from renewal_reminder.renewals import automation, escalation, receipts
from renewal_reminder.renewals.automation import AutomationSettings, AutomationSummary
from renewal_reminder.renewals.deadlines import DeadlineSettings
from renewal_reminder.renewals.mailer import MailSettings
from renewal_reminder.renewals.reminders import ReminderSettings, RunSummary, send_reminders
from renewal_reminder.renewals.sales_digest import DigestRunSummary, send_sales_digests
from renewal_reminder.session import EXTENSION, current_registrar, current_session

log = logging.getLogger(__name__)

REMINDERS = "reminders"
PROCESSING = "removal_and_renewal"
SALES_DIGEST = "sales_digest"


class JobSummary(Protocol):
    ok: bool


def _recorded(
    app: Flask,
    job: str,
    today: dt.date | None,
    dry_run: bool,
    next_run_at: dt.datetime | None,
    body: Callable[[Session, dt.date], JobSummary],
) -> JobSummary:
    """Run ``body(session, today)`` in its own app context, recorded as a ``JobRun``."""
    today = today or dt.date.today()
    with app.app_context():
        session = current_session()
        run = JobRun(job=job, run_date=today, dry_run=dry_run, next_run_at=next_run_at)
        session.add(run)
        session.commit()
        try:
            summary = body(session, today)
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

    def body(session: Session, day: dt.date) -> RunSummary:
        reminder_settings = dataclasses.replace(
            ReminderSettings.from_config(settings.read(app.config)),
            registrar_executes=current_registrar().can_execute,
        )
        return send_reminders(
            session,
            app.extensions[EXTENSION].mail,
            day,
            reminder_settings,
            dry_run=dry_run,
            echo=echo,
        )

    return _recorded(app, REMINDERS, today, dry_run, next_run_at, body)


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
