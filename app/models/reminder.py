"""The reminder log, email templates and the record of scheduled job runs."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from renewal_reminder.models.base import Base, ClaimColumns, enum_column, utcnow
from renewal_reminder.models.enums import ReminderStatus

#: The partial index's condition. A query uses the index only when its own condition is this
#: very expression, with the value written out (not a bound parameter): ``reminders._retries``.
#: "Not sent" rather than a list of statuses, so that no planner prefers the (status, ...)
#: index.
_UNSENT_SQL = "status != 'sent'"


class ReminderLog(ClaimColumns, Base):
    """One reminder of one domain for one expiry date and offset: at most one row, ever.

    The unique constraint is how concurrent runs (two app servers, two workers) claim work:
    whoever inserts the row sends the reminder; the other's insert is ignored.
    """

    __tablename__ = "rr_reminder_log"
    __table_args__ = (
        UniqueConstraint(
            "domain_id", "expiry_date", "offset_code", name="uq_rr_reminder_log_reminder"
        ),
        Index("ix_rr_reminder_log_claim", "claim_token"),
        Index("ix_rr_reminder_log_created", "created_at"),
        # The home page's "failed emails of the last days": a range of one status.
        Index("ix_rr_reminder_log_status_created", "status", "created_at"),
        # The reminder run's days: which of the reminders dated in them are logged already.
        Index("ix_rr_reminder_log_reminder_date", "reminder_date"),
        # The reminder run's retries (failed, skipped, or claimed by a run that died): the
        # few rows not sent among millions that are, by reminder date.
        Index(
            "ix_rr_reminder_log_unsent",
            "reminder_date",
            sqlite_where=text(_UNSENT_SQL),
            postgresql_where=text(_UNSENT_SQL),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    domain_id: Mapped[int] = mapped_column(
        ForeignKey("rr_domain.id", ondelete="CASCADE"), nullable=False
    )
    expiry_date: Mapped[dt.date] = mapped_column(Date, nullable=False)
    #: The offset's canonical code: "3m", "15d", "0d", "+3d".
    offset_code: Mapped[str] = mapped_column(String(8), nullable=False)
    reminder_date: Mapped[dt.date] = mapped_column(Date, nullable=False)
    #: The day of the run that (last) handled it; later than reminder_date when caught up.
    run_date: Mapped[dt.date] = mapped_column(Date, nullable=False)
    recipient: Mapped[str] = mapped_column(String(254), nullable=False)
    status: Mapped[ReminderStatus] = enum_column(ReminderStatus, nullable=False)

    domain = relationship("Domain")

    def __repr__(self) -> str:
        return f"<ReminderLog {self.domain_id} {self.expiry_date} {self.offset_code} {self.status}>"


class EmailTemplate(Base):
    """An editable email (subject, plain text, HTML) for one purpose and language.

    Rendered in Jinja's sandbox: an admin's template cannot reach Python internals.
    """

    __tablename__ = "rr_email_template"
    __table_args__ = (UniqueConstraint("name", "language", name="uq_rr_email_template"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), nullable=False)
    language: Mapped[str] = mapped_column(String(8), nullable=False)
    subject: Mapped[str] = mapped_column(String(500), nullable=False)
    text_body: Mapped[str] = mapped_column(Text, nullable=False)
    html_body: Mapped[str] = mapped_column(Text, nullable=False)
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime, nullable=False, default=utcnow, onupdate=utcnow
    )

    def __str__(self) -> str:
        return f"{self.name} ({self.language})"


class JobRun(Base):
    """One run of a scheduled job (or its CLI twin): when, how it went, when the next is due."""

    __tablename__ = "rr_job_run"
    __table_args__ = (Index("ix_rr_job_run_job_started", "job", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job: Mapped[str] = mapped_column(String(64), nullable=False)
    run_date: Mapped[dt.date] = mapped_column(Date, nullable=False)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    ok: Mapped[bool | None] = mapped_column(Boolean)
    dry_run: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    summary: Mapped[str | None] = mapped_column(Text)
    #: When the scheduler that ran it will run it next (None when run by hand).
    next_run_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    #: A resumable job's progress (the registrar sync: the last domain id it has finished);
    #: a run that stopped half-way leaves it, and the next run continues after it.
    resume_after_id: Mapped[int | None] = mapped_column(Integer)
    #: The reminder run's calendar (``REMINDER_OFFSETS``, as parsed): a finished run covers
    #: its day for later runs only while the calendar is the same (``reminders.due``).
    reminder_offsets: Mapped[str | None] = mapped_column(String(255))


class ProductRole(Base):
    """A role the product created (or claimed while it had no permissions): the product's
    own, so the permissions a host grants every role later (Airflow does) are no conflict."""

    __tablename__ = "rr_product_role"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
