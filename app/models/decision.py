"""Renewal decisions: the append-only history and the sales contact's queue."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    event,
    select,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from renewal_reminder.models.base import Base, enum_column, user_relationship, utcnow
from renewal_reminder.models.enums import Decision, DecisionChannel, ProcessingState

if TYPE_CHECKING:
    from renewal_reminder.models.domain import Domain


class RenewalDecision(Base):
    """One customer (or staff, or automatic) decision to renew or decline a domain.

    A decision belongs to the expiry date it was made for (``expiry_date``): once a renewal
    moves the domain's expiry on, the next cycle needs a decision of its own. Rows are never
    rewritten with another decision; only the processing fields change as sales work the queue.
    """

    __tablename__ = "rr_renewal_decision"
    __table_args__ = (
        Index("ix_rr_renewal_decision_state_decided", "state", "decided_at"),
        Index("ix_rr_renewal_decision_domain_expiry", "domain_id", "expiry_date"),
        # At most one queued decision per domain and expiry date: two simultaneous
        # submissions cannot both queue one (the second fails and is told to review).
        Index(
            "uq_rr_renewal_decision_queued",
            "domain_id",
            "expiry_date",
            unique=True,
            sqlite_where=text("state = 'queued'"),
            postgresql_where=text("state = 'queued'"),
        ),
        CheckConstraint(
            "(decision = 'renew' AND years IS NOT NULL AND years BETWEEN 1 AND 10)"
            " OR (decision = 'decline' AND years IS NULL)",
            name="ck_rr_renewal_decision_years",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    domain_id: Mapped[int] = mapped_column(
        ForeignKey("rr_domain.id", ondelete="CASCADE"), nullable=False
    )
    #: The relation that held the domain when the decision was made (set on insert from the
    #: domain): its customers see the decision; a later holder's do not.
    relation_id: Mapped[int | None] = mapped_column(
        ForeignKey("rr_relation.id", ondelete="SET NULL"), index=True
    )
    decision: Mapped[Decision] = enum_column(Decision, nullable=False)
    years: Mapped[int | None] = mapped_column(Integer)
    #: The domain's expiry date when the decision was made.
    expiry_date: Mapped[dt.date] = mapped_column(Date, nullable=False)
    channel: Mapped[DecisionChannel] = enum_column(DecisionChannel, nullable=False)
    #: The login that decided; NULL when an activation code (or the automatic job) decided.
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("ab_user.id", ondelete="SET NULL"))
    decided_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    remote_addr: Mapped[str | None] = mapped_column(String(45))

    state: Mapped[ProcessingState] = enum_column(
        ProcessingState, nullable=False, default=ProcessingState.queued
    )
    processed_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("ab_user.id", ondelete="SET NULL")
    )
    processed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    message: Mapped[str | None] = mapped_column(Text)
    #: Set while a request or job is executing it at the registrar
    #: (see ``renewal_reminder.renewals.processing``).
    claimed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    #: Executions tried at the registrar that failed (a retry that succeeds is not counted).
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    #: When the automated job may retry a failed renewal (``renewals.deadlines.next_retry_at``).
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(DateTime)

    domain: Mapped[Domain] = relationship("Domain", back_populates="decisions")
    decided_by = user_relationship(lambda: RenewalDecision.decided_by_id)
    processed_by = user_relationship(lambda: RenewalDecision.processed_by_id)

    @property
    def decided_by_label(self) -> str:
        """Who decided, for people: a login, "code" for the public page, or "automatic"."""
        if self.decided_by is not None:
            return self.decided_by.username
        if self.channel is DecisionChannel.confirmation_code:
            return "code"
        if self.channel is DecisionChannel.email_link:
            return "emailed link"
        return self.channel.value

    def __repr__(self) -> str:
        return f"<RenewalDecision {self.id} {self.decision.value} domain={self.domain_id}>"


@event.listens_for(RenewalDecision, "before_insert")
def _holder_of_the_domain(_mapper, connection, decision: RenewalDecision) -> None:
    """Every decision records its domain's holder at the time, however it was created."""
    if decision.relation_id is None:
        from renewal_reminder.models.domain import Domain

        decision.relation_id = connection.scalar(
            select(Domain.relation_id).where(Domain.id == decision.domain_id)
        )
