"""A portfolio import started from the Admin screens, and how it went.

The upload runs in the background (a large file takes a while); the person who started it
watches a progress page and lands on the result, which stays available afterwards."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from renewal_reminder.models.base import Base, enum_column, user_relationship, utcnow


class ImportStatus(enum.StrEnum):
    running = "running"
    done = "done"
    #: Nothing was imported: the file had bad rows (``errors``) or the import broke off.
    failed = "failed"


class ImportJob(Base):
    __tablename__ = "rr_import_job"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    filename: Mapped[str] = mapped_column(String(255), nullable=False)
    size: Mapped[int] = mapped_column(Integer, nullable=False)
    status: Mapped[ImportStatus] = enum_column(
        ImportStatus, nullable=False, default=ImportStatus.running
    )
    summary: Mapped[str | None] = mapped_column(Text)
    #: The rows that were refused (at most the import's own limit), or what broke off.
    errors: Mapped[list | None] = mapped_column(JSON)
    error_total: Mapped[int | None] = mapped_column(Integer)
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id", ondelete="SET NULL"))
    started_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)

    started_by = user_relationship(lambda: ImportJob.started_by_id)
