"""The navbar's menu of the standalone app, rendered once per worker for the logins whose
roles are all builtin (Sales, Reseller, Client).

FAB renders ``appbuilder/navbar_menu.html`` on every page: a permission check, a translation
and a ``url_for`` for each item, about 0.6 ms a page (a twentieth of the renewal selection
page's time). For a builtin role the answer cannot change while the process runs: its
permissions are fixed in the configuration (``FAB_ROLES``, ``renewal_reminder.roles``) and the
menu is built at start-up. So the menu's HTML is kept per set of role names, language and URL
root. A login with any database role (Admin, or a host's own roles, whose permissions can be
changed on the Security screens at any time) and a visitor not signed in (the public role is a
database role too) get FAB's menu rendered afresh, as before.

The standalone's ``appbuilder/navbar.html`` calls ``rr_navbar_menu()`` where FAB's includes
the menu template.
"""

from __future__ import annotations

from flask import Flask, current_app, render_template, request
from flask_babel import get_locale
from flask_login import current_user
from markupsafe import Markup

MENU_TEMPLATE = "appbuilder/navbar_menu.html"
_CACHE_KEY = "rr_navbar_menu"


def install(app: Flask) -> None:
    """Make ``rr_navbar_menu()`` available to the app's templates."""
    app.jinja_env.globals["rr_navbar_menu"] = navbar_menu
    app.extensions[_CACHE_KEY] = {}


def navbar_menu() -> Markup:
    """The menu items of the navbar for the current user (FAB's template, same HTML)."""
    appbuilder = current_app.extensions["appbuilder"]
    key = _cache_key(appbuilder.sm)
    if key is None:
        return _render(appbuilder)
    cache: dict = current_app.extensions[_CACHE_KEY]
    if key not in cache:
        cache[key] = _render(appbuilder)
    return cache[key]


def _render(appbuilder) -> Markup:
    return Markup(render_template(MENU_TEMPLATE, menu=appbuilder.menu, appbuilder=appbuilder))


def _cache_key(security_manager) -> tuple | None:
    """What the menu depends on, or ``None`` when it must be rendered afresh: a visitor, or a
    login with a role whose permissions live in the database."""
    if not current_user.is_authenticated:
        return None
    names = frozenset(role.name for role in security_manager.get_user_roles(current_user))
    if not names or not names <= security_manager.builtin_roles.keys():
        return None
    return names, str(get_locale()), request.script_root
