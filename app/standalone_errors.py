"""The standalone app's own error pages, in the viewer's language with the app's layout:
403 and 404 (Werkzeug's are English and bare), and the friendly 429 page for FAB's own
rate-limited routes (its login), which the addon's blueprints only have for theirs.

JSON routes (``/api/``) keep their JSON answers."""

from __future__ import annotations

from flask import Flask, current_app, g, render_template, request
from flask_login import current_user
from werkzeug.exceptions import HTTPException

from renewal_reminder.i18n import gettext as _
from renewal_reminder.views.base import too_many_attempts


def install(app: Flask) -> None:
    app.register_error_handler(403, _page)
    app.register_error_handler(404, _page)
    app.register_error_handler(429, too_many_attempts)


def _page(error: HTTPException):
    if request.path.startswith("/api/"):
        return error
    if "user" not in g:  # an error before FAB's hook ran (e.g. a 404 routing error)
        g.user = current_user
    appbuilder = current_app.extensions["appbuilder"]
    titles = {403: _("Not allowed"), 404: _("Page not found")}
    messages = {
        403: _("Your login may not open this page."),
        404: _("There is no page at this address, or it is not yours to see."),
    }
    code = error.code or 404
    return (
        render_template(
            "rr_error.html",
            base_template=appbuilder.base_template,
            appbuilder=appbuilder,
            title=titles.get(code, error.name),
            message=messages.get(code, error.description),
            t=_,
        ),
        code,
    )
