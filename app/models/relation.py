"""Relations (customer accounts) and the link between FAB logins and relations."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String, event, select, update
from sqlalchemy.orm import Mapped, ORMExecuteState, Session, mapped_column, relationship
from sqlalchemy.orm import attributes as orm_attributes

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


# --- a new billing address revokes the customer links ------------------------------------------
#
# The personal link in a customer email (``renewals.customer_links``) opens the relation's page
# without a password; whoever reads the old address must lose it when the address changes. One
# rule, here, for every path that changes it: an ORM flush (the Admin screens, the CLI, code
# that edits a ``Relation``) and the portfolio import's bulk UPDATE by primary key.


def same_address(first: object, second: object) -> bool:
    """Whether two billing addresses are the same mailbox as far as customer links go:
    compared without surrounding blanks and case (``Info@X.nl`` is ``info@x.nl``). Every
    check of "is this still the relation's address" uses this one rule."""
    return _address(first) == _address(second)


def _address(value: object) -> str:
    return str(value or "").strip().lower()


@event.listens_for(Relation, "before_update")
def _new_address_new_links(_mapper, _connection, relation: Relation) -> None:
    history = orm_attributes.get_history(relation, "billing_email")
    if not history.has_changes() or not history.deleted:
        return
    if {_address(v) for v in history.deleted} != {_address(v) for v in history.added}:
        relation.link_version = (relation.link_version or 1) + 1


_CHUNK = 900  # ids per IN (...): SQLite allows 999 parameters


@event.listens_for(Session, "do_orm_execute")
def _bulk_new_addresses_new_links(state: ORMExecuteState):
    """``session.execute(update(Relation), [{"id": ..., "billing_email": ...}, ...])`` (ORM
    bulk UPDATE by primary key) runs no flush events: compare the addresses before and after
    it, and raise the link version of the relations whose address changed."""
    if not state.is_update or state.bind_mapper is None:
        return None
    if state.bind_mapper.class_ is not Relation:
        return None
    rows = state.parameters
    if isinstance(rows, dict):
        rows = [rows]
    if not rows or not all(
        isinstance(row, dict) and "id" in row and "billing_email" in row for row in rows
    ):
        return None
    ids = [row["id"] for row in rows]
    before: dict[int, str] = {}
    for start in range(0, len(ids), _CHUNK):
        rows_before = state.session.execute(
            select(Relation.id, Relation.billing_email).where(
                Relation.id.in_(ids[start : start + _CHUNK])
            )
        )
        before.update((relation_id, email) for relation_id, email in rows_before)
    result = state.invoke_statement()
    changed = sorted(
        row["id"]
        for row in rows
        if row["id"] in before and _address(before[row["id"]]) != _address(row["billing_email"])
    )
    table = Relation.__table__
    for start in range(0, len(changed), _CHUNK):
        state.session.execute(
            update(table)
            .where(table.c.id.in_(changed[start : start + _CHUNK]))
            .values(link_version=table.c.link_version + 1)
        )
    return result
