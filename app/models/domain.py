"""Domains, the things that expire."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import idna
from sqlalchemy import CheckConstraint, Date, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from renewal_reminder.models.base import Base, created_column, enum_column, updated_column
from renewal_reminder.models.enums import DomainStatus

if TYPE_CHECKING:
    from renewal_reminder.models.decision import RenewalDecision
    from renewal_reminder.models.relation import Relation


def unicode_domain_name(ascii_name: str) -> str:
    """The name as people write it (IDN labels decoded); unchanged if it cannot be decoded."""
    if "xn--" not in ascii_name:
        return ascii_name
    try:
        return idna.decode(ascii_name)
    except (idna.IDNAError, UnicodeError):
        return ascii_name


class Domain(Base):
    """A registered domain name held by a relation.

    ``name`` is the ASCII (punycode) form in lower case; ``unicode_name`` is what people read.
    """

    __tablename__ = "rr_domain"
    __table_args__ = (
        # The reminder job, the selection page and the home pages ask "which domains in status
        # S expire between A and B": this index answers that without scanning the table ...
        Index("ix_rr_domain_status_expiry", "status", "expiry_date"),
        # ... and "which of these relations' domains": a sales contact's or a reseller's share
        # is read through this one (it also serves the foreign key to rr_relation). With the
        # name it holds every column a scoped list sorts by (expiry date, name): their page is
        # sorted from the index alone, without reading a row.
        Index(
            "ix_rr_domain_relation_status_expiry", "relation_id", "status", "expiry_date", "name"
        ),
        # ... and the lists in expiry order (the domain list, the expiration list, its totals
        # and its export: ORDER BY expiry_date, name) read their pages from this one instead
        # of sorting the table. It also holds what they filter on (status, relation) and, on
        # PostgreSQL, the id: a window's rows are counted and a page's ids found in the index
        # alone, past a deep offset too.
        Index(
            "ix_rr_domain_expiry_name",
            "expiry_date",
            "name",
            "status",
            "relation_id",
            postgresql_include=["id"],
        ),
        # The reminder run's late arrivals: domains added or changed since its last run,
        # which may owe a reminder whose date the run has already passed.
        Index("ix_rr_domain_updated", "updated_at"),
        CheckConstraint("name = lower(name)", name="ck_rr_domain_name_lower"),
        CheckConstraint(
            "renewal_years IS NULL OR (renewal_years BETWEEN 1 AND 10)",
            name="ck_rr_domain_renewal_years",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(253), unique=True, nullable=False)
    relation_id: Mapped[int] = mapped_column(
        ForeignKey("rr_relation.id", ondelete="RESTRICT"), nullable=False
    )
    expiry_date: Mapped[dt.date] = mapped_column(Date, nullable=False)
    status: Mapped[DomainStatus] = enum_column(
        DomainStatus, nullable=False, default=DomainStatus.active
    )
    renewal_years: Mapped[int | None] = mapped_column(Integer)
    notes: Mapped[str | None] = mapped_column(Text)
    #: When the registrar sync first found the name gone from the registry (2303) or in
    #: pendingDelete; cleared when the registry has it again. The sync deletes a domain only
    #: when a later run, ``REGISTRAR_SYNC_HOURS`` on, still finds it gone (``registry_sync``):
    #: one wrong answer (a misconfigured EPP_HOST, an OT&E registry) deletes nothing.
    registry_gone_since: Mapped[dt.datetime | None] = mapped_column(DateTime)
    created_at: Mapped[dt.datetime] = created_column()
    updated_at: Mapped[dt.datetime] = updated_column()

    relation: Mapped[Relation] = relationship("Relation", back_populates="domains")
    decisions: Mapped[list[RenewalDecision]] = relationship(
        "RenewalDecision",
        back_populates="domain",
        order_by="RenewalDecision.id",
        passive_deletes=True,
    )

    @property
    def unicode_name(self) -> str:
        """The name as people write it (IDN labels decoded); the stored name if undecodable."""
        return unicode_domain_name(self.name)

    def days_until_expiry(self, today: dt.date | None = None) -> int:
        return (self.expiry_date - (today or dt.date.today())).days

    def __str__(self) -> str:
        return self.unicode_name

    def __repr__(self) -> str:
        return f"<Domain {self.name} {self.expiry_date} {self.status.value}>"
