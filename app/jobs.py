"""What the scheduler (and the matching CLI commands) run.

Each run gets its own app context, hence its own database session, and leaves a ``JobRun``
row (when it ran, how it went, when the scheduler will run it next) for the Admin screens.
Jobs never read ``g.user``: everything they do goes through ``app.renewals``.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import JobRun
from app.models.base import utcnow
from app.renewals import automation
from app.renewals.automation import AutomationSettings, AutomationSummary
from app.renewals.reminders import ReminderSettings, RunSummary, send_reminders
from app.session import current_registrar, current_session

log = logging.getLogger(__name__)

REMINDERS = "reminders"
PROCESSING = "removal_and_renewal"


def run_reminders(
    app: Flask,
    today: dt.date | None = None,
    dry_run: bool = False,
    echo: Callable[[str], None] | None = None,
    next_run_at: dt.datetime | None = None,
) -> RunSummary:
    """One reminder run for ``today`` (default: the current date)."""
    today = today or dt.date.today()
    with app.app_context():
        session = current_session()
        settings = ReminderSettings.from_config(app.config)
        run = JobRun(job=REMINDERS, run_date=today, dry_run=dry_run, next_run_at=next_run_at)
        session.add(run)
        session.commit()
        try:
            summary = send_reminders(
                session, app.extensions["mail"], today, settings, dry_run=dry_run, echo=echo
            )
        except Exception as exc:
            session.rollback()
            _finish(session, run, ok=False, summary=f"crashed: {exc!r}")
            raise
        _finish(session, run, ok=summary.ok, summary=str(summary))
        return summary


def run_processing(
    app: Flask,
    today: dt.date | None = None,
    dry_run: bool = False,
    echo: Callable[[str], None] | None = None,
    next_run_at: dt.datetime | None = None,
) -> AutomationSummary:
    """One run of the automated removal and renewal for ``today``."""
    today = today or dt.date.today()
    with app.app_context():
        session = current_session()
        settings = AutomationSettings.from_config(app.config)
        run = JobRun(job=PROCESSING, run_date=today, dry_run=dry_run, next_run_at=next_run_at)
        session.add(run)
        session.commit()
        try:
            summary = automation.run(
                session, current_registrar(), today, settings, dry_run=dry_run, echo=echo
            )
        except Exception as exc:
            session.rollback()
            _finish(session, run, ok=False, summary=f"crashed: {exc!r}")
            raise
        _finish(session, run, ok=summary.ok, summary=str(summary))
        return summary


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
