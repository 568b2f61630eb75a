"""The outbox of receipts to customers: one row per event per recipient, sent exactly once."""

from __future__ import annotations

import enum

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from renewal_reminder.models.base import Base, ClaimColumns, enum_column


class ReceiptStatus(enum.StrEnum):
    #: Written with its event, not yet sent.
    pending = "pending"
    #: Claimed by a request or job sending it now (or crashed: reclaimable after a while).
    sending = "sending"
    sent = "sent"
    #: The mail server refused or was unreachable, or the template failed: the next job run
    #: retries it.
    failed = "failed"


class Receipt(ClaimColumns, Base):
    """A receipt to a customer about one event (a batch of decisions, an executed renewal, a
    deactivation or deletion).

    Written in the same transaction as its event (``renewals.receipts``), so it exists exactly
    when the event does; the unique ``(kind, event_key)`` keeps an event from writing two.
    ``payload`` is what the email says (the template renders it when it is sent); the address
    and language are the customer's at the moment of the event."""

    __tablename__ = "rr_receipt"
    __table_args__ = (
        UniqueConstraint("kind", "event_key", name="uq_rr_receipt_event"),
        Index("ix_rr_receipt_claim", "claim_token"),
        Index("ix_rr_receipt_status", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: The email template that renders it (``email_templates.RECEIPT_*``).
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    event_key: Mapped[str] = mapped_column(String(64), nullable=False)
    #: The relation it goes to (the holder, or its reseller: ``recipients``).
    relation_id: Mapped[int] = mapped_column(
        ForeignKey("rr_relation.id", ondelete="CASCADE"), nullable=False
    )
    recipient: Mapped[str] = mapped_column(String(320), nullable=False)
    language: Mapped[str] = mapped_column(String(8), nullable=False)
    payload: Mapped[dict] = mapped_column(JSON, nullable=False)
    status: Mapped[ReceiptStatus] = enum_column(ReceiptStatus, nullable=False)

    relation = relationship("Relation")

    def __repr__(self) -> str:
        return f"<Receipt {self.kind} {self.event_key} {self.status}>"
