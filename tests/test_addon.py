"""The product is a FAB addon: another FAB app enables it with one ADDON_MANAGERS line."""

from __future__ import annotations

import datetime as dt

import pytest

from renewal_reminder.addon import AddonStartupError
from renewal_reminder.models import Domain, Relation, RelationKind
from renewal_reminder.renewals.accounts import create_login
from tests.host_app import Note, create_host_app


@pytest.fixture
def host_app(tmp_path):
    app = create_host_app(f"sqlite:///{tmp_path / 'host.db'}")
    yield app
    with app.app_context():
        app.extensions["sqlalchemy"].engine.dispose()


def test_host_app_serves_its_own_screens_and_the_products(host_app):
    appbuilder = host_app.extensions["appbuilder"]
    assert "renewal_reminder.addon.RenewalReminderManager" in appbuilder.addon_managers
    with host_app.app_context():
        session = appbuilder.session
        sm = appbuilder.sm
        # Roles were created by the addon on the host's database.
        for role in ("Admin", "Sales", "Reseller", "Client", "Public"):
            assert sm.find_role(role) is not None, role
        admin = sm.add_user(
            "host-admin",
            "Host",
            "Admin",
            "admin@host.example.com",
            sm.find_role("Admin"),
            password="host-admin-password",
        )
        assert admin
        relation = Relation(
            number=7,
            name="Host Customer",
            billing_email="c@host.example.com",
            kind=RelationKind.client,
        )
        session.add(relation)
        session.add(
            Domain(
                name="host-customer.com",
                relation=relation,
                expiry_date=dt.date.today() + dt.timedelta(days=40),
            )
        )
        session.add(Note(text="a host note"))
        session.commit()
        client_login = create_login(
            session,
            sm,
            email="client@host.example.com",
            password="client-password-1",
            relation_number=7,
        )
        session.commit()
        assert [r.name for r in client_login.roles] == ["Client"]

    client = host_app.test_client()
    client.post("/login/", data={"username": "host-admin", "password": "host-admin-password"})
    assert "a host note" in client.get("/notes/list/").get_data(as_text=True)
    assert "host-customer.com" in client.get("/domains/list/").get_data(as_text=True)
    assert client.get("/health/").json == {"status": "ok", "database": "ok"}
    client.get("/logout/")
    client.post(
        "/login/", data={"username": "client@host.example.com", "password": "client-password-1"}
    )
    assert "host-customer.com" in client.get("/domains/list/").get_data(as_text=True)
    assert client.get("/notes/list/").status_code in (302, 403)  # not the client's screen
    # The product's CLI commands are registered on the host too.
    assert {"users", "domains", "demo"} <= set(host_app.cli.commands)


def test_addon_that_fails_stops_start_up(tmp_path):
    with pytest.raises(AddonStartupError, match="boom while registering views"):
        create_host_app(
            f"sqlite:///{tmp_path / 'broken.db'}",
            addon="tests.host_app.broken_addon.BrokenManager",
        )


def test_addon_registers_csrf_protection_when_the_host_did_not(host_app):
    assert "csrf" in host_app.extensions
