"""The product is a FAB addon: another FAB app enables it with one ADDON_MANAGERS line."""

from __future__ import annotations

import datetime as dt

import pytest

from renewal_reminder.addon import AddonStartupError
from renewal_reminder.models import Domain, Relation, RelationKind
from renewal_reminder.renewals.accounts import create_login
from tests.host_app import Note, create_host_app

PREFIX = "/renewal-reminder"


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
    # The product's pages live under its URL prefix, away from the host's own paths.
    assert client.get("/domains/list/").status_code == 404
    listing = client.get(f"{PREFIX}/domains/list/").get_data(as_text=True)
    assert "host-customer.com" in listing
    assert f'href="{PREFIX}/renewals/' in listing, "menu links follow the prefix"
    assert client.get(f"{PREFIX}/health/").json == {"status": "ok", "database": "ok"}
    client.get("/logout/")
    client.post(
        "/login/", data={"username": "client@host.example.com", "password": "client-password-1"}
    )
    assert "host-customer.com" in client.get(f"{PREFIX}/domains/list/").get_data(as_text=True)
    assert client.get("/notes/list/").status_code in (302, 403)  # not the client's screen
    # The product's CLI is one group on the host; the standalone app's aliases are not added.
    assert "renewals" in host_app.cli.commands
    assert not {"users", "domains", "demo", "reminders"} & set(host_app.cli.commands)
    assert {"users", "domains", "reminders", "db", "process"} <= set(
        host_app.cli.commands["renewals"].commands
    )


def test_addon_that_fails_stops_start_up(tmp_path):
    with pytest.raises(AddonStartupError, match="boom while registering views"):
        create_host_app(
            f"sqlite:///{tmp_path / 'broken.db'}",
            addon="tests.host_app.broken_addon.BrokenManager",
        )


def test_the_addon_changes_nothing_the_host_owns(host_app, tmp_path):
    """Compared with the same host without it: no app-wide CSRFProtect, hooks, error
    handlers, extensions or config keys from the addon; only its own blueprints, and one
    hook on every request, on purpose: the session check (``renewals.sessions``: a login's
    ended sessions must end on the host's pages too)."""
    bare = create_host_app(f"sqlite:///{tmp_path / 'bare.db'}", addon=None)
    assert "csrf" not in host_app.extensions and "mail" not in host_app.extensions
    assert set(host_app.extensions) - set(bare.extensions) == {"renewal_reminder"}
    assert set(host_app.config) == set(bare.config), "no config key written"
    assert _names(host_app.error_handler_spec[None]) == _names(bare.error_handler_spec[None])
    for hooks in ("before_request_funcs", "after_request_funcs", "teardown_request_funcs"):
        added_hooks = _names(getattr(host_app, hooks).get(None))
        if hooks == "before_request_funcs":
            assert added_hooks[-1] == "check_session"
            added_hooks = added_hooks[:-1]
        assert added_hooks == _names(getattr(bare, hooks).get(None))
    added = set(host_app.blueprints) - set(bare.blueprints)
    assert added and all(name.startswith("Renewals") for name in added), added
    with bare.app_context():
        bare.extensions["sqlalchemy"].engine.dispose()


def _names(registry):
    """Hooks or handlers by their functions' names (each app has its own function objects)."""
    if isinstance(registry, dict):
        return {key: _names(value) for key, value in registry.items()}
    if isinstance(registry, list):
        return [getattr(function, "__qualname__", repr(function)) for function in registry]
    return getattr(registry, "__qualname__", registry)


def test_host_get_delete_works_as_before_but_not_on_the_products_screens(host_app):
    """Without CSRFProtect FAB deletes on a GET (the host's choice, kept); the product's
    views never do."""
    with host_app.app_context():
        appbuilder = host_app.extensions["appbuilder"]
        sm = appbuilder.sm
        sm.add_user(
            "admin", "A", "B", "a@host.example.com", sm.find_role("Admin"), password="pw-123456789"
        )
        note = Note(text="to be deleted")
        relation = Relation(number=9, name="R", billing_email="r@host.example.com")
        appbuilder.session.add_all([note, relation])
        appbuilder.session.commit()
        note_id, relation_id = note.id, relation.id
    client = host_app.test_client()
    client.post("/login/", data={"username": "admin", "password": "pw-123456789"})
    client.get(f"/notes/delete/{note_id}")
    client.get(f"{PREFIX}/relations/delete/{relation_id}")
    with host_app.app_context():
        session = host_app.extensions["appbuilder"].session
        assert session.get(Note, note_id) is None, "the host's GET delete still works"
        assert session.get(Relation, relation_id) is not None, "the product's does not"


def test_products_posts_need_a_csrf_token_in_a_host_without_csrfprotect(tmp_path):
    app = create_host_app(f"sqlite:///{tmp_path / 'csrf.db'}", WTF_CSRF_ENABLED=True)
    with app.app_context():
        appbuilder = app.extensions["appbuilder"]
        sm = appbuilder.sm
        sm.add_user(
            "admin", "A", "B", "a@host.example.com", sm.find_role("Admin"), password="pw-123456789"
        )
        relation = Relation(number=9, name="R", billing_email="r@host.example.com")
        appbuilder.session.add(relation)
        appbuilder.session.commit()
        relation_id = relation.id
    client = app.test_client()
    login_page = client.get("/login/").get_data(as_text=True)
    token = login_page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    client.post(
        "/login/", data={"username": "admin", "password": "pw-123456789", "csrf_token": token}
    )
    refused = client.post(f"{PREFIX}/relations/delete/{relation_id}")
    assert refused.status_code == 400
    with app.app_context():
        assert app.extensions["appbuilder"].session.get(Relation, relation_id) is not None
    with app.app_context():
        app.extensions["sqlalchemy"].engine.dispose()


def test_email_links_follow_the_hosts_mount_point_and_the_url_prefix():
    from renewal_reminder import settings
    from renewal_reminder.renewals.mailer import MailSettings

    host = settings.read(
        {"RENEWALS_BASE_URL": "https://airflow.example.com/auth/", "MAIL_DEFAULT_SENDER": "a@b.c"}
    )
    mail = MailSettings.from_config(host)
    assert mail.url("/renewals/") == "https://airflow.example.com/auth/renewal-reminder/renewals/"
    assert mail.sender == "a@b.c"
    standalone = settings.read({"RENEWALS_BASE_URL": "http://x.test", "RENEWALS_URL_PREFIX": ""})
    assert MailSettings.from_config(standalone).url("/confirm/") == "http://x.test/confirm/"


def test_a_permission_the_host_grants_the_products_role_is_no_conflict(tmp_path):
    """Airflow grants every role "can read on Website": the product's roles included. The
    product remembers the roles it created, so the next start still works."""
    database = f"sqlite:///{tmp_path / 'grants.db'}"
    first = create_host_app(database)
    with first.app_context():
        sm = first.extensions["appbuilder"].sm
        sales = sm.find_role("Sales")
        sm.add_permission_role(sales, sm.find_permission_view_menu("can_list", "NoteView"))
        first.extensions["sqlalchemy"].engine.dispose()
    again = create_host_app(database)
    assert "renewal_reminder" in again.extensions
    with again.app_context():
        again.extensions["sqlalchemy"].engine.dispose()


def test_a_host_role_of_the_same_name_stops_start_up(tmp_path):
    database = f"sqlite:///{tmp_path / 'taken.db'}"
    bare = create_host_app(database, addon=None)
    with bare.app_context():
        sm = bare.extensions["appbuilder"].sm
        role = sm.add_role("Client")
        sm.add_permission_role(role, sm.find_permission_view_menu("can_list", "NoteView"))
        bare.extensions["sqlalchemy"].engine.dispose()
    with pytest.raises(AddonStartupError, match="RENEWALS_ROLE_CLIENT"):
        create_host_app(database)
    renamed = create_host_app(database, RENEWALS_ROLE_CLIENT="Renewals Client")
    with renamed.app_context():
        sm = renamed.extensions["appbuilder"].sm
        assert len(sm.find_role("Client").permissions) == 1
        assert "Client" not in sm.builtin_roles and "Renewals Client" in sm.builtin_roles
        renamed.extensions["sqlalchemy"].engine.dispose()


def test_importing_the_addon_has_no_side_effects():
    """No standalone factory, no Flask-Migrate, no FAB security model classes (Airflow maps
    its own on those tables), no app: importing only defines things."""
    import subprocess
    import sys

    probe = (
        "import sys, renewal_reminder.addon, renewal_reminder.models, renewal_reminder.cli\n"
        "print(sorted(m for m in ('renewal_reminder.standalone', 'flask_migrate', "
        "'flask_appbuilder.security.sqla.models', 'config') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]", result.stdout + result.stderr


def test_a_deleted_login_leaves_nothing_a_new_one_could_inherit(host_app):
    """SQLite without foreign keys (FAB's default) reuses the id of a deleted login: its link
    to a relation must go with it, or the next login would act for that relation."""
    from renewal_reminder.models import RelationUser

    with host_app.app_context():
        appbuilder = host_app.extensions["appbuilder"]
        session, sm = appbuilder.session, appbuilder.sm
        session.add(Relation(number=5, name="Customer", billing_email="c@host.example.com"))
        session.commit()
        login = create_login(
            session, sm, email="old@host.example.com", password="pw-old-1234567", relation_number=5
        )
        session.commit()
        old_id = login.id
        session.delete(login)
        session.commit()
        assert session.query(RelationUser).count() == 0
        newcomer = sm.add_user(
            "new", "N", "N", "new@host.example.com", sm.find_role("Client"), password="pw-123456789"
        )
        assert newcomer.id == old_id, "SQLite gave the new login the old id"
    client = host_app.test_client()
    client.post("/login/", data={"username": "new", "password": "pw-123456789"})
    assert "Customer" not in client.get(f"{PREFIX}/relations/list/").get_data(as_text=True)
