"""Renewal confirmation requests: one emailed activation code for one domain."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from renewal_reminder.models.base import Base, user_relationship, utcnow


class ConfirmationRequest(Base):
    """A code sent to a domain's holder so they can confirm or decline its renewal without an
    account. Only an HMAC of the code is stored; the code itself exists only in the email."""

    __tablename__ = "rr_confirmation_request"
    __table_args__ = (Index("ix_rr_confirmation_request_domain", "domain_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    domain_id: Mapped[int] = mapped_column(
        ForeignKey("rr_domain.id", ondelete="CASCADE"), nullable=False
    )
    #: HMAC-SHA256 (keyed with the app's SECRET_KEY) of the normalised code, hex.
    code_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    #: The domain's expiry date the request is about (a decision belongs to one date).
    expiry_date: Mapped[dt.date] = mapped_column(Date, nullable=False)
    sent_to: Mapped[str] = mapped_column(String(254), nullable=False)
    sent_by_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    #: Why the code cannot be used although never used: "replaced by a new request",
    #: "the email could not be sent: ...".
    note: Mapped[str | None] = mapped_column(Text)

    domain = relationship("Domain")
    sent_by = user_relationship(lambda: ConfirmationRequest.sent_by_id)

    @property
    def state(self) -> str:
        if self.used_at is not None:
            return "used"
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at <= utcnow():
            return "expired"
        return "open"

    @property
    def sent_by_label(self) -> str:
        return self.sent_by.username if self.sent_by is not None else "automatic"
