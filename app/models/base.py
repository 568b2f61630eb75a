"""Column helpers shared by the product's models.

Every model subclasses ``flask_appbuilder.Model`` (not ``db.Model``) so that the product's
tables share one metadata with FAB's ``ab_*`` tables and foreign keys to ``ab_user`` resolve.
"""

import datetime as dt
import enum

from sqlalchemy import DateTime, Enum
from sqlalchemy.orm import mapped_column


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
