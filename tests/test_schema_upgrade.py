"""The product's own schema: its migrations, its version table, and databases from before.

Before 2026-12 the standalone app's migrations built FAB's tables and the product's in one
chain, under Alembic's default ``alembic_version``; ``tests/fixtures/legacy_schema`` holds
those migrations as they were. A database built by them, with data in it, must upgrade in
place to the new layout (FAB's chain for ``ab_*``, the product's for ``rr_*``) with nothing
lost.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from flask_appbuilder import Model
from sqlalchemy import UniqueConstraint, create_engine, inspect, text

from renewal_reminder import schema
from renewal_reminder.models import Base
from renewal_reminder.setup import prepare_database
from renewal_reminder.standalone import create_app
from tests.conftest import _test_config

LEGACY = Path(__file__).resolve().parent / "fixtures" / "legacy_schema"
LEGACY_HEAD = "65fe56cd217f"


def _build_legacy_database(url: str) -> None:
    """The schema as the standalone app's migrations left it at LEGACY_HEAD, with data."""
    engine = create_engine(url)
    config = Config()
    config.set_main_option("script_location", str(LEGACY))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, LEGACY_HEAD)
    now = dt.datetime(2026, 11, 20, 12, 0)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO ab_user (id, first_name, last_name, username, email, active, "
                "created_on, changed_on) VALUES (7, 'Sam', 'Sales', 'sam@example.com', "
                "'sam@example.com', true, :now, :now)"
            ),
            {"now": now},
        )
        connection.execute(
            text(
                "INSERT INTO rr_relation (id, number, name, billing_email, kind, "
                "sales_contact_id, language, reminders_to_reseller, created_at, updated_at) "
                "VALUES (1, 4242, 'Legacy BV', 'billing@legacy.example', 'client', 7, 'nl', "
                "false, :now, :now)"
            ),
            {"now": now},
        )
        connection.execute(
            text(
                "INSERT INTO rr_domain (id, name, relation_id, expiry_date, status, "
                "renewal_years, notes, created_at, updated_at) VALUES (1, 'legacy.example', "
                "1, '2027-01-15', 'renewal_confirmed', 2, 'kept', :now, :now)"
            ),
            {"now": now},
        )
        connection.execute(
            text(
                "INSERT INTO rr_renewal_decision (domain_id, expiry_date, decision, years, "
                "channel, decided_at, state) VALUES (1, '2027-01-15', 'renew', 2, "
                "'selection_page', :now, 'queued')"
            ),
            {"now": now},
        )
    engine.dispose()


def _differences(connection) -> list:
    """What autogenerate would change in the product's tables, ignoring one thing only:
    SQLite keeps no name for a ``UNIQUE`` written inline on a column, which the old
    migrations did, so such a constraint that exists unnamed is the same constraint."""
    product = MigrationContext.configure(
        connection, opts={"compare_type": True, "include_object": schema.include_object}
    )
    differences = compare_metadata(product, Base.metadata)
    if connection.dialect.name != "sqlite":
        return differences
    inspector = inspect(connection)

    def exists_unnamed(constraint) -> bool:
        columns = [column.name for column in constraint.columns]
        return any(
            found["name"] is None and found["column_names"] == columns
            for found in inspector.get_unique_constraints(constraint.table.name)
        )

    return [
        difference
        for difference in differences
        if not (
            difference[0] == "add_constraint"
            and isinstance(difference[1], UniqueConstraint)
            and exists_unnamed(difference[1])
        )
    ]


def _app(url: str):
    return create_app(_test_config(url, FAB_UPDATE_PERMS=True))


def test_a_legacy_database_upgrades_in_place_with_nothing_lost(empty_database_url):
    url = empty_database_url
    _build_legacy_database(url)
    app = _app(url)
    with app.app_context():
        prepare_database(app)  # what `flask db upgrade` and `python run.py` do
        engine = app.extensions["sqlalchemy"].engine
        with engine.connect() as connection:
            versions = {
                "standalone": connection.scalar(text("SELECT version_num FROM alembic_version")),
                "product": schema.current_revision(connection),
            }
            assert versions == {"standalone": LEGACY_HEAD, "product": schema.head_revision()}
            relation = connection.execute(
                text("SELECT number, name, sales_contact_id, language FROM rr_relation")
            ).one()
            assert tuple(relation) == (4242, "Legacy BV", 7, "nl")
            domain = connection.execute(
                text("SELECT name, expiry_date, status, renewal_years, notes FROM rr_domain")
            ).one()
            assert (domain[0], str(domain[1]), domain[2], domain[3], domain[4]) == (
                "legacy.example",
                "2027-01-15",
                "renewal_confirmed",
                2,
                "kept",
            )
            decision = connection.execute(
                text("SELECT decision, years, state FROM rr_renewal_decision")
            ).one()
            assert tuple(decision) == ("renew", 2, "queued")
            # The upgraded schema is exactly what the models describe.
            assert _differences(connection) == []
        engine.dispose()


def test_a_fresh_database_gets_both_chains(empty_database_url):
    app = _app(empty_database_url)
    with app.app_context():
        prepare_database(app)
        engine = app.extensions["sqlalchemy"].engine
        with engine.connect() as connection:
            tables = set(inspect(connection).get_table_names())
            assert {"ab_user", "rr_domain", "alembic_version", schema.VERSION_TABLE} <= tables
            assert schema.is_up_to_date(connection)
            fab = MigrationContext.configure(
                connection,
                opts={
                    "include_object": lambda obj, name, type_, *_: (
                        type_ != "table" or name.startswith("ab_")
                    )
                },
            )
            assert compare_metadata(fab, Model.metadata) == []
        # Running it again changes nothing.
        assert schema.upgrade(engine) == []
        engine.dispose()


def test_the_product_migrations_touch_only_product_tables():
    assert schema.include_object(None, "rr_domain", "table", False, None)
    assert not schema.include_object(None, "ab_user", "table", False, None)
    assert not schema.include_object(None, "notes", "table", False, None)
    assert schema.VERSION_TABLE == "alembic_version_rr"


def test_a_legacy_database_older_than_the_baseline_is_refused_not_stamped(empty_database_url):
    """Stopped half-way in the old chain (no sales digest log yet): stamping it at the
    baseline would skip tables it lacks, so the upgrade stops with a clear message."""
    import pytest

    engine = create_engine(empty_database_url)
    config = Config()
    config.set_main_option("script_location", str(LEGACY))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "bdaa198386db")
    with pytest.raises(schema.SchemaTooOld, match="rr_sales_digest_log"):
        schema.upgrade(engine)
    with engine.connect() as connection:
        assert schema.current_revision(connection) is None
    engine.dispose()
