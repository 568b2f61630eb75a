"""What every view of the addon shares: its place under the URL prefix, and protections that
stay on the addon's own blueprints.

A host app keeps its own behaviour: the addon registers no app-wide hook, error handler or
CSRFProtect. Instead each of its views

- lives under ``RENEWALS_URL_PREFIX`` (the standalone app sets it to ``""``);
- checks the CSRF token of every state-changing request itself (Flask-WTF's ``validate_csrf``;
  FAB's forms check theirs too), unless the host's own CSRFProtect already did, and never
  changes data on a GET (FAB allows GET deletes and actions when the host has no CSRFProtect);
- answers odd URL arguments FAB's generic routes would crash on with 400/404
  (``fab_guard``), and ids too large for the database with 404, on its own blueprint.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Response, after_this_request, current_app, g, request
from flask_appbuilder.hooks import before_request
from flask_wtf.csrf import CSRFError, validate_csrf
from sqlalchemy.exc import DataError
from werkzeug.exceptions import NotFound
from wtforms import ValidationError

from renewal_reminder import settings
from renewal_reminder.views import TEMPLATE_FOLDER

log = logging.getLogger(__name__)

#: Methods that may change something (Flask-WTF's default ``WTF_CSRF_METHODS``).
_UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


class AddonView:
    """Mixin for every view the addon registers (put it before FAB's view class)."""

    template_folder = TEMPLATE_FOLDER

    def create_blueprint(self, appbuilder, endpoint=None, static_folder=None):
        prefix = settings.current()["URL_PREFIX"]
        own_base = self.route_base or "/" + type(self).__name__.lower()
        self.route_base = prefix + own_base
        blueprint = super().create_blueprint(appbuilder, endpoint, static_folder)
        blueprint.register_error_handler(OverflowError, no_such_row)
        blueprint.register_error_handler(DataError, no_such_row)
        return blueprint

    def is_get_mutation_allowed(self) -> bool:
        """Never delete or run an action on a GET, whatever the host registered (FAB asks
        this on its delete and action routes, which take both GET and POST)."""
        return request.method != "GET"

    #: A view whose every POST validates its form's CSRF token itself (Flask-WTF) before it
    #: changes anything, so that an expired form can be shown again, as typed, with the
    #: reason in the viewer's language instead of a bare 400 (the selection page).
    validates_csrf_in_form = False

    @before_request
    def _protect_request(self):
        from renewal_reminder.views.fab_guard import check_fab_arguments  # imports the views

        check_fab_arguments()
        if request.method in _UNSAFE_METHODS and not self.validates_csrf_in_form:
            check_csrf()


def check_csrf() -> None:
    """Refuse a state-changing request without a valid CSRF token (400), unless CSRF is
    switched off (``WTF_CSRF_ENABLED``) or the host's CSRFProtect has checked it already."""
    config = current_app.config
    if not config.get("WTF_CSRF_ENABLED", True) or g.get("csrf_valid"):
        return  # switched off, or the host's CSRFProtect has validated this request
    field = config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    token = request.form.get(field)
    if not token:
        for header in config.get("WTF_CSRF_HEADERS", ["X-CSRFToken", "X-CSRF-Token"]):
            token = request.headers.get(header)
            if token:
                break
    try:
        validate_csrf(token)
    except ValidationError as exc:
        raise CSRFError(exc.args[0]) from None


def too_many_attempts(error):
    """The friendly 429 page of every rate-limited page of the addon (the confirmation page,
    the customer-link door, the account and invitation pages: their blueprints register it).

    Flask-Limiter refuses in a ``before_request`` hook that runs before FAB's, which sets
    ``g.user``; the page's navbar reads ``g.user`` for a signed-in visitor. It is set here as
    FAB would, so a signed-in visitor gets this page, not a server error."""
    from flask import render_template
    from flask_login import current_user

    from renewal_reminder.i18n import gettext as _

    if "user" not in g:
        g.user = current_user
    appbuilder = current_app.extensions["appbuilder"]
    return (
        render_template(
            "rr/confirm_limited.html",
            base_template=appbuilder.base_template,
            appbuilder=appbuilder,
            title=_("Too many attempts"),
            message=_(
                "For your security, this page can only be used a few times in a row. "
                "Please wait a while and try again."
            ),
            t=_,
        ),
        429,
    )


def after_the_response(work: Callable[[], None]) -> None:
    """Run ``work`` once this request's response has been sent, in an app context (and so a
    database session and transaction) of its own.

    For the pages that answer the same whether or not an address is known (forgot password,
    a fresh customer link): looking the address up and talking to the mail server take time
    only when it is known, so doing them before answering would tell by the response time
    what the answer hides. Werkzeug calls ``Response.call_on_close`` callbacks when the
    server closes the response, after it has written the body (gunicorn, the development
    server and every WSGI server do so), so the visitor has the whole answer before the work
    starts. The work holds the worker a moment longer; nothing else is needed: no queue, no
    table, no thread. ``work`` must not raise: anything it does is logged here, since the
    visitor is gone. (Flask's test client runs it when the test closes the response.)"""
    app = current_app._get_current_object()

    def run() -> None:
        with app.app_context():
            try:
                work()
            except Exception:  # the answer has gone: log it, never lose the worker
                log.exception("work after the response failed")

    @after_this_request
    def register(response: Response) -> Response:
        response.call_on_close(run)
        return response


def no_such_row(error):
    """An id or number too large for the database (SQLite: OverflowError; PostgreSQL:
    DataError) cannot name a row: answer 404, not 500."""
    current_app.extensions["appbuilder"].session.rollback()
    return NotFound()


def send_receipts(session, keys) -> None:
    """Send the customers' receipts of the event this request just committed (what cannot be
    sent now, the next processing job sends: ``renewals.receipts``)."""
    from renewal_reminder.renewals import mailer, receipts
    from renewal_reminder.session import current_mail

    keys = list(keys)
    if keys:
        mail = mailer.MailSettings.from_config(settings.current())
        receipts.send_after_event(session, current_mail(), mail, keys)
