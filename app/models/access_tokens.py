"""What the customer's ways in remember: invitations to set a password, and each login's
session version.

Customer links (in every email) and password-reset links need no table: they are signed
(itsdangerous) and checked against what they name (``Relation.link_version``, the login's
password hash), so rotating the one or changing the other revokes them."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from renewal_reminder.models.base import Base, ClaimColumns, enum_column, user_relationship


class InvitationStatus(enum.StrEnum):
    """Where the invitation email is (the claim-then-send pattern of ``renewals.claims``)."""

    pending = "pending"
    sending = "sending"
    sent = "sent"
    failed = "failed"


class Invitation(ClaimColumns, Base):
    """An invitation to a relation's billing address to set a password for a login linked to
    the relation. Single use (``accepted_at``), expiring (``expires_at``), revoked by the
    next invitation to the same relation (``revoked_at``), and dead once the relation's
    billing address is no longer ``email`` (``renewals.invitations.is_open``).

    The emailed link is signed and carries the row id and ``nonce``; the row decides whether
    it is still good."""

    __tablename__ = "rr_invitation"
    __table_args__ = (
        Index("ix_rr_invitation_claim", "claim_token"),
        Index("ix_rr_invitation_status", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    relation_id: Mapped[int] = mapped_column(
        ForeignKey("rr_relation.id", ondelete="CASCADE"), nullable=False, index=True
    )
    #: The address it went to (the relation's billing email when it was made).
    email: Mapped[str] = mapped_column(String(320), nullable=False)
    language: Mapped[str] = mapped_column(String(8), nullable=False, default="en")
    nonce: Mapped[str] = mapped_column(String(32), nullable=False)
    status: Mapped[InvitationStatus] = enum_column(
        InvitationStatus, nullable=False, default=InvitationStatus.pending
    )
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False)
    accepted_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    #: Who asked for it (``None``: the CLI), and the login it created once accepted.
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id", ondelete="SET NULL"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id", ondelete="SET NULL"))

    relation = relationship("Relation")
    invited_by = user_relationship(lambda: Invitation.invited_by_id)
    user = user_relationship(lambda: Invitation.user_id)

    def __repr__(self) -> str:
        return f"<Invitation {self.id} relation={self.relation_id} {self.status}>"


class UserSession(Base):
    """A login's session version: every session carries the version it started with, and a
    request whose version is older than this row's is signed out. Bumping it ends every session
    of that login, copies of the cookie included (logout, password change or reset,
    deactivation, unlinking from a relation).

    A product-owned table rather than a column on the host's user table, which the addon does
    not own."""

    __tablename__ = "rr_user_session"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("ab_user.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
