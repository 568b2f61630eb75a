"""The landing page every emailed link with a token opens (customer links, invitations,
password resets), in one place: the token travels after ``#``, the page posts it, and the
view that receives it redirects to a clean URL. Pages that see a token never leak it in a
``Referer`` header (``Referrer-Policy: no-referrer``)."""

from __future__ import annotations

from flask import Response, make_response, request
from flask_wtf import FlaskForm

from renewal_reminder.i18n import gettext as _
from renewal_reminder.renewals.signed_tokens import MAX_TOKEN_LENGTH


class TokenForm(FlaskForm):
    """Carries the CSRF token; the token itself is read by ``posted_token``."""


def no_referrer(response: Response) -> Response:
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


def landing_page(view, *, title: str, message: str, action: str) -> Response:
    """The page that moves the token from the fragment into a POST to ``action``."""
    html = view.render_template(
        "rr/token_exchange.html",
        title=title,
        message=message,
        action=action,
        form=TokenForm(),
        t=_,
    )
    return no_referrer(make_response(html))


def posted_token() -> str | None:
    """The token the landing page posted (``None`` if absent or implausibly long)."""
    token = (request.form.get("token") or "").strip()
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    return token
