"""Relations (customer accounts) and the link between FAB logins and relations."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    case,
    event,
    func,
    literal,
    select,
    update,
)
from sqlalchemy.orm import Mapped, ORMExecuteState, Session, mapped_column, relationship
from sqlalchemy.orm import attributes as orm_attributes
from sqlalchemy.sql.elements import BindParameter

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


#: Random first link versions stay below this, leaving room for a billion rotations (+1 each)
#: in a 32-bit INTEGER.
_FIRST_LINK_VERSIONS = 2**30


def first_link_version() -> int:
    """A new relation's first link version: random (1 .. 2**30), so a token naming a deleted
    relation's id and version matches a new relation with the same id only by a 1 in a
    billion chance. Rows made before this (and raw SQL inserts) have the server default of 1;
    what matters is that a *new* row never starts where a deleted one left off."""
    return secrets.randbelow(_FIRST_LINK_VERSIONS) + 1


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
    #: ``active_history``: the old address is loaded before a new one is set, even on an
    #: expired instance, so a change of address is always seen (``_new_address_new_links``).
    billing_email: Mapped[str] = mapped_column(String(254), nullable=False, active_history=True)
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
    #: billing email changes. A new relation starts at a random version
    #: (``first_link_version``), so that a link of a deleted relation never opens a new one
    #: that gets its id (SQLite reuses the highest id after a delete).
    link_version: Mapped[int] = mapped_column(
        Integer, nullable=False, default=first_link_version, server_default="1"
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
# rule, here, for every path through the ORM session that changes it: a flush (the Admin
# screens, the CLI, code that edits a ``Relation``, loaded or expired), the portfolio import's
# bulk UPDATE by primary key, and an UPDATE statement (``update(Relation).where(...)
# .values(billing_email=...)``). SQL run past the session (a raw connection, another program)
# is not seen: such a change must raise ``link_version`` itself.
#
# Invitations need no hook: one is open only while it is addressed to the relation's current
# billing address (``renewals.invitations.is_open``, with ``address_key``).


def same_address(first: object, second: object) -> bool:
    """Whether two billing addresses are the same mailbox as far as customer links go:
    compared without surrounding blanks and case (``Info@X.nl`` is ``info@x.nl``). Every
    check of "is this still the relation's address" uses this one rule."""
    return _address(first) == _address(second)


def _address(value: object) -> str:
    return str(value or "").strip().lower()


def address_key(column: Any) -> Any:
    """``same_address`` in SQL: compare ``address_key(a) == address_key(b)``. SQL's ``lower``
    and ``trim`` do less than Python's (ASCII letters, spaces), so where the two differ SQL
    sees a change: the safe side (a link revoked, an invitation closed)."""
    return func.lower(func.trim(column))


@event.listens_for(Relation, "before_update")
def _new_address_new_links(_mapper, _connection, relation: Relation) -> None:
    history = orm_attributes.get_history(relation, "billing_email")
    if not history.added:
        return
    # With ``active_history`` the old value is known; were it not, count it as a change.
    if not history.deleted or {_address(v) for v in history.deleted} != {
        _address(v) for v in history.added
    }:
        relation.link_version = (relation.link_version or 1) + 1


_CHUNK = 900  # ids per IN (...): SQLite allows 999 parameters


def _set_columns(statement: Any) -> dict[str, Any]:
    """``{column name: new value}`` of an UPDATE statement's SET clause (``.values()`` or
    ``.ordered_values()``)."""
    values = getattr(statement, "_values", None) or dict(
        getattr(statement, "_ordered_values", None) or ()
    )
    return {getattr(key, "name", None) or getattr(key, "key", key): v for key, v in values.items()}


def _updates_relations(state: ORMExecuteState) -> bool:
    if not state.is_update:
        return False
    if state.bind_mapper is not None:
        return state.bind_mapper.class_ is Relation
    table = getattr(state.statement, "table", None)
    return getattr(table, "name", None) == Relation.__tablename__


@event.listens_for(Session, "do_orm_execute")
def _bulk_new_addresses_new_links(state: ORMExecuteState):
    """UPDATE statements run no flush events.

    - ``session.execute(update(Relation).where(...).values(billing_email=...))``: the same
      statement raises ``link_version`` of each row whose address it changes (a ``CASE``
      comparing the old value with the new one, evaluated by the database row by row, in the
      one statement: nothing can come between);
    - ``session.execute(update(Relation), [{"id": ..., "billing_email": ...}, ...])`` (ORM
      bulk UPDATE by primary key, the import): compare the addresses before and after it, and
      raise the link version of the relations whose address changed."""
    if not _updates_relations(state):
        return None
    new_values = _set_columns(state.statement)
    if "billing_email" in new_values:
        return _statement_new_links(state, new_values)
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


def _statement_new_links(state: ORMExecuteState, new_values: dict[str, Any]):
    columns = state.statement.table.c  # the statement's own (ORM-annotated) table
    current = columns.link_version
    unchanged = new_values.get("link_version", current)
    new_address = new_values["billing_email"]
    if isinstance(new_address, BindParameter):  # a plain value: the SET's own bind is not reusable
        new_address = literal(new_address.effective_value, String())
    changed = address_key(columns.billing_email) != address_key(new_address)
    statement = state.statement.values(link_version=case((changed, current + 1), else_=unchanged))
    options = {}
    if state.execution_options.get("synchronize_session") == "evaluate":
        options["synchronize_session"] = "fetch"  # Python cannot evaluate the CASE
    return state.invoke_statement(statement=statement, execution_options=options)
