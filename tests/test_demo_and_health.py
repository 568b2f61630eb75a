"""Demo data, the /health endpoint, and the schema built by the migrations."""

from __future__ import annotations

import datetime as dt

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_appbuilder import Model
from sqlalchemy import select

from app.models import Domain, Relation, RelationKind, RelationUser
from app.renewals.demo import DEMO_PASSWORDS
from tests.conftest import login


def test_demo_load_creates_portfolio_and_logins(app, session, security_manager):
    result = app.test_cli_runner().invoke(args=["demo", "load"])
    assert result.exit_code == 0, result.output
    for login_name, password in DEMO_PASSWORDS.values():
        assert login_name in result.output and password in result.output

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

    again = app.test_cli_runner().invoke(args=["demo", "load"])
    assert again.exit_code == 0
    session.expire_all()
    assert session.query(Domain).count() == len(domains)


def test_demo_logins_work(app, client, session, security_manager):
    app.test_cli_runner().invoke(args=["demo", "load"])
    login_name, password = DEMO_PASSWORDS["Client"]
    login(client, login_name, password)
    body = client.get("/domains/list/").get_data(as_text=True)
    assert "acme-webdesign.com" in body and "northwind.example" not in body


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
    """`flask db upgrade` (run by the session fixture) leaves nothing for autogenerate to do."""
    with session.get_bind().connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                # Only the tables the standalone app owns (the host-app test adds its own).
                "include_object": lambda obj, name, type_, reflected, compare_to: (
                    type_ != "table" or name.startswith(("ab_", "rr_"))
                ),
            },
        )
        differences = compare_metadata(context, Model.metadata)
    assert differences == []
