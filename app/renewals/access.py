"""Who may see and change which relation's data: the one place that decides it.

Every entry point asks here: FAB's list/show/edit/delete through a base filter, bulk actions,
add and edit forms, custom pages, the CSV export, the CLI and the jobs. The one who asks is a
FAB login, or a ``LinkVisitor``: someone who opened the personal link in a customer email
(``renewals.customer_links``) and is no login at all. The answer is a SQL
subquery of relation ids (``None`` meaning "no restriction"), so a check is one indexed
``IN (...)`` in the same query, never a Python loop over rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from flask import current_app, has_app_context
from sqlalchemy import Select, false, or_, select
from sqlalchemy.orm import Session, aliased

from renewal_reminder.models import Domain, Relation, RelationUser


@dataclass(frozen=True)
class RoleNames:
    """What the roles are called in this host: the admin role is the host's own
    (``AUTH_ROLE_ADMIN``); the product's three are configurable (``RENEWALS_ROLE_*``)."""

    admin: str = "Admin"
    sales: str = "Sales"
    reseller: str = "Reseller"
    client: str = "Client"

    @property
    def staff(self) -> tuple[str, str]:
        return (self.admin, self.sales)

    @property
    def customers(self) -> tuple[str, str]:
        return (self.reseller, self.client)

    @property
    def product(self) -> tuple[str, str, str]:
        """The roles the product defines (FAB builtin roles)."""
        return (self.sales, self.reseller, self.client)


DEFAULT_ROLES = RoleNames()


def current_roles() -> RoleNames:
    """The role names of the app in context (the defaults outside one)."""
    if not has_app_context():
        return DEFAULT_ROLES
    state = current_app.extensions.get("renewal_reminder")
    return state.roles if state is not None else DEFAULT_ROLES


class AccessDenied(Exception):
    """Raised when a user asks for a row outside their scope; entry points answer 404."""


@dataclass(frozen=True)
class LinkVisitor:
    """Whoever opened a relation's personal link (``renewals.customer_links``): not a login
    (no id, no roles, so every role check says no and FAB's screens stay closed), seeing
    exactly what the relation's own customer login would: the relation and its clients."""

    relation_id: int
    id: None = None
    roles: tuple = ()


def is_link_visitor(user: object) -> bool:
    return isinstance(user, LinkVisitor)


class _RoleLike(Protocol):
    name: str


class UserLike(Protocol):
    id: int
    roles: list[_RoleLike]


def role_names(user: UserLike | None) -> set[str]:
    if user is None or getattr(user, "id", None) is None:
        return set()
    return {role.name for role in user.roles}


def is_admin(user: UserLike | None) -> bool:
    return current_roles().admin in role_names(user)


def is_staff(user: UserLike | None) -> bool:
    """Admin or Sales: people who work for the reseller, not its customers."""
    return bool(role_names(user) & set(current_roles().staff))


def visible_relation_ids(user: UserLike | None) -> Select | None:
    """The ids of the relations ``user`` may see, or ``None`` when they may see all.

    - Admin: everything.
    - Sales: relations assigned to them, and the clients of resellers assigned to them.
    - Reseller and Client: the relation their login is linked to, and its clients.
    - A ``LinkVisitor``: the relation of the link, and its clients.
    - Anyone else (anonymous, no role, no link): nothing.
    A user with several roles sees the union.
    """
    if isinstance(user, LinkVisitor):
        return select(Relation.id).where(
            or_(Relation.id == user.relation_id, Relation.parent_id == user.relation_id)
        )
    names = role_names(user)
    roles = current_roles()
    if roles.admin in names:
        return None
    conditions = []
    if roles.sales in names:
        reseller = aliased(Relation)
        assigned_resellers = select(reseller.id).where(reseller.sales_contact_id == user.id)
        conditions.append(Relation.sales_contact_id == user.id)
        conditions.append(Relation.parent_id.in_(assigned_resellers))
    if names.intersection(roles.customers):
        linked = select(RelationUser.relation_id).where(RelationUser.user_id == user.id)
        conditions.append(Relation.id.in_(linked))
        conditions.append(Relation.parent_id.in_(linked))
    if not conditions:
        return select(Relation.id).where(false())
    return select(Relation.id).where(or_(*conditions))


def visible_domain_ids(user: UserLike | None) -> Select | None:
    """The ids of the domains ``user`` may see (``None``: all); see ``visible_relation_ids``."""
    relations = visible_relation_ids(user)
    if relations is None:
        return None
    return select(Domain.id).where(Domain.relation_id.in_(relations))


def scoped_domains(user: UserLike | None) -> Select:
    """``SELECT Domain`` restricted to what ``user`` may see; add filters and ordering to it."""
    query = select(Domain)
    relations = visible_relation_ids(user)
    if relations is not None:
        query = query.where(Domain.relation_id.in_(relations))
    return query


def can_access_relation(session: Session, user: UserLike | None, relation_id: int | None) -> bool:
    if relation_id is None:
        return False
    relations = visible_relation_ids(user)
    query = select(Relation.id).where(Relation.id == relation_id)
    if relations is not None:
        query = query.where(Relation.id.in_(relations))
    return session.scalar(query) is not None


def get_domain_for(session: Session, user: UserLike | None, domain_id: int) -> Domain:
    """Load one domain if ``user`` may see it; otherwise raise ``AccessDenied``.

    Missing and forbidden look the same to the caller, so ids cannot be probed.
    """
    domain = session.scalar(scoped_domains(user).where(Domain.id == domain_id))
    if domain is None:
        raise AccessDenied(f"domain {domain_id} not found")
    return domain


def require_relation(session: Session, user: UserLike | None, relation_id: int | None) -> None:
    if not can_access_relation(session, user, relation_id):
        raise AccessDenied(f"relation {relation_id} not found")


def linked_relation(session: Session, user: UserLike | None) -> Relation | None:
    """The relation a customer login (or a ``LinkVisitor``) acts for, if any."""
    if isinstance(user, LinkVisitor):
        return session.get(Relation, user.relation_id)
    if user is None or getattr(user, "id", None) is None:
        return None
    return session.scalar(
        select(Relation)
        .join(RelationUser, RelationUser.relation_id == Relation.id)
        .where(RelationUser.user_id == user.id)
    )
