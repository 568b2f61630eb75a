"""The standalone app's security manager: FAB's, with a logout that is a POST, and the
product's password policy on every path that sets a password.

FAB's logout is ``GET /logout/``: any page (an ``<img>`` on another site, a link preview)
can sign a user out, and a logout that ends every session of the login (``renewals.sessions``)
should only happen when the person asks for it. Here ``GET /logout/`` shows a small page with
a button that POSTs (CSRF-checked by the app's CSRFProtect); the navbar's logout entry is such
a form (``standalone_templates/appbuilder/navbar_right.html``).

A host that enables the addon keeps its own security manager; its logout ends sessions too
(the addon listens to flask_login's logout signal), whichever method it uses.

The password policy (``renewals.passwords``) reaches FAB's forms through
``FAB_PASSWORD_COMPLEXITY_VALIDATOR``, but FAB's CLI (``fab create-admin``, ``fab
create-user``, ``fab reset-password``) calls ``add_user`` and ``reset_password`` directly, past
every form. Checking in those two methods covers every path, the CLI and whatever a host or a
script adds later. A refusal in a command line ends the command with the policy's message
(``click.ClickException``, exit code 1) instead of a traceback; elsewhere it is the policy's
``WeakPassword``, which the product's callers already turn into a message for the person.

A signed-in user's permissions are read once per request (``_has_view_access``), not once for
each of the many checks a page makes, and the user's roles and groups come in the query that
loads the user (``load_user``).
"""

from __future__ import annotations

from typing import Any

import click
from flask import has_request_context, request
from flask_appbuilder import expose
from flask_appbuilder.security.sqla.manager import SecurityManager
from flask_appbuilder.security.views import AuthDBView
from sqlalchemy.orm import joinedload

from renewal_reminder.i18n import gettext as _
from renewal_reminder.renewals.passwords import WeakPassword, check_password
from renewal_reminder.views import TEMPLATE_FOLDER


class RenewalReminderAuthDBView(AuthDBView):
    """FAB's database login, whose logout only happens on a POST."""

    template_folder = TEMPLATE_FOLDER

    @expose("/logout/", methods=["GET", "POST"])
    def logout(self):
        if request.method != "POST":
            return self.render_template("rr/logout.html", title=_("Sign out"), t=_)
        return super().logout()


class RenewalReminderSecurityManager(SecurityManager):
    """Set by ``FAB_SECURITY_MANAGER_CLASS`` in ``config.py``."""

    authdbview = RenewalReminderAuthDBView

    def add_user(
        self,
        username: str,
        first_name: str,
        last_name: str,
        email: str,
        role: Any = None,
        password: str = "",
        hashed_password: str = "",
        *args: Any,
        **kwargs: Any,
    ):
        """FAB's ``add_user``, refusing a plain-text password the policy refuses. No password
        (FAB's LDAP/OAuth sign-ups get a random one) and a ready hash (FAB's self-registration,
        checked by its own form) are left alone: there is nothing to check."""
        if password and not hashed_password:
            _checked(password, [username, email, first_name, last_name])
        return super().add_user(
            username, first_name, last_name, email, role, password, hashed_password, *args, **kwargs
        )

    def reset_password(self, userid: Any, password: str) -> None:
        """FAB's ``reset_password``, refusing a password the policy refuses.

        Checked as FAB's reset forms check it (``FAB_PASSWORD_COMPLEXITY_VALIDATOR``, the
        password alone): a password those forms accepted must not fail here afterwards, which
        would be a server error instead of a form message."""
        _checked(password)
        super().reset_password(userid, password)

    def load_user(self, pk: Any) -> Any | None:
        """FAB's user loader (every request of a signed-in user), with the login's roles and
        groups read along: every page checks permissions, which FAB's lazy relationships
        would read one query each afterwards."""
        user = self.session.get(
            self.user_model,
            int(pk),
            options=[
                joinedload(self.user_model.roles),
                joinedload(self.user_model.groups).joinedload(self.group_model.roles),
            ],
        )
        if user and user.is_active:
            return user
        return None

    def _has_view_access(self, user: Any, permission_name: str, view_name: str) -> bool:
        """FAB's check, answered from the user's permissions read once per request.

        FAB asks the database once for each check, and a page makes many different ones (the
        menu, each list action, each button: 31 queries for one page of the domain list as
        Admin); the answers cannot change while the page is being built. The database roles'
        permissions are read in one query per role and kept in the request's environ (not
        ``g``, which a test client or a nested context may share across requests); FAB's
        builtin roles are asked as FAB asks them."""
        if not has_request_context():
            return super()._has_view_access(user, permission_name, view_name)
        roles = self.get_user_roles(user)
        if any(
            role.name in self.builtin_roles
            and self._has_access_builtin_roles(role, permission_name, view_name)
            for role in roles
        ):
            return True
        cache = request.environ.setdefault("rr.view_access", {})
        key = getattr(user, "id", None)
        if key not in cache:
            cache[key] = {
                (pv.permission.name, pv.view_menu.name)
                for role in roles
                if role.name not in self.builtin_roles
                for pv in self.get_db_role_permissions(role.id)
            }
        return (permission_name, view_name) in cache[key]


def _checked(password: str, user_inputs: list[str | None] | None = None) -> None:
    try:
        check_password(password, user_inputs or ())
    except WeakPassword as exc:
        if click.get_current_context(silent=True) is not None:
            raise click.ClickException(f"password refused: {exc}") from None
        raise
