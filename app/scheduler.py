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

from app import jobs

log = logging.getLogger(__name__)

REMINDER_JOB_ID = "rr-reminders"
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

    def send_reminders() -> None:
        job = scheduler.get_job(REMINDER_JOB_ID)
        next_run = job.next_run_time if job is not None else None
        next_run_utc = next_run.astimezone(dt.UTC).replace(tzinfo=None) if next_run else None
        try:
            summary = jobs.run_reminders(app, next_run_at=next_run_utc)
            log.info("%s", summary)
        except Exception:
            log.exception("the reminder run failed")

    scheduler.add_job(
        id=REMINDER_JOB_ID,
        func=send_reminders,
        trigger="interval",
        hours=hours,
        next_run_time=dt.datetime.now().astimezone() + FIRST_RUN_DELAY,
        replace_existing=True,
    )
    return scheduler
