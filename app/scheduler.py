"""The in-process scheduler (Flask-APScheduler) that runs the product's jobs.

Start it in exactly one process: ``python run.py`` does (unless ``SCHEDULER_ENABLED=0``), and
``flask scheduler`` runs it alone for deployments with several web workers, which never start
one (each gunicorn worker would otherwise run every job). The jobs are safe to run twice or
concurrently anyway. Flask-APScheduler's HTTP API stays off: it has no authentication of its own.
"""

from __future__ import annotations

import datetime as dt
import logging

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask
from flask_apscheduler import APScheduler

from renewal_reminder import jobs

log = logging.getLogger(__name__)

REMINDER_JOB_ID = "rr-reminders"
PROCESSING_JOB_ID = "rr-removal-and-renewal"
SALES_DIGEST_JOB_ID = "rr-sales-digest"
FIRST_RUN_DELAY = dt.timedelta(seconds=10)


def create_scheduler(app: Flask, blocking: bool = False) -> APScheduler:
    """A scheduler with the product's jobs added (not started)."""
    app.config["SCHEDULER_API_ENABLED"] = False
    app.config.setdefault(
        "SCHEDULER_JOB_DEFAULTS", {"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600}
    )
    scheduler = APScheduler(BlockingScheduler() if blocking else BackgroundScheduler())
    scheduler.init_app(app)
    hours = float(app.config.get("REMINDER_INTERVAL_HOURS", 24))

    def scheduled(job_id: str, run):
        """The job as the scheduler runs it: own app context (inside ``run``), the next run
        time recorded for the Admin screens, failures logged instead of killing the thread."""

        def job_function() -> None:
            job = scheduler.get_job(job_id)
            next_run = job.next_run_time if job is not None else None
            next_utc = next_run.astimezone(dt.UTC).replace(tzinfo=None) if next_run else None
            try:
                log.info("%s", run(app, next_run_at=next_utc))
            except Exception:
                log.exception("the scheduled job %s failed", job_id)

        return job_function

    started = dt.datetime.now().astimezone()
    for job_id, run, delay in (
        (REMINDER_JOB_ID, jobs.run_reminders, FIRST_RUN_DELAY),
        (PROCESSING_JOB_ID, jobs.run_processing, FIRST_RUN_DELAY),
        # Later, so that it reports what the removal and renewal job just did.
        (SALES_DIGEST_JOB_ID, jobs.run_sales_digest, FIRST_RUN_DELAY + dt.timedelta(minutes=15)),
    ):
        scheduler.add_job(
            id=job_id,
            func=scheduled(job_id, run),
            trigger="interval",
            hours=hours,
            next_run_time=started + delay,
            replace_existing=True,
        )
    return scheduler
