"""The in-process scheduler (APScheduler) that runs the product's jobs.

Start it in exactly one process: ``python run.py`` does (unless ``SCHEDULER_ENABLED=0``), and
``flask renewals scheduler`` runs it alone for deployments with several web workers, which
never start one (each gunicorn worker would otherwise run every job). The jobs are safe to run
twice or concurrently anyway.

Plain APScheduler rather than Flask-APScheduler: the latter configures itself from the host's
``SCHEDULER_*`` keys, hangs itself on the app and may serve an unauthenticated HTTP API; the
addon needs none of that and must not touch a host's scheduler settings.
"""

from __future__ import annotations

import datetime as dt
import logging

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask

from renewal_reminder import jobs, settings
from renewal_reminder.session import EXTENSION

log = logging.getLogger(__name__)

REMINDER_JOB_ID = "rr-reminders"
PROCESSING_JOB_ID = "rr-removal-and-renewal"
SALES_DIGEST_JOB_ID = "rr-sales-digest"
REGISTRAR_SYNC_JOB_ID = "rr-registrar-sync"
FIRST_RUN_DELAY = dt.timedelta(seconds=10)


#: One run at a time per job; a run missed while the process slept happens once, late.
JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600}


def create_scheduler(app: Flask, blocking: bool = False) -> BaseScheduler:
    """A scheduler with the product's jobs added (not started)."""
    scheduler_class = BlockingScheduler if blocking else BackgroundScheduler
    scheduler = scheduler_class(job_defaults=JOB_DEFAULTS)
    hours = float(settings.read(app.config)["REMINDER_INTERVAL_HOURS"])

    def scheduled(job_id: str, run):
        """The job as the scheduler runs it: own app context (inside ``run``), the next run
        time recorded for the Admin screens, failures logged instead of killing the thread."""

        def job_function() -> None:
            job = scheduler.get_job(job_id)
            next_run = job.next_run_time if job is not None else None
            next_utc = next_run.astimezone(dt.UTC).replace(tzinfo=None) if next_run else None
            try:
                summary = run(app, next_run_at=next_utc)
            except Exception:
                log.exception("the scheduled job %s failed", job_id)
                return
            if getattr(summary, "ok", True):
                log.info("%s: %s", job_id, summary)
            else:  # e.g. the mail server refused or was unreachable: say so on the console
                log.warning("%s finished with failures: %s", job_id, summary)

        return job_function

    started = dt.datetime.now().astimezone()
    for job_id, run, delay in (
        (REMINDER_JOB_ID, jobs.run_reminders, FIRST_RUN_DELAY),
        (PROCESSING_JOB_ID, jobs.run_processing, FIRST_RUN_DELAY),
        # Later, so that it reports what the removal and renewal job just did.
        (SALES_DIGEST_JOB_ID, jobs.run_sales_digest, FIRST_RUN_DELAY + dt.timedelta(minutes=15)),
    ):
        scheduler.add_job(
            scheduled(job_id, run),
            id=job_id,
            trigger="interval",
            hours=hours,
            next_run_time=started + delay,
            replace_existing=True,
        )
    sync_hours = float(settings.read(app.config)["REGISTRAR_SYNC_HOURS"] or 0)
    # Not for a backend without a registry to ask (manual); 0 turns it off. Before the
    # removal and renewal job's first run, so that it acts on the registry's dates.
    if sync_hours > 0 and app.extensions[EXTENSION].registrar.can_execute:
        scheduler.add_job(
            scheduled(REGISTRAR_SYNC_JOB_ID, jobs.run_registrar_sync),
            id=REGISTRAR_SYNC_JOB_ID,
            trigger="interval",
            hours=sync_hours,
            next_run_time=started + FIRST_RUN_DELAY / 2,
            replace_existing=True,
        )
    return scheduler
