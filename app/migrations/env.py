"""Alembic environment of the product's own migrations.

Upgrades do not come through here (``renewal_reminder.schema.upgrade`` runs the scripts on
the caller's connection); this file serves ``flask renewals db revision --autogenerate``, which
compares the product's metadata with a database and writes a new script. Only the product's
``rr_*`` tables are compared (``include_object``), and the version table is its own.
"""

from alembic import context
from sqlalchemy import engine_from_config, pool

from renewal_reminder.models import Base
from renewal_reminder.schema import VERSION_TABLE, include_object


def run() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run_on(connection)
        return
    engine = engine_from_config(
        context.config.get_section(context.config.config_ini_section, {}),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with engine.connect() as connection:
        _run_on(connection)


def _run_on(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        version_table=VERSION_TABLE,
        include_object=include_object,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run()
