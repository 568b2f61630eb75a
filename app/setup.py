"""Bringing a database up to date: migrations, roles, permissions and (optionally) demo data."""

from __future__ import annotations

from flask import Flask
from flask_migrate import upgrade
from renewal_reminder.renewals.demo import DEMO_PASSWORDS, load_demo
from renewal_reminder.renewals.email_templates import ensure_default_templates
from renewal_reminder.roles import ensure_roles


def prepare_database(app: Flask, load_demo_data: bool = False) -> dict:
    """Apply migrations, create roles and permission rows, and load the demo if asked.

    Returns the demo logins ({role: (login, password)}); an empty dict without the demo. The
    demo of ``python run.py`` has the fixed passwords the README lists.
    """
    appbuilder = app.extensions["appbuilder"]
    upgrade()
    ensure_roles(appbuilder.sm)
    ensure_default_templates(appbuilder.session)
    appbuilder.add_permissions(update_perms=True)
    if load_demo_data:
        load_demo(appbuilder.session, appbuilder.sm)
        appbuilder.session.commit()
        return DEMO_PASSWORDS
    return {}
