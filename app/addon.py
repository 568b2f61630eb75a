"""The Flask-AppBuilder addon manager: everything the product brings into a FAB application.

A host enables the product with one line::

    ADDON_MANAGERS = ["renewal_reminder.addon.RenewalReminderManager"]

FAB imports the manager, constructs it, then calls ``pre_process``, ``register_views`` and
``post_process`` inside a ``try`` that only *logs* exceptions: a broken addon would leave the
app running without its screens. FAB constructs the manager outside that ``try``, so all the
work happens in ``__init__`` and any failure stops start-up with the error.
"""

from __future__ import annotations

import logging

from flask import current_app, request
from flask_appbuilder.basemanager import BaseManager
from flask_mail import Mail
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import event, inspect
from sqlalchemy.exc import DataError

from renewal_reminder import schema
from renewal_reminder.models.base import use_user_model
from renewal_reminder.renewals.automation import AutomationSettings
from renewal_reminder.renewals.codes import CodeSettings
from renewal_reminder.renewals.email_templates import ensure_default_templates
from renewal_reminder.renewals.registrars import InvalidBackend, get_backend
from renewal_reminder.renewals.reminders import ReminderSettings
from renewal_reminder.roles import BUILTIN_ROLES, MENU_CATEGORY, ensure_roles
from renewal_reminder.session import REGISTRAR_EXTENSION
from renewal_reminder.views.fab_guard import check_fab_arguments

log = logging.getLogger(__name__)

#: Settings the product reads, with their defaults; a host's own config wins.
DEFAULT_SETTINGS = {
    "BASE_URL": "http://127.0.0.1:5000",
    "MAIL_DEFAULT_SENDER": "renewals@localhost",
    "REMINDER_OFFSETS": "3m,2m,1m,15d,5d,4d,3d,2d,1d,0d",
    "REMINDER_CATCHUP_DAYS": 7,
    "REMINDER_INTERVAL_HOURS": 24,
    "REMINDER_BCC": "",
    "RENEWAL_WINDOW_DAYS": 92,
    "CONFIRMATION_CODE_DAYS": 30,
    "CONFIRMATION_RATE_LIMIT": "10 per minute;100 per day",
    "REGISTRAR_BACKEND": "manual",
    "AUTO_EXECUTE_RENEWALS": False,
    "AUTO_DELETE": False,
    "DELETION_GRACE_DAYS": 0,
}


class AddonStartupError(RuntimeError):
    """The product could not be installed into the FAB application."""


class RenewalReminderManager(BaseManager):
    def __init__(self, appbuilder) -> None:
        super().__init__(appbuilder)
        try:
            self._install()
        except AddonStartupError:
            raise
        except Exception as exc:
            raise AddonStartupError(f"Renewal Reminder addon failed to start: {exc}") from exc

    # FAB's hooks stay as the no-ops of BaseManager: see the module docstring.

    def _install(self) -> None:
        app = current_app
        # Relationships to users map to the host's own user class (never FAB's by import).
        use_user_model(self.appbuilder.sm.user_model)
        for key, value in DEFAULT_SETTINGS.items():
            app.config.setdefault(key, value)
        self._check_settings(app)
        try:
            app.extensions[REGISTRAR_EXTENSION] = get_backend(app.config)
        except InvalidBackend as exc:
            raise AddonStartupError(str(exc)) from None
        self._secure(app)
        if "mail" not in app.extensions:
            Mail(app)
        self._install_roles()
        self._install_tables()
        self._register_views()
        self._register_cli(app)

    @staticmethod
    def _check_settings(app) -> None:
        """Bad reminder settings stop start-up with the reason, not a failing job at night."""
        try:
            ReminderSettings.from_config(app.config)
            CodeSettings.from_config(app.config)
            AutomationSettings.from_config(app.config)
            hours = float(app.config["REMINDER_INTERVAL_HOURS"])
        except (ValueError, TypeError) as exc:
            raise AddonStartupError(f"invalid reminder settings: {exc}") from None
        if hours <= 0:
            raise AddonStartupError("REMINDER_INTERVAL_HOURS must be more than 0")

    def _secure(self, app) -> None:
        """CSRF on every form post (FAB registers none, and without it FAB deletes a row on a
        plain GET), the login rate limit on FAB's JSON login too, clean answers to numbers
        that overflow the database's integers, and foreign keys plus a busy timeout on
        SQLite."""
        sm = self.appbuilder.sm
        if sm.is_auth_limited:  # FAB limits only the login form; its API login stays open
            for view in self.appbuilder.baseviews:
                if isinstance(view, sm.security_api) and getattr(view, "blueprint", None):
                    sm.limiter.limit(sm.auth_rate_limit, methods=["POST"])(view.blueprint)
        app.register_error_handler(OverflowError, self._no_such_row)
        app.register_error_handler(DataError, self._no_such_row)
        # 400/404 where FAB's generic routes would raise on odd URL arguments (500).
        app.before_request(check_fab_arguments)
        csrf = app.extensions.get("csrf")
        if csrf is None:
            csrf = CSRFProtect(app)
            # FAB exempts its JSON APIs only when CSRFProtect exists before they register.
            for view in self.appbuilder.baseviews:
                if getattr(view, "csrf_exempt", False) and getattr(view, "blueprint", None):
                    csrf.exempt(view.blueprint)
        engine = self.appbuilder.session.get_bind()
        if engine.dialect.name == "sqlite" and not event.contains(
            engine, "connect", _sqlite_pragmas
        ):
            event.listen(engine, "connect", _sqlite_pragmas)
            engine.dispose()  # pooled connections were opened without the pragmas

    def _no_such_row(self, error):
        """An id or number too large for the database (SQLite: OverflowError; PostgreSQL:
        DataError) cannot name a row: answer 404, not 500."""
        self.appbuilder.session.rollback()
        return "Not found", 404

    def _install_roles(self) -> None:
        builtin = self.appbuilder.sm.builtin_roles
        for name, permissions in BUILTIN_ROLES.items():
            builtin.setdefault(name, permissions)  # a host's own definition wins

    def _install_tables(self) -> None:
        """Bring the product's tables up to date where the schema is managed at start-up.

        With ``FAB_CREATE_DB`` (FAB's default) a host lets FAB create missing tables when it
        starts; the product then applies its own migrations (``renewal_reminder.schema``) to
        its own tables. A host that manages its schema itself (``FAB_CREATE_DB = False``) runs
        ``flask renewals db upgrade`` instead.
        """
        session = self.appbuilder.session
        engine = session.get_bind()
        if current_app.config.get("FAB_CREATE_DB", True):
            schema.upgrade(engine)
        existing = set(inspect(engine).get_table_names())
        if "ab_role" in existing:
            ensure_roles(self.appbuilder.sm)
        if "rr_email_template" in existing:
            ensure_default_templates(session)

    def _register_views(self) -> None:
        from renewal_reminder.views.admin import (
            ConfirmationRequestView,
            DomainView,
            RelationView,
            RenewalDecisionView,
        )
        from renewal_reminder.views.confirmation import ConfirmationView, too_many_attempts
        from renewal_reminder.views.expirations import ExpirationListView
        from renewal_reminder.views.health import HealthView
        from renewal_reminder.views.portfolio import PortfolioImportView
        from renewal_reminder.views.queue import RenewalQueueView
        from renewal_reminder.views.reminders import EmailTemplateView, ReminderLogView
        from renewal_reminder.views.selection import RenewalSelectionView

        ab = self.appbuilder
        ab.add_view(
            RenewalSelectionView,
            "Renew domains",
            href="/renewals/",
            icon="fa-check-square-o",
            category=MENU_CATEGORY,
            category_icon="fa-refresh",
        )
        ab.add_view(
            RenewalQueueView,
            "Renewal queue",
            href="/queue/",
            icon="fa-tasks",
            category=MENU_CATEGORY,
        )
        ab.add_view(
            RelationView,
            "Relations",
            icon="fa-address-book",
            category=MENU_CATEGORY,
            category_icon="fa-refresh",
        )
        ab.add_view(DomainView, "Domains", icon="fa-globe", category=MENU_CATEGORY)
        ab.add_view(
            ExpirationListView,
            "Expiration list",
            href="/expirations/",
            icon="fa-calendar",
            category=MENU_CATEGORY,
        )
        ab.add_view(
            RenewalDecisionView, "Renewal decisions", icon="fa-history", category=MENU_CATEGORY
        )
        ab.add_view(
            ConfirmationRequestView,
            "Confirmation requests",
            icon="fa-key",
            category=MENU_CATEGORY,
        )
        ab.add_view(
            PortfolioImportView, "Import portfolio", icon="fa-upload", category=MENU_CATEGORY
        )
        ab.add_view(
            EmailTemplateView, "Email templates", icon="fa-envelope", category=MENU_CATEGORY
        )
        ab.add_view(ReminderLogView, "Reminder log", icon="fa-paper-plane", category=MENU_CATEGORY)
        ab.add_view_no_menu(HealthView)
        confirmation = ab.add_view_no_menu(ConfirmationView)
        # The public page's own limit, per client address, shared by its POSTs (FAB's limiter
        # exists whatever RATELIMIT_ENABLED says; it only enforces when that is on).
        ab.sm.limiter.shared_limit(
            lambda: current_app.config["CONFIRMATION_RATE_LIMIT"],
            scope="rr-confirm",
            methods=["POST"],
        )(confirmation.blueprint)
        current_app.register_error_handler(429, too_many_attempts)
        current_app.after_request(_not_cached)
        registered = {type(view).__name__ for view in ab.baseviews}
        expected = {
            "RelationView",
            "DomainView",
            "RenewalDecisionView",
            "PortfolioImportView",
            "EmailTemplateView",
            "ReminderLogView",
            "HealthView",
            "RenewalSelectionView",
            "ConfirmationView",
            "ConfirmationRequestView",
            "ExpirationListView",
            "RenewalQueueView",
        }
        if not expected <= registered:
            raise AddonStartupError(f"views not registered: {sorted(expected - registered)}")

    def _register_cli(self, app) -> None:
        from renewal_reminder.cli import COMMAND_GROUPS

        for group in COMMAND_GROUPS:
            if group.name not in app.cli.commands:
                app.cli.add_command(group)


def _not_cached(response):
    """Step 2 of the public page carries the code in a hidden field: keep its pages out of
    caches. (A blueprint cannot take an after_request once registered, hence the check.)"""
    if request.blueprint == "ConfirmationView":
        response.headers["Cache-Control"] = "no-store"
    return response


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    """Foreign keys on; wait for a writer instead of failing; write-ahead log with NORMAL
    sync, so the jobs' commit after every email costs no disk flush (a committed outcome
    survives a crash of the app; only a power cut may lose the last moment's commits)."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    if dbapi_connection.execute("PRAGMA database_list").fetchone()[2]:  # a file, not :memory:
        cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
