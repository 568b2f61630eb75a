"""The door the personal link in a customer email opens (``/renewals/link/``), and the link
sessions it starts. Public on purpose: the link *is* the credential.

- ``GET /renewals/link/#t=TOKEN``: the landing page (``token_pages``) posts the token from the
  fragment, so it never reaches a server log or a ``Referer``;
- ``POST /renewals/link/``: a genuine, unexpired, unrevoked token starts a link session and
  redirects to the clean URL of the renewal page; anything else gets one generic page (the
  same for a tampered, an expired and a revoked link) offering a fresh link;
- ``POST /renewals/link/fresh``: a fresh link to every relation with the typed billing
  address, and the same answer whether or not it is known.

Every POST here is rate-limited per client address with ``CONFIRMATION_RATE_LIMIT`` (as
``/confirm/``; attached by the addon), and every response says ``Referrer-Policy:
no-referrer``.

A link session (``customer_links.LinkSession`` in the Flask session) is not a login:
``g.user`` stays anonymous, so every FAB screen, export and the queue stay closed. Only the
views decorated with ``customer_link_or_login`` (the renewal page and its summary) let it in,
as an ``access.LinkVisitor``, which ``renewals.access`` scopes like the relation's own login.
A signed-in FAB login wins over a link session (which is then dropped).
"""

from __future__ import annotations

import functools
import logging

from flask import current_app, g, redirect, request, session, url_for
from flask_appbuilder import BaseView, expose
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import EmailField
from wtforms.validators import InputRequired, Length

from renewal_reminder import settings
from renewal_reminder.i18n import gettext as _
from renewal_reminder.renewals import access, customer_links, mailer
from renewal_reminder.renewals.customer_links import SESSION_KEY, LinkSession
from renewal_reminder.session import current_mail
from renewal_reminder.views import TEMPLATE_FOLDER
from renewal_reminder.views.base import AddonView, after_the_response, too_many_attempts
from renewal_reminder.views.token_pages import landing_page, no_referrer, posted_token

log = logging.getLogger(__name__)

#: Where this request's link visitor is kept (the request's environ, not ``g``: an app
#: context, and so ``g``, may outlive one request).
_VISITOR = "rr.link_visitor"


# --- link sessions ------------------------------------------------------------------------------


def current_link_visitor() -> access.LinkVisitor | None:
    """The link session of this request, checked against the database (idle for less than an
    hour, link version unchanged) and marked as seen now; ``None`` when there is none (or a
    FAB login is signed in: the login wins, and the link session is dropped)."""
    if current_user.is_authenticated:
        session.pop(SESSION_KEY, None)
        return None
    if SESSION_KEY not in session:
        return None
    link = LinkSession.from_dict(session.get(SESSION_KEY))
    db = current_app.extensions["appbuilder"].session
    relation = customer_links.relation_of_session(db, link)
    if relation is None:
        session.pop(SESSION_KEY, None)  # idle too long, or revoked: it has ended
        return None
    session[SESSION_KEY] = link.seen().to_dict()
    return access.LinkVisitor(relation.id)


def who():
    """Who this request acts as: the link visitor, or FAB's ``g.user``."""
    return request.environ.get(_VISITOR) or g.user


def customer_link_or_login(view_method):
    """Put outside FAB's ``has_access``: a link session enters the view as its
    ``LinkVisitor`` (skipping ``has_access``, which would ask for a login); everyone else goes
    through ``has_access`` as before."""

    @functools.wraps(view_method)
    def wrapper(self, *args, **kwargs):
        visitor = current_link_visitor()
        request.environ[_VISITOR] = visitor
        if visitor is not None:
            return view_method.__wrapped__(self, *args, **kwargs)
        return view_method(self, *args, **kwargs)

    return wrapper


# --- the pages ----------------------------------------------------------------------------------


class FreshLinkForm(FlaskForm):
    email = EmailField(validators=[InputRequired(), Length(max=254)])


class RenewalsCustomerLinkView(AddonView, BaseView):
    route_base = "/renewals/link"
    default_view = "open"
    template_folder = TEMPLATE_FOLDER

    def create_blueprint(self, appbuilder, endpoint=None, static_folder=None):
        blueprint = super().create_blueprint(appbuilder, endpoint, static_folder)
        blueprint.after_request(no_referrer)
        blueprint.register_error_handler(429, too_many_attempts)
        return blueprint

    @expose("/", methods=["GET", "POST"])
    def open(self):
        """GET: the landing page, which posts the token from the fragment. POST: exchange it
        for a link session and go to the renewal page's clean URL."""
        if request.method == "GET":
            return landing_page(
                self,
                title=_("Your renewal page"),
                message=_("Opening your renewal page..."),
                action=url_for(".open"),
            )
        db = self.appbuilder.session
        try:
            relation = customer_links.relation_for_token(db, posted_token())
        except customer_links.LinkRefused as exc:
            log.info("customer link refused from %s: %s", request.remote_addr, exc.reason)
            return self._refused(FreshLinkForm(formdata=None)), 400
        if current_user.is_authenticated:
            # The FAB login wins: the relation opens with the login's own rights (a 404 if
            # they do not cover it), and no link session starts.
            return redirect(url_for("RenewalsSelectionView.index", relation=relation.number))
        session[SESSION_KEY] = LinkSession.start(relation).to_dict()
        session.permanent = False  # ends when the browser closes
        return redirect(url_for("RenewalsSelectionView.index"))

    @expose("/fresh", methods=["POST"])
    def fresh(self):
        """A fresh link to the typed billing address, if it is a relation's. The answer never
        says whether it was."""
        form = FreshLinkForm()
        if not form.validate_on_submit():
            return self._refused(form, invalid=True), 400
        # The same answer, in the same time, whether or not the address is known: the
        # relations are looked up and emailed after the answer has gone.
        after_the_response(functools.partial(_send_fresh_links, self.appbuilder, form.email.data))
        return self.render_template(
            "rr/link_refused.html",
            title=_("Check your email"),
            form=form,
            sent=True,
            invalid=False,
            t=_,
        )

    def _refused(self, form: FreshLinkForm, invalid: bool = False):
        return self.render_template(
            "rr/link_refused.html",
            title=_("This link does not work"),
            form=form,
            sent=False,
            invalid=invalid,
            t=_,
        )


def _send_fresh_links(appbuilder, address: str) -> None:
    """Email a fresh link to every relation with the billing ``address`` (run after the
    response, ``after_the_response``: this is the transaction's entry point)."""
    db = appbuilder.session
    mail = mailer.MailSettings.from_config(settings.current())
    outgoing = customer_links.fresh_link_emails(db, mail, address)
    db.commit()  # only read: end the transaction before talking to the mail server
    if not outgoing:
        return
    results = mailer.send_all(current_mail(), outgoing, mail.sender)
    for result in results:
        if not result.ok:
            log.warning("fresh link for #%s not sent: %s", result.email.tag, result.error)
    sent = sum(1 for result in results if result.ok)
    log.info("fresh customer links: %s sent, %s failed", sent, len(results) - sent)
