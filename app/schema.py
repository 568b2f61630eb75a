"""The product's own schema: its Alembic migrations, shipped inside the package.

The pattern of Airflow's FAB provider: the addon owns its tables (``rr_*``) and migrates them
with its own migration scripts (``renewal_reminder/migrations/versions``) and its own version
table (``alembic_version_rr``), so it never touches the host's tables or the host's
``alembic_version``. ``upgrade`` is what ``flask renewals db upgrade`` runs, what the addon
runs at start-up when the host lets FAB create tables (``FAB_CREATE_DB``), and what the
standalone app's ``flask db upgrade`` runs after FAB's own tables.

A database from before this layout (the product's tables made by the standalone app's old
migrations, or by ``create_all`` at start-up) has the baseline schema without the version
table: ``upgrade`` stamps it at the baseline first, then applies what came later.
"""

from __future__ import annotations

import contextlib
import zlib
from collections.abc import Iterator
from pathlib import Path

from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.operations import Operations
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text

from renewal_reminder.models import Base
from renewal_reminder.models.base import TABLE_PREFIX

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "alembic_version_rr"
#: The schema as it was when the product got its own migrations (2026-12).
BASELINE_REVISION = "rr0001"
#: A table every version of the schema has: its presence without the version table means a
#: database from before the product had its own migrations.
_ALWAYS_PRESENT = "rr_domain"
#: What such a database has when it is at the baseline (the last steps of the old chain:
#: the sales digest log, claims on decisions, one queued decision per domain); anything less
#: is older, and stamping it would skip what it lacks.
_BASELINE_TABLES = {
    "rr_relation",
    "rr_domain",
    "rr_user_relation",
    "rr_renewal_decision",
    "rr_reminder_log",
    "rr_email_template",
    "rr_job_run",
    "rr_confirmation_request",
    "rr_sales_digest_log",
}
_BASELINE_INDEX = ("rr_renewal_decision", "uq_rr_renewal_decision_queued")
_BASELINE_COLUMN = ("rr_renewal_decision", "claimed_at")


class SchemaTooOld(RuntimeError):
    """The product's tables predate its own migrations and are older than their baseline."""


#: PostgreSQL advisory lock key: two processes upgrading at once take turns.
_LOCK_KEY = zlib.crc32(VERSION_TABLE.encode())


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """What the product's migrations may create, change or drop: its own tables only."""
    if type_ == "table":
        return bool(name) and name.startswith(TABLE_PREFIX)
    table = getattr(obj, "table", None)
    return table is None or table.name.startswith(TABLE_PREFIX)


def alembic_config() -> Config:
    """An Alembic config for the product's migrations (for ``revision --autogenerate``)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("version_table", VERSION_TABLE)
    return config


def script_directory() -> ScriptDirectory:
    return ScriptDirectory(str(MIGRATIONS_DIR))


def current_revision(connection: Connection) -> str | None:
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


def head_revision() -> str:
    return script_directory().get_current_head()


def upgrade(bind: Engine | Connection, revision: str = "head") -> list[str]:
    """Bring the product's tables to ``revision``; returns the revisions applied (in order).

    Given an engine it commits; given a connection the caller owns the transaction."""
    if isinstance(bind, Engine):
        with bind.begin() as connection:
            return upgrade(connection, revision)
    connection = bind
    script = script_directory()
    with _exclusive(connection):
        applied: list[str] = []
        context = MigrationContext.configure(
            connection,
            opts={
                "version_table": VERSION_TABLE,
                "target_metadata": Base.metadata,
                "render_as_batch": True,
                "fn": lambda current, _ctx: _steps(script, revision, current, applied),
            },
        )
        if context.get_current_revision() is None and _has_legacy_tables(connection):
            _check_legacy_is_at_baseline(connection)
            context.stamp(script, BASELINE_REVISION)
        with Operations.context(context):
            context.run_migrations()
        return applied


def _steps(script: ScriptDirectory, destination: str, current, applied: list[str]):
    steps = script._upgrade_revs(destination, current)
    applied.extend(step.revision.revision for step in steps)
    return steps


def _has_legacy_tables(connection: Connection) -> bool:
    return inspect(connection).has_table(_ALWAYS_PRESENT)


def _check_legacy_is_at_baseline(connection: Connection) -> None:
    inspector = inspect(connection)
    missing = sorted(_BASELINE_TABLES - set(inspector.get_table_names()))
    table, index = _BASELINE_INDEX
    if not missing and index not in {i["name"] for i in inspector.get_indexes(table)}:
        missing.append(f"index {index}")
    table, column = _BASELINE_COLUMN
    if not missing and column not in {c["name"] for c in inspector.get_columns(table)}:
        missing.append(f"column {table}.{column}")
    if missing:
        raise SchemaTooOld(
            "the Renewal Reminder tables in this database are older than the release that "
            f"introduced its own migrations (missing: {', '.join(missing)}). Upgrade them with "
            "the 2026-11 release first (its `flask db upgrade`), then with this one."
        )


def is_up_to_date(connection: Connection) -> bool:
    return current_revision(connection) == head_revision()


@contextlib.contextmanager
def _exclusive(connection: Connection) -> Iterator[None]:
    """One upgrade at a time across processes (several workers starting at once)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    yield
