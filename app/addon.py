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
import math

from flask import current_app
from flask_appbuilder.basemanager import BaseManager
from flask_mail import Mail
from flask_wtf.csrf import generate_csrf
from sqlalchemy import event, inspect

from renewal_reminder import schema, settings
from renewal_reminder.i18n import lazy_gettext as _l
from renewal_reminder.models.base import use_user_model
from renewal_reminder.renewals import sessions
from renewal_reminder.renewals.access import RoleNames
from renewal_reminder.renewals.accounts import forget_user
from renewal_reminder.renewals.automation import AutomationSettings
from renewal_reminder.renewals.codes import CodeSettings
from renewal_reminder.renewals.customer_links import link_days
from renewal_reminder.renewals.email_templates import ensure_default_templates
from renewal_reminder.renewals.registrars import InvalidBackend, get_backend
from renewal_reminder.renewals.registry_sync import MAX_SYNC_HOURS, SyncSettings
from renewal_reminder.renewals.reminders import ReminderSettings
from renewal_reminder.roles import (
    MENU_CATEGORY,
    RoleConflict,
    builtin_roles,
    check_role_conflicts,
    ensure_roles,
    menu_name,
)
from renewal_reminder.session import EXTENSION, AddonState

log = logging.getLogger(__name__)


class AddonStartupError(RuntimeError):
    """The product could not be installed into the FAB application."""


class RenewalReminderManager(BaseManager):
    """Installs the product into a FAB app, changing nothing the product does not own: its
    settings are read under ``RENEWALS_``, its state lives in ``app.extensions
    ["renewal_reminder"]``, its hooks and error handlers on its own blueprints
    (``views.base.AddonView``), its tables on its own metadata and migrations."""

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
        user_model = self.appbuilder.sm.user_model
        use_user_model(user_model)
        if not event.contains(user_model, "after_delete", _forget_deleted_user):
            event.listen(user_model, "after_delete", _forget_deleted_user, propagate=True)
        # Sessions that end: logout, a password change, deactivation or unlinking raises the
        # login's session version; the check runs on every request (renewals.sessions).
        sessions.install(app, user_model)
        values = settings.read(app.config)
        self._check_settings(values)
        try:
            registrar = get_backend(values)
        except InvalidBackend as exc:
            raise AddonStartupError(str(exc)) from None
        roles = RoleNames(
            admin=self.appbuilder.sm.auth_role_admin,
            sales=values["ROLE_SALES"],
            reseller=values["ROLE_RESELLER"],
            client=values["ROLE_CLIENT"],
        )
        app.extensions[EXTENSION] = AddonState(
            registrar=registrar,
            # Flask-Mail's settings from the host's MAIL_* keys, kept to the addon: a host that
            # uses Flask-Mail itself keeps its own app.extensions["mail"].
            mail=Mail().init_mail(app.config, app.debug, app.testing),
            roles=roles,
        )
        self._install_tables(roles)
        # FAB's forms print a CSRF token only where Flask-WTF's csrf_token() exists, which
        # only CSRFProtect provides: give it to the templates (the same function), so the
        # delete and action forms on the product's screens carry the token it checks.
        app.jinja_env.globals.setdefault("csrf_token", generate_csrf)
        self._register_views()
        self._register_cli(app)

    @staticmethod
    def _check_settings(values: dict) -> None:
        """Bad settings stop start-up with the reason, not a failing job at night."""
        try:
            ReminderSettings.from_config(values)
            CodeSettings.from_config(values)
            AutomationSettings.from_config(values)
            link_days(values)
            hours = float(values["REMINDER_INTERVAL_HOURS"])
            SyncSettings.from_config(values)  # REGISTRAR_SYNC_HOURS, ..._MAX_DELETE_SHARE
        except (ValueError, TypeError) as exc:
            raise AddonStartupError(f"invalid Renewal Reminder settings: {exc}") from None
        if not (math.isfinite(hours) and 0 < hours <= MAX_SYNC_HOURS):
            raise AddonStartupError(
                f"RENEWALS_REMINDER_INTERVAL_HOURS must be more than 0 and at most "
                f"{MAX_SYNC_HOURS}, not {values['REMINDER_INTERVAL_HOURS']!r}"
            )
        names = [values["ROLE_SALES"], values["ROLE_RESELLER"], values["ROLE_CLIENT"]]
        if len(set(names)) != 3 or not all(isinstance(n, str) and n.strip() for n in names):
            raise AddonStartupError(f"the product's three role names must differ: {names}")

    def _install_tables(self, roles: RoleNames) -> None:
        """Bring the product's tables up to date where the schema is managed at start-up, and
        install its roles.

        With ``FAB_CREATE_DB`` (FAB's default) a host lets FAB create missing tables when it
        starts; the product then applies its own migrations (``renewal_reminder.schema``) to
        its own tables. A host that manages its schema itself (``FAB_CREATE_DB = False``) runs
        ``flask renewals db upgrade`` instead.
        """
        sm = self.appbuilder.sm
        session = self.appbuilder.session
        engine = session.get_bind()
        if current_app.config.get("FAB_CREATE_DB", True):
            schema.upgrade(engine)
        existing = set(inspect(engine).get_table_names())
        roles_table = sm.role_model.__table__.name in existing
        if roles_table:
            try:
                check_role_conflicts(sm, roles)
            except RoleConflict as exc:
                raise AddonStartupError(str(exc)) from None
        # A new dict: FAB's builtin roles are the host's FAB_ROLES setting itself.
        sm._builtin_roles = {**sm.builtin_roles, **builtin_roles(roles)}
        if roles_table:
            ensure_roles(sm, roles)
        if "rr_email_template" in existing:
            ensure_default_templates(session)

    def _register_views(self) -> None:
        from renewal_reminder.views.account import RenewalsAccountView, RenewalsInvitationView
        from renewal_reminder.views.admin import (
            RenewalsConfirmationRequestView,
            RenewalsDecisionView,
            RenewalsDomainView,
            RenewalsRelationView,
        )
        from renewal_reminder.views.confirmation import RenewalsConfirmationView
        from renewal_reminder.views.customer_links import RenewalsCustomerLinkView
        from renewal_reminder.views.expirations import RenewalsExpirationListView
        from renewal_reminder.views.health import RenewalsHealthView
        from renewal_reminder.views.home import RenewalsHomeView
        from renewal_reminder.views.logins import RenewalsRelationLoginView
        from renewal_reminder.views.portfolio import RenewalsImportView
        from renewal_reminder.views.queue import RenewalsQueueView
        from renewal_reminder.views.reminders import (
            RenewalsEmailTemplateView,
            RenewalsReminderLogView,
        )
        from renewal_reminder.views.selection import RenewalsSelectionView

        ab = self.appbuilder
        # The menu, in order. Labels are the product's lazy translations, so a Dutch viewer
        # gets Dutch menu items (FAB's own menus come from FAB's catalogue); the permission
        # names stay English and prefixed (``menu_name``).
        menu = [
            (RenewalsHomeView, "Home", _l("Home"), "fa-home"),
            (RenewalsSelectionView, "Renew domains", _l("Renew domains"), "fa-check-square-o"),
            (RenewalsQueueView, "Renewal queue", _l("Renewal queue"), "fa-tasks"),
            (RenewalsRelationView, "Relations", _l("Relations"), "fa-address-book"),
            (RenewalsDomainView, "Domains", _l("Domains"), "fa-globe"),
            (RenewalsExpirationListView, "Expiration list", _l("Expiration list"), "fa-calendar"),
            (RenewalsDecisionView, "Renewal decisions", _l("Renewal decisions"), "fa-history"),
            (
                RenewalsConfirmationRequestView,
                "Confirmation requests",
                _l("Confirmation requests"),
                "fa-key",
            ),
            (RenewalsImportView, "Import portfolio", _l("Import portfolio"), "fa-upload"),
            (RenewalsEmailTemplateView, "Email templates", _l("Email templates"), "fa-envelope"),
            (RenewalsReminderLogView, "Reminder log", _l("Reminder log"), "fa-paper-plane"),
            (RenewalsRelationLoginView, "Customer logins", _l("Customer logins"), "fa-user-plus"),
        ]
        for view_class, name, label, icon in menu:
            ab.add_view(
                view_class,
                menu_name(name),
                label=label,
                icon=icon,
                category=MENU_CATEGORY,
                category_label=_l("Renewals"),
                category_icon="fa-refresh",
            )
        # Self-service passwords and invitations: public pages (see views.account), their
        # POSTs limited per client address like the confirmation page's.
        for view_class in (RenewalsAccountView, RenewalsInvitationView):
            account_view = ab.add_view_no_menu(view_class)
            ab.sm.limiter.shared_limit(
                lambda: settings.one("ACCOUNT_RATE_LIMIT"),
                scope="rr-account",
                methods=["POST"],
            )(account_view.blueprint)
        ab.add_view_no_menu(RenewalsHealthView)
        confirmation = ab.add_view_no_menu(RenewalsConfirmationView)
        # The public page's own limit, per client address, shared by its POSTs (FAB's limiter
        # exists whatever RATELIMIT_ENABLED says; it only enforces when that is on).
        ab.sm.limiter.shared_limit(
            lambda: settings.one("CONFIRMATION_RATE_LIMIT"),
            scope="rr-confirm",
            methods=["POST"],
        )(confirmation.blueprint)
        # The door of the customer links (public too): the same limit, counted on its own.
        customer_link = ab.add_view_no_menu(RenewalsCustomerLinkView)
        ab.sm.limiter.shared_limit(
            lambda: settings.one("CONFIRMATION_RATE_LIMIT"),
            scope="rr-customer-link",
            methods=["POST"],
        )(customer_link.blueprint)
        registered = {type(view).__name__ for view in ab.baseviews}
        expected = {
            "RenewalsRelationView",
            "RenewalsDomainView",
            "RenewalsDecisionView",
            "RenewalsImportView",
            "RenewalsEmailTemplateView",
            "RenewalsReminderLogView",
            "RenewalsHealthView",
            "RenewalsSelectionView",
            "RenewalsConfirmationView",
            "RenewalsCustomerLinkView",
            "RenewalsConfirmationRequestView",
            "RenewalsExpirationListView",
            "RenewalsQueueView",
            "RenewalsRelationLoginView",
            "RenewalsAccountView",
            "RenewalsInvitationView",
        }
        if not expected <= registered:
            raise AddonStartupError(f"views not registered: {sorted(expected - registered)}")

    def _register_cli(self, app) -> None:
        """One command group, ``flask renewals ...``."""
        from renewal_reminder.cli import renewals_group

        if renewals_group.name not in app.cli.commands:
            app.cli.add_command(renewals_group)


def _forget_deleted_user(_mapper, connection, user) -> None:
    """A login deleted through the ORM (FAB's user screens): its rows in the product's tables
    follow, whether or not the database enforces foreign keys."""
    forget_user(connection, user.id)
