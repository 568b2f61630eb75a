"""The standalone app's security manager: FAB's, with a logout that is a POST.

FAB's logout is ``GET /logout/``: any page (an ``<img>`` on another site, a link preview)
can sign a user out, and a logout that ends every session of the login (``renewals.sessions``)
should only happen when the person asks for it. Here ``GET /logout/`` shows a small page with
a button that POSTs (CSRF-checked by the app's CSRFProtect); the navbar's logout entry is such
a form (``standalone_templates/appbuilder/navbar_right.html``).

A host that enables the addon keeps its own security manager; its logout ends sessions too
(the addon listens to flask_login's logout signal), whichever method it uses.
"""

from __future__ import annotations

from flask import request
from flask_appbuilder import expose
from flask_appbuilder.security.sqla.manager import SecurityManager
from flask_appbuilder.security.views import AuthDBView

from renewal_reminder.i18n import gettext as _
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
