"""Relations (customer accounts) and the link between FAB logins and relations."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from renewal_reminder.models.base import (
    Base,
    created_column,
    enum_column,
    updated_column,
    user_relationship,
)
from renewal_reminder.models.enums import RelationKind

if TYPE_CHECKING:
    from renewal_reminder.models.domain import Domain


class Relation(Base):
    """A customer account: a reseller, or a client (end user), possibly under a reseller."""

    __tablename__ = "rr_relation"
    __table_args__ = (
        CheckConstraint("number > 0", name="ck_rr_relation_number_positive"),
        CheckConstraint(
            "parent_id IS NULL OR parent_id <> id", name="ck_rr_relation_not_own_parent"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[int] = mapped_column(Integer, unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    billing_email: Mapped[str] = mapped_column(String(254), nullable=False)
    kind: Mapped[RelationKind] = enum_column(
        RelationKind, nullable=False, default=RelationKind.client
    )
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("rr_relation.id", ondelete="RESTRICT"), index=True
    )
    sales_contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("ab_user.id", ondelete="SET NULL"), index=True
    )
    language: Mapped[str] = mapped_column(String(8), nullable=False, default="en")
    #: When true and the relation has a parent reseller, customer emails (reminders,
    #: confirmation requests) go to the reseller instead of the relation itself.
    reminders_to_reseller: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    #: The version of the relation's customer links (``renewals.customer_links``): raising it
    #: revokes every link sent so far. Raised from the relation's page and whenever the
    #: billing email changes.
    link_version: Mapped[int] = mapped_column(
        Integer, nullable=False, default=1, server_default="1"
    )
    created_at: Mapped[dt.datetime] = created_column()
    updated_at: Mapped[dt.datetime] = updated_column()

    parent: Mapped[Relation | None] = relationship(
        "Relation", remote_side=[id], back_populates="clients"
    )
    clients: Mapped[list[Relation]] = relationship("Relation", back_populates="parent")
    sales_contact = user_relationship(lambda: Relation.sales_contact_id)
    domains: Mapped[list[Domain]] = relationship("Domain", back_populates="relation")

    def __str__(self) -> str:
        return f"#{self.number} {self.name}"

    def __repr__(self) -> str:
        return f"<Relation {self.number} {self.name!r}>"


class RelationUser(Base):
    """Links a FAB login to the relation it acts for.

    A product-owned table instead of a custom User model: an addon cannot force its host
    application to change the security manager's user model.
    """

    __tablename__ = "rr_user_relation"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("ab_user.id", ondelete="CASCADE"), primary_key=True
    )
    relation_id: Mapped[int] = mapped_column(
        ForeignKey("rr_relation.id", ondelete="CASCADE"), nullable=False, index=True
    )

    user = user_relationship(lambda: RelationUser.user_id)
    relation: Mapped[Relation] = relationship("Relation")
