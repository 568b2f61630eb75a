"""The product's declarative base, its own metadata, and column helpers.

The product's tables live on their own ``MetaData``, apart from the host's (FAB keeps its
``ab_*`` tables, and a host its own, on ``flask_appbuilder.Model.metadata``): the product's
migrations and ``create_all`` touch exactly these tables. Foreign keys name FAB's user table
(``ab_user.id``) by name; ``USER_TABLE`` below is only that name and key for this metadata,
never created by the product.

Relationships to users go to whatever class the host's security manager maps on ``ab_user``
(``appbuilder.sm.user_model``), which the addon hands to ``use_user_model`` when it starts.
The product never imports FAB's security model classes: a host such as Airflow maps its own
classes on those tables, and a second mapping of them breaks every login there.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import (
    Column,
    DateTime,
    Enum,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    Text,
    select,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, foreign, mapped_column, relationship

#: The table prefix of everything the product owns (tables, the migrations' version table).
TABLE_PREFIX = "rr_"

#: Constraint names as PostgreSQL gives them by default (which databases created before the
#: product had its own metadata already carry), so that every later migration can name them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "%(table_name)s_%(column_0_N_name)s_key",
    "fk": "%(table_name)s_%(column_0_N_name)s_fkey",
    "pk": "%(table_name)s_pkey",
}


class Base(DeclarativeBase):
    """The base of every model of the product (tables prefixed ``rr_``)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


#: FAB's user table, by name only, so that ``ForeignKey("ab_user.id")`` resolves here.
USER_TABLE = Table("ab_user", Base.metadata, Column("id", Integer, primary_key=True))


def product_tables() -> list[Table]:
    """The tables the product owns, in dependency order."""
    return [table for table in Base.metadata.sorted_tables if table.name.startswith(TABLE_PREFIX)]


class UserModelMissing(RuntimeError):
    """A relationship to users was used before the addon named the host's user model."""


_user_model: type | None = None


def use_user_model(user_model: type) -> None:
    """Relationships to users map to ``user_model`` (the host's ``sm.user_model``).

    Called by the addon at start-up, before the product's mappers are configured; a process
    serves one user model (every app in it shares the mapped classes)."""
    global _user_model
    if _user_model is None:
        _user_model = user_model
    elif _user_model is not user_model and not issubclass(user_model, _user_model):
        raise UserModelMissing(
            f"the product's models already map users to {_user_model.__name__}; "
            f"one process cannot also use {user_model.__name__}"
        )


def user_model() -> type:
    """The host's user class, as named by the addon (or found on the app in context)."""
    if _user_model is None and has_app_context() and "appbuilder" in current_app.extensions:
        use_user_model(current_app.extensions["appbuilder"].sm.user_model)
    if _user_model is None:
        raise UserModelMissing(
            "the product's models need the host's user model: enable the addon "
            "(ADDON_MANAGERS = ['renewal_reminder.addon.RenewalReminderManager']) first"
        )
    return _user_model


def role_model() -> type:
    """The host's role class (the target of its user model's ``roles``)."""
    return user_model().roles.property.mapper.class_


def user_ids_with_role(role_name: str) -> Select:
    """``SELECT`` of the ids of users who have the role named ``role_name``."""
    users, roles = user_model(), role_model()
    return select(users.id).join(users.roles).where(roles.name == role_name)


def user_relationship(foreign_key: Callable[[], Any]):
    """A many-to-one relationship to the host's user model through a column of this model,
    given lazily: ``user_relationship(lambda: Relation.sales_contact_id)``.

    Target and join are resolved when the mappers are configured (at the first query), by
    which time the addon has named the host's user model."""
    return relationship(
        user_model, primaryjoin=lambda: foreign(foreign_key()) == user_model().id, uselist=False
    )


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def enum_column(enum_class: type[enum.Enum], **kwargs):
    """Store an enum by its value, as a plain string with a CHECK constraint.

    Values (not names) keep the database readable and let SQL and CSV use ``'active'``.
    A non-native enum avoids PostgreSQL ENUM types, which Alembic handles poorly on change.
    """
    return mapped_column(
        Enum(
            enum_class,
            values_callable=lambda members: [member.value for member in members],
            native_enum=False,
            create_constraint=True,
            length=32,
            validate_strings=True,
            name=f"ck_{enum_class.__name__.lower()}",
        ),
        **kwargs,
    )


def created_column():
    return mapped_column(DateTime, nullable=False, default=utcnow)


def updated_column():
    return mapped_column(DateTime, nullable=False, default=utcnow, onupdate=utcnow)


class ClaimColumns:
    """The columns every outbox or send log has for the claim-then-send pattern
    (``renewals.claims``): who claimed it and when, when it went, how often it was tried,
    the last error."""

    claim_token: Mapped[str | None] = mapped_column(String(32))
    claimed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
