"""The standalone app's database: migrations, roles, permissions and (optionally) demo data.

The standalone app owns the whole database: FAB's ``ab_*`` tables, migrated by its
Flask-Migrate chain (``migrations/``), and the product's ``rr_*`` tables, migrated by the
product's own chain (``renewal_reminder.schema``). ``upgrade_database`` runs both, in that
order (the product's tables refer to ``ab_user``); ``flask db upgrade`` runs it.
"""

from __future__ import annotations

import click
import flask_migrate
from flask import Flask, current_app
from flask.cli import with_appcontext

from renewal_reminder import schema
from renewal_reminder.renewals.demo import (
    DEMO_PASSWORDS,
    DemoRefused,
    database_is_empty,
    demo_loaded,
    load_demo,
)
from renewal_reminder.renewals.email_templates import ensure_default_templates
from renewal_reminder.roles import ensure_host_roles, ensure_roles


def prepare_database(app: Flask, load_demo_data: bool = False) -> dict:
    """Apply migrations, create roles and permission rows, and load the demo if asked.

    Returns the demo logins ({role: (login, password)}); an empty dict without the demo. The
    demo of ``python run.py`` has the fixed passwords the README lists.
    """
    appbuilder = app.extensions["appbuilder"]
    upgrade_database(app)
    ensure_host_roles(appbuilder.sm)
    ensure_roles(appbuilder.sm)
    ensure_default_templates(appbuilder.session)
    appbuilder.add_permissions(update_perms=True)
    if load_demo_data:
        session = appbuilder.session
        if not demo_loaded(session) and not database_is_empty(session):
            raise DemoRefused(
                "the database already holds relations or domains that are not the demo's; "
                "python run.py loads its demo (with the README's passwords) only into an "
                "empty database or its own. Point DATABASE_URL elsewhere, or run the app "
                "as in the README's Production section."
            )
        load_demo(session, appbuilder.sm)
        appbuilder.session.commit()
        return DEMO_PASSWORDS
    return {}


def upgrade_database(app: Flask, revision: str = "head") -> list[str]:
    """FAB's tables to ``revision`` of the standalone chain, then the product's to its head.

    Returns the product's revisions that were applied."""
    flask_migrate.upgrade(revision=revision)
    return schema.upgrade(app.extensions["sqlalchemy"].engine)


def database_cli(flask_migrate_group: click.Group) -> click.Group:
    """Flask-Migrate's ``db`` group, whose ``upgrade`` also upgrades the product's tables."""
    group = click.Group("db", help=flask_migrate_group.help)
    for name, command in flask_migrate_group.commands.items():
        group.add_command(command, name)

    @group.command("upgrade")
    @click.argument("revision", default="head")
    @with_appcontext
    def upgrade_command(revision: str) -> None:
        """Upgrade FAB's tables (migrations/) and then the product's (its own migrations)."""
        applied = upgrade_database(current_app._get_current_object(), revision)
        click.echo(
            f"Renewal Reminder tables: applied {', '.join(applied)}."
            if applied
            else "Renewal Reminder tables: up to date."
        )

    return group
