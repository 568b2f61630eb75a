"""``/health``: a public liveness-and-database check for load balancers and monitors."""

from __future__ import annotations

from flask import jsonify
from flask_appbuilder import BaseView, expose
from sqlalchemy import text

from renewal_reminder.views.base import AddonView


class RenewalsHealthView(AddonView, BaseView):
    """Public on purpose (no ``@has_access``): it reveals nothing but "up" or "down"."""

    route_base = "/health"
    default_view = "health"

    @expose("/")
    def health(self):
        try:
            self.appbuilder.session.execute(text("SELECT 1"))
        except Exception:  # any database failure means "not healthy"
            self.appbuilder.session.rollback()
            return jsonify(status="error", database="unreachable"), 503
        return jsonify(status="ok", database="ok")
