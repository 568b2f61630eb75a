"""The log of the daily sales digest: one row per sales contact per day, at most."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Date, DateTime, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from renewal_reminder.models.base import Base, ClaimColumns, enum_column, user_relationship


class SalesDigestStatus(enum.StrEnum):
    #: Claimed by a run that is sending it now (or crashed: reclaimable after a while).
    sending = "sending"
    sent = "sent"
    #: The mail server refused or was unreachable, or the template failed: the next run of the
    #: same day retries it.
    failed = "failed"


class SalesDigestLog(ClaimColumns, Base):
    """The daily digest of one sales contact for one day.

    The unique constraint is how concurrent runs claim a digest: whoever inserts the row sends
    it; the other's insert is ignored. A day with nothing to report has no row (no email).
    ``covered_until`` is the moment up to which the digest reported the automated job's
    actions: the next digest reports those after the last *sent* digest's ``covered_until``.
    """

    __tablename__ = "rr_sales_digest_log"
    __table_args__ = (
        UniqueConstraint("user_id", "digest_date", name="uq_rr_sales_digest_log_day"),
        Index("ix_rr_sales_digest_log_claim", "claim_token"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("ab_user.id", ondelete="CASCADE"), nullable=False
    )
    digest_date: Mapped[dt.date] = mapped_column(Date, nullable=False)
    recipient: Mapped[str] = mapped_column(String(320), nullable=False)
    status: Mapped[SalesDigestStatus] = enum_column(SalesDigestStatus, nullable=False)
    #: Automated actions up to this moment are in this digest (set when it is sent or fails).
    covered_until: Mapped[dt.datetime | None] = mapped_column(DateTime)
    #: What the (last attempt of the) digest held.
    expiring_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    queue_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    automated_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)

    user = user_relationship(lambda: SalesDigestLog.user_id)

    def __repr__(self) -> str:
        return f"<SalesDigestLog user={self.user_id} {self.digest_date} {self.status}>"
