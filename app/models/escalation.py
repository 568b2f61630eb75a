"""The log of escalation alerts: one row per renewal decision and level, at most."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Date, ForeignKey, Index, Integer, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from renewal_reminder.models.base import Base, ClaimColumns, enum_column


class EscalationLevel(enum.StrEnum):
    #: On the decision's due-by date: to the sales contact (or, without one, the escalation
    #: address).
    sales = "sales"
    #: From the expiry date on: to the escalation address (operations, or the Admins).
    escalation = "escalation"


class EscalationStatus(enum.StrEnum):
    #: Claimed by a run that is sending it now (or crashed: reclaimable after a while).
    sending = "sending"
    sent = "sent"
    #: Refused, unreachable, no recipient or a template error: the next run retries it.
    failed = "failed"


class EscalationLog(ClaimColumns, Base):
    """One alert about one confirmed renewal left unexecuted, at one level.

    The unique constraint is how concurrent runs claim an alert: whoever inserts the row sends
    it; the other's insert is ignored (``renewals.claims``)."""

    __tablename__ = "rr_escalation_log"
    __table_args__ = (
        UniqueConstraint("decision_id", "level", name="uq_rr_escalation_log_alert"),
        Index("ix_rr_escalation_log_claim", "claim_token"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    decision_id: Mapped[int] = mapped_column(
        ForeignKey("rr_renewal_decision.id", ondelete="CASCADE"), nullable=False
    )
    level: Mapped[EscalationLevel] = enum_column(EscalationLevel, nullable=False)
    #: The day of the run that (last) handled it.
    run_date: Mapped[dt.date] = mapped_column(Date, nullable=False)
    #: Everyone it went to, comma-separated.
    recipient: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[EscalationStatus] = enum_column(EscalationStatus, nullable=False)

    decision = relationship("RenewalDecision")

    def __repr__(self) -> str:
        return f"<EscalationLog decision={self.decision_id} {self.level} {self.status}>"
