"""Forgotten passwords: an emailed, single-use link to set a new one, valid one hour.

The link needs no table. It is signed (``signed_tokens``, purpose password-reset, at most
``RESET_MINUTES`` old) and names the login and a fingerprint of its current password hash
(``sessions.password_fingerprint``): once the password changes (this link used, another
reset, an Admin's reset) the fingerprint no longer matches and every earlier link is dead.

Asking for a link answers the same whether or not the address belongs to a login (the page
says "if ... an email is on its way"), so the page cannot be used to find out who has a login;
an inactive login gets nothing. The email is looked up and sent after the answer has gone
(``views.base.after_the_response``), so neither can the time the answer takes.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from renewal_reminder.renewals import email_templates, mailer
from renewal_reminder.renewals.access import linked_relation
from renewal_reminder.renewals.sessions import password_fingerprint
from renewal_reminder.renewals.signed_tokens import BadToken, Purpose, make_token, read_token
from renewal_reminder.renewals.validation import InvalidValue, normalize_email

RESET_MINUTES = 60


class ResetRefused(Exception):
    """The reset link is tampered with, expired or used: one answer for all of them."""


def reset_link(mail: mailer.MailSettings, user) -> str:
    """The emailed link: the token after ``#`` (never sent to a server, see ``token_pages``)."""
    token = make_token(Purpose.password_reset, reset_payload(user))
    return mail.url(f"/account/reset-password#t={token}")


def reset_payload(user) -> dict:
    return {"u": user.id, "p": password_fingerprint(user.password)}


def reset_context(*, name: str, login: str, reset_link: str) -> dict:
    """What the password-reset template can use: plain values only."""
    return {"name": name, "login": login, "reset_link": reset_link, "valid_minutes": RESET_MINUTES}


def find_login_by_email(session: Session, security_manager, address: str):
    """The active login with this email address, or ``None``."""
    try:
        address = normalize_email(address)
    except InvalidValue:
        return None
    users = security_manager.user_model
    # Both sides through the database's ``lower`` (SQLite's lowers ASCII letters only).
    user = session.scalar(select(users).where(func.lower(users.email) == func.lower(address)))
    return user if user is not None and user.active else None


def reset_email(
    session: Session,
    security_manager,
    mail: mailer.MailSettings,
    address: str,
    language: str = "en",
) -> mailer.OutgoingEmail | None:
    """The email with a reset link for the login with ``address``, ready to send; ``None``
    when there is none (the caller answers the same either way). In the language of the
    login's relation, else ``language``.

    Only reads: the caller owns the transaction, and should end it before handing the email
    to the mail server (``mailer.send_all``), so no transaction waits on SMTP."""
    user = find_login_by_email(session, security_manager, address)
    if user is None:
        return None
    relation = linked_relation(session, user)
    if relation is not None:
        language = relation.language
    source = email_templates.template_for(session, email_templates.PASSWORD_RESET, language)
    name = " ".join(part for part in (user.first_name, user.last_name) if part) or user.username
    context = reset_context(name=name, login=user.username, reset_link=reset_link(mail, user))
    return mailer.OutgoingEmail(user.email, lambda: email_templates.render(source, context))


def read_reset_link(token: str | None) -> dict:
    """The payload of a genuine, unexpired reset token; ``ResetRefused`` otherwise."""
    try:
        payload = read_token(Purpose.password_reset, token, RESET_MINUTES * 60)
    except BadToken:
        raise ResetRefused() from None
    if not isinstance(payload, dict) or not isinstance(payload.get("u"), int):
        raise ResetRefused()
    return {"u": payload["u"], "p": str(payload.get("p"))}


def login_for_reset(session: Session, security_manager, payload: Mapping | None):
    """The login a reset payload names, if its password is still the one the link was made
    for and it is active; ``ResetRefused`` otherwise."""
    if not isinstance(payload, Mapping):
        raise ResetRefused()
    user = session.get(security_manager.user_model, payload.get("u"))
    if user is None or not user.active or payload.get("p") != password_fingerprint(user.password):
        raise ResetRefused()
    return user
