"""Sending many emails over one SMTP connection, reporting each one's fate.

Flask-Mail holds the server settings and builds the MIME message; the sending loop is ours
because a run must know, per message, whether the server accepted the recipient (Flask-Mail's
``Connection.send`` ignores refused recipients) and must survive one bad address, a dropped
connection, or a server that is down.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flask_mail import Message

from app.renewals.email_templates import RenderedEmail, one_line

if TYPE_CHECKING:
    from flask_mail import _Mail  # Flask-Mail's per-app state: app.extensions["mail"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MailSettings:
    """Where links in emails point and who sends them (BASE_URL, MAIL_DEFAULT_SENDER)."""

    base_url: str
    sender: str

    @classmethod
    def from_config(cls, config: Mapping) -> MailSettings:
        return cls(
            base_url=str(config.get("BASE_URL") or "").rstrip("/"),
            sender=str(config.get("MAIL_DEFAULT_SENDER") or "renewals@localhost"),
        )

    def url(self, path: str) -> str:
        """An absolute link for an email: ``url("/renewals/")``."""
        return f"{self.base_url}/{path.lstrip('/')}"


@dataclass
class OutgoingEmail:
    to: str
    rendered: RenderedEmail
    bcc: list[str] = field(default_factory=list)
    #: Anything the caller needs back with the result (e.g. the reminders it carries).
    tag: object = None


@dataclass
class SendResult:
    email: OutgoingEmail
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def send_all(
    mail: _Mail,
    emails: Iterable[OutgoingEmail],
    sender: str,
) -> Iterator[SendResult]:
    """Send ``emails`` over one connection, yielding a result for each, in order.

    ``mail`` is Flask-Mail's state (``app.extensions["mail"]``). A refused recipient fails
    only its email. A dropped connection is reopened once per email. If the server cannot be
    reached at all, every remaining email fails at once with that reason instead of each
    waiting for its own timeout. With ``MAIL_SUPPRESS_SEND`` nothing leaves the process.
    """
    if mail.suppress:
        for email in emails:
            yield SendResult(email)
        return
    connection = None
    unreachable: str | None = None
    try:
        for email in emails:
            if unreachable:
                yield SendResult(email, unreachable)
                continue
            message = _message(email, sender)
            error = None
            for attempt in (1, 2):
                try:
                    if connection is None:
                        connection = _open(mail)
                    refused = connection.sendmail(
                        message.sender, [email.to, *email.bcc], message.as_bytes()
                    )
                    if email.to in refused:
                        error = f"refused: {_describe({email.to: refused[email.to]})}"
                    break
                except smtplib.SMTPRecipientsRefused as exc:
                    error = f"refused: {_describe(exc.recipients)}"
                    break
                except (smtplib.SMTPConnectError, smtplib.SMTPAuthenticationError) as exc:
                    error = unreachable = f"mail server unusable: {exc}"
                    break
                except smtplib.SMTPResponseException as exc:  # this message was refused
                    error = f"mail server error: {exc.smtp_code} {exc.smtp_error!r}"
                    break
                except OSError as exc:  # disconnected, timed out, connection refused, DNS
                    _close(connection)
                    connection = None
                    if attempt == 2:
                        error = unreachable = f"mail server unreachable: {exc}"
            yield SendResult(email, error)
    finally:
        _close(connection)


def _message(email: OutgoingEmail, sender: str) -> Message:
    return Message(
        subject=one_line(email.rendered.subject),
        recipients=[email.to],
        body=email.rendered.text,
        html=email.rendered.html,
        sender=sender,
    )


def _open(mail: _Mail) -> smtplib.SMTP:
    host_class = smtplib.SMTP_SSL if mail.use_ssl else smtplib.SMTP
    connection = host_class(mail.server, mail.port, timeout=30)
    if mail.use_tls:
        connection.starttls()
    if mail.username and mail.password:
        connection.login(mail.username, mail.password)
    return connection


def _close(connection: smtplib.SMTP | None) -> None:
    if connection is None:
        return
    try:
        connection.quit()
    except (smtplib.SMTPException, OSError):
        connection.close()


def _describe(recipients: dict) -> str:
    return "; ".join(f"{to}: {code} {reason!r}" for to, (code, reason) in recipients.items())
