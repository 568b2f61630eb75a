"""Differences the registrar sync found and left for people, kept for the sales digest.

The sync changes a domain only in the clear cases (renewed at the registrar, deleted there
twice in a row). Everything else (the registry's date is earlier, or later but not by the
renewal that was confirmed, a hold that is not ours, a name gone from the registry while a
confirmed renewal waits, a question the registry did not answer) is a row here, so the sales
contact of the domain's relation reads it in their next digest (``sales_digest``) instead of
it living only in a CLI's output. Rows are pruned after ``registry_sync.KEEP_DIFFERENCES``.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from renewal_reminder.models.base import Base, utcnow


class RegistryDifference(Base):
    """One difference for one domain found by one sync run."""

    __tablename__ = "rr_registry_difference"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    domain_id: Mapped[int] = mapped_column(
        ForeignKey("rr_domain.id", ondelete="CASCADE"), nullable=False, index=True
    )
    #: The job run that found it (None: a run outside the job, e.g. a test).
    job_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("rr_job_run.id", ondelete="SET NULL"), index=True
    )
    found_at: Mapped[dt.datetime] = mapped_column(
        DateTime, nullable=False, default=utcnow, index=True
    )
    #: What differs, for people ("the registry's expiry date 2027-01-12 is before ours").
    detail: Mapped[str] = mapped_column(String(1000), nullable=False)

    def __repr__(self) -> str:
        return f"<RegistryDifference {self.domain_id} {self.detail!r}>"
