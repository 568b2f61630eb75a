"""Portfolio imports started from the Admin screens: run, watched, and their result kept.

A small file is imported within the request; a large one in a background thread of the web
process, while the person who started it watches a progress page. Either way the result (what
was imported, or every refused line) is stored on an ``ImportJob`` row, so it stays available
after the page is closed.

Progress lives in this process's memory, not in the database: on SQLite any write from another
connection during the import's transaction would break that transaction. A progress page served
by another process (or after a restart) says the import is running, and after
``STALE_AFTER`` that it broke off.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import threading
import time
from dataclasses import dataclass

from flask import Flask
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from renewal_reminder.models import ImportJob, ImportStatus
from renewal_reminder.models.base import utcnow
from renewal_reminder.renewals.portfolio import PortfolioImportError, import_portfolio

log = logging.getLogger(__name__)

#: A running import not heard of for this long (not in this process) is shown as broken off.
STALE_AFTER = dt.timedelta(hours=1)


@dataclass(frozen=True)
class Progress:
    stage: str
    done: int
    total: int | None

    @property
    def percent(self) -> int | None:
        if not self.total:
            return None
        return min(100, round(100 * self.done / self.total))


_progress: dict[int, Progress] = {}
_threads: dict[int, threading.Thread] = {}
_lock = threading.Lock()


class ImportBusy(Exception):
    """Another import is running: one at a time (two would contend for the same rows)."""

    def __init__(self, job: ImportJob) -> None:
        super().__init__(f"import {job.id} ({job.filename}) is still running")
        self.job = job


def create(session: Session, *, filename: str, size: int, user_id: int | None) -> ImportJob:
    """A new running job (flushed; the caller commits). Raises ``ImportBusy`` while another
    import runs (one that broke off does not count)."""
    running = session.scalars(
        select(ImportJob).where(ImportJob.status == ImportStatus.running)
    ).all()
    for other in running:
        if not broke_off(other):
            raise ImportBusy(other)
    job = ImportJob(filename=filename[:255], size=size, started_by_id=user_id)
    session.add(job)
    session.flush()
    return job


def run(session: Session, job_id: int, data: bytes) -> None:
    """Import ``data`` for the job and record the outcome (commits: the import is all or
    nothing, and its result is the job's)."""

    def progress(stage: str, done: int, total: int | None) -> None:
        with _lock:
            _progress[job_id] = Progress(stage, done, total)

    try:
        summary = import_portfolio(session, io.BytesIO(data), progress=progress)
    except PortfolioImportError as exc:
        _finish(
            session,
            job_id,
            ImportStatus.failed,
            errors=[str(e) for e in exc.errors],
            error_total=exc.total,
        )
    except Exception as exc:  # a database problem: nothing was imported (rolled back)
        log.exception("portfolio import %s broke off", job_id)
        _finish(
            session,
            job_id,
            ImportStatus.failed,
            errors=[
                f"not a problem in the file: the database refused the import "
                f"({type(exc).__name__}); nothing was imported. Try again, or ask your "
                "administrator to look at the server's log."
            ],
            error_total=0,
        )
    else:
        _finish(session, job_id, ImportStatus.done, summary=str(summary))
    finally:
        with _lock:
            _progress.pop(job_id, None)


def run_in_background(app: Flask, job_id: int, data: bytes) -> None:
    """``run`` in a thread of this process, with its own app context and session."""

    def work() -> None:
        with app.app_context():
            session = app.extensions["appbuilder"].session
            try:
                run(session, job_id, data)
            finally:
                session.remove()
                with _lock:
                    _threads.pop(job_id, None)

    thread = threading.Thread(target=work, name=f"rr-import-{job_id}", daemon=True)
    with _lock:
        _threads[job_id] = thread
        _progress[job_id] = Progress("queued", 0, None)
    thread.start()


def progress_of(job_id: int) -> Progress | None:
    """The progress of a job running in this process (``None``: not running here)."""
    with _lock:
        return _progress.get(job_id)


def broke_off(job: ImportJob, now: dt.datetime | None = None) -> bool:
    """A job still marked running that no process has finished for ``STALE_AFTER``."""
    if job.status is not ImportStatus.running or progress_of(job.id) is not None:
        return False
    return (now or utcnow()) - job.started_at > STALE_AFTER


def wait(job_id: int, timeout: float = 30.0) -> None:
    """For tests and the CLI: wait until the job's thread (if any) has finished."""
    with _lock:
        thread = _threads.get(job_id)
    if thread is not None:
        thread.join(timeout)


def _finish(session: Session, job_id: int, status: ImportStatus, **values) -> None:
    """Record the outcome; a locked database (SQLite, another writer) is waited for a few
    times, so the job does not stay "running" for want of one write."""
    for attempt in range(5):
        try:
            job = session.get(ImportJob, job_id)
            if job is None:
                return
            job.status = status
            job.finished_at = utcnow()
            for name, value in values.items():
                setattr(job, name, value)
            session.commit()
            return
        except OperationalError:
            session.rollback()
            if attempt == 4:
                raise
            time.sleep(1 + attempt)
