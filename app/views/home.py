"""The home page (``/home/``): what needs doing today, per role.

Staff (Admin, Sales) see today's work at a glance, each figure a link to the filtered list,
and a 13-week chart of expiring domains by decision drawn as inline SVG on the server (no
script, no chart library, no CDN). Customers see what they have to decide, a button to the
selection page, and their recent decisions. Thin: the figures come from
``renewal_reminder.renewals.dashboard``."""

from __future__ import annotations

import datetime as dt

from flask import g, redirect, url_for
from flask_appbuilder import BaseView, IndexView, expose, has_access
from flask_appbuilder.security.decorators import permission_name

from renewal_reminder import settings
from renewal_reminder.i18n import gettext as _
from renewal_reminder.renewals import access, dashboard, deadlines
from renewal_reminder.views import TEMPLATE_FOLDER
from renewal_reminder.views.base import AddonView
from renewal_reminder.views.selection import no_relation_page

#: The chart's bar colours (WCAG contrast against white for the legend's text swatches).
SERIES_COLOURS = {"renew": "#2e7d32", "decline": "#b45309", "none": "#6b7280"}


class RenewalsHomeView(AddonView, BaseView):
    route_base = "/home"
    default_view = "index"
    template_folder = TEMPLATE_FOLDER

    @expose("/")
    @has_access
    @permission_name("view")
    def index(self):
        db = self.appbuilder.session
        today = dt.date.today()
        if access.is_staff(g.user):
            lead_days = deadlines.DeadlineSettings.from_config(settings.current()).lead_days
            home = dashboard.staff_home(db, g.user, today, lead_days)
            return self.render_template(
                "rr/home_staff.html",
                title="Today",
                home=home,
                colours=SERIES_COLOURS,
                soon_until=today + dt.timedelta(days=dashboard.SOON_DAYS),
                failed_email_days=dashboard.FAILED_EMAIL_DAYS,
            )
        relation = access.linked_relation(db, g.user)
        if relation is None:
            return no_relation_page(self)
        window = int(settings.current()["RENEWAL_WINDOW_DAYS"])
        home = dashboard.customer_home(db, relation, today, window)
        return self.render_template("rr/home_customer.html", title=_("Home"), home=home, t=_)


class RenewalsIndexView(IndexView):
    """The standalone app's front page (``FAB_INDEX_VIEW``): signed-in users go to their home
    page; visitors get the two ways in (sign in, or an activation code)."""

    index_template = "rr/home_public.html"

    @expose("/")
    def index(self):
        if g.user is not None and getattr(g.user, "is_authenticated", False):
            return redirect(url_for("RenewalsHomeView.index"))
        return self.render_template(self.index_template, appbuilder=self.appbuilder, t=_)
