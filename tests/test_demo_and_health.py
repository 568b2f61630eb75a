"""Demo data, the /health endpoint, and the schema built by the migrations."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_appbuilder import Model
from sqlalchemy import func, select

from renewal_reminder import schema
from renewal_reminder.models import Base, Domain, Relation, RelationKind, RelationUser
from renewal_reminder.renewals.demo import DEMO_PASSWORDS
from tests.conftest import login


def _load(app, *args):
    return app.test_cli_runner().invoke(args=["demo", "load", *args])


def _demo_passwords(output: str) -> dict[str, str]:
    """{login: password} as printed by ``flask demo load``."""
    return dict(re.findall(r"^\s+\w+\s+(\S+@demo\.example) / (\S+)$", output, re.MULTILINE))


@pytest.mark.app_config(RENEWALS_DEMO_MODE=True)
def test_demo_load_creates_portfolio_and_logins(app, session, security_manager):
    result = _load(app)
    assert result.exit_code == 0, result.output
    printed = _demo_passwords(result.output)
    assert set(printed) == {login_name for login_name, _ in DEMO_PASSWORDS.values()}
    # Outside run.py the passwords are random, not the README's well-known ones.
    assert not set(printed.values()) & {password for _, password in DEMO_PASSWORDS.values()}

    relations = session.scalars(select(Relation)).all()
    assert any(r.kind is RelationKind.reseller and r.clients for r in relations)
    domains = session.scalars(select(Domain)).all()
    assert 45 <= len(domains) <= 60
    today = dt.date.today()
    days = [d.days_until_expiry(today) for d in domains]
    assert min(days) < 0, "some domains are already expired"
    assert max(days) <= 123, "domains spread over the next four months"
    assert any(d.name.startswith("xn--") for d in domains), "an IDN is included"
    for role, (login_name, _) in DEMO_PASSWORDS.items():
        user = security_manager.find_user(email=login_name)
        assert [r.name for r in user.roles] == [role]
    assert session.query(RelationUser).count() == 2

    again = _load(app)
    assert again.exit_code == 0 and "already loaded" in again.output
    assert _demo_passwords(again.output) == {}
    session.expire_all()
    assert session.query(Domain).count() == len(domains)


@pytest.mark.app_config(RENEWALS_DEMO_MODE=True)
def test_demo_logins_work(app, client, session, security_manager):
    printed = _demo_passwords(_load(app).output)
    login_name = DEMO_PASSWORDS["Client"][0]
    login(client, login_name, printed[login_name])
    body = client.get("/domains/list/").get_data(as_text=True)
    assert "acme-webdesign.com" in body and "northwind.example" not in body


def test_demo_load_is_refused_outside_demo_mode(app, session):
    result = _load(app)
    assert result.exit_code != 0 and "--force" in result.output
    assert session.scalar(select(func.count()).select_from(Relation)) == 0
    assert session.scalar(select(func.count()).select_from(Domain)) == 0


def test_demo_load_with_force_needs_an_empty_database(app, session, world):
    result = _load(app, "--force")
    assert result.exit_code != 0 and "already holds" in result.output
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Relation)) == 3


def test_demo_load_with_force_on_an_empty_database(app, session):
    result = _load(app, "--force")
    assert result.exit_code == 0, result.output
    assert session.scalar(select(func.count()).select_from(Domain)) >= 45


@pytest.mark.app_config(RENEWALS_DEMO_MODE=True)
def test_demo_load_is_all_or_nothing(app, session, security_manager, monkeypatch):
    """A failure while creating the last login leaves no relation, domain or login behind."""
    from renewal_reminder.renewals import demo

    real_create_login = demo.create_login

    def failing_create_login(*args, **kwargs):
        if kwargs.get("relation_number") == 2001:
            raise RuntimeError("disk full")
        return real_create_login(*args, **kwargs)

    monkeypatch.setattr(demo, "create_login", failing_create_login)
    result = _load(app)
    assert result.exit_code != 0
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Relation)) == 0
    assert session.scalar(select(func.count()).select_from(Domain)) == 0
    assert security_manager.find_user(email=DEMO_PASSWORDS["Admin"][0]) is None


def test_health_reports_database_ok(client):
    response = client.get("/health/")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok"}


def test_health_reports_a_broken_database(client, session, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("database is gone")

    monkeypatch.setattr(session, "execute", broken)
    response = client.get("/health/")
    assert response.status_code == 503
    assert response.json["database"] == "unreachable"


def test_migrations_build_exactly_the_models_schema(app, session):
    """`flask db upgrade` (run by the session fixture) leaves nothing for autogenerate to do:
    the standalone chain builds FAB's tables, the product's own chain the product's."""
    with session.get_bind().connect() as connection:
        fab = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                # Only FAB's tables (the host-app test adds its own).
                "include_object": lambda obj, name, type_, reflected, compare_to: (
                    type_ != "table" or name.startswith("ab_")
                ),
            },
        )
        assert compare_metadata(fab, Model.metadata) == []
        product = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_object": schema.include_object}
        )
        assert compare_metadata(product, Base.metadata) == []
        assert schema.is_up_to_date(connection)
