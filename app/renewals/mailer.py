"""Sending many emails over one SMTP connection, reporting each one's fate.

Flask-Mail holds the server settings (``MAIL_*``); the sending is ours because a run must
know, per message, whether the server accepted the recipient (Flask-Mail's
``Connection.send`` ignores refused recipients), must survive one bad address, a dropped
connection or a server that is down, and must send hundreds of emails per second.
"""

from __future__ import annotations

import email.policy
import logging
import smtplib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formatdate, make_msgid
from typing import TYPE_CHECKING

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


class Outbox:
    """One SMTP connection, opened on first use and reused for every email until ``close``.

    ``mail`` is Flask-Mail's state (``app.extensions["mail"]``). A refused recipient fails
    only its email. A dropped connection is reopened once per email. If the server cannot be
    reached at all, every remaining email fails at once with that reason instead of each
    waiting for its own timeout. With ``MAIL_SUPPRESS_SEND`` nothing leaves the process.
    """

    def __init__(self, mail: _Mail, sender: str):
        self._mail = mail
        self._sender = sender
        self._connection: smtplib.SMTP | None = None
        self._unreachable: str | None = None

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def send(self, emails: Iterable[OutgoingEmail]) -> Iterator[SendResult]:
        for outgoing in emails:
            if self._mail.suppress:
                yield SendResult(outgoing)
            elif self._unreachable:
                yield SendResult(outgoing, self._unreachable)
            else:
                yield SendResult(outgoing, self._send_one(outgoing))

    def _send_one(self, outgoing: OutgoingEmail) -> str | None:
        envelope_to = [_ascii_address(outgoing.to), *map(_ascii_address, outgoing.bcc)]
        data = _mime(outgoing, self._sender)
        for attempt in (1, 2):
            try:
                if self._connection is None:
                    self._connection = _open(self._mail)
                refused = self._connection.sendmail(_ascii_address(self._sender), envelope_to, data)
                if envelope_to[0] in refused:
                    return f"refused: {_describe({outgoing.to: refused[envelope_to[0]]})}"
                return None
            except smtplib.SMTPRecipientsRefused as exc:
                return f"refused: {_describe(exc.recipients)}"
            except (smtplib.SMTPConnectError, smtplib.SMTPAuthenticationError) as exc:
                self._unreachable = f"mail server unusable: {exc}"
                return self._unreachable
            except smtplib.SMTPResponseException as exc:  # this message was refused
                return f"mail server error: {exc.smtp_code} {exc.smtp_error!r}"
            except OSError as exc:  # disconnected, timed out, connection refused, DNS
                self._drop()
                if attempt == 2:
                    self._unreachable = f"mail server unreachable: {exc}"
                    return self._unreachable
        raise AssertionError("unreachable")

    def _drop(self) -> None:
        _close(self._connection)
        self._connection = None

    def close(self) -> None:
        self._drop()


def send_all(mail: _Mail, emails: Iterable[OutgoingEmail], sender: str) -> list[SendResult]:
    """Send a few emails over one connection (see ``Outbox``); a result for each, in order."""
    with Outbox(mail, sender) as outbox:
        return list(outbox.send(emails))


#: Serialising with the compat32 policy is about twice as fast as the SMTP policy, which
#: re-parses every header; the headers here are built ready for the wire.
_WIRE_POLICY = email.policy.compat32.clone(linesep="\r\n")


def _mime(outgoing: OutgoingEmail, sender: str) -> bytes:
    """A multipart/alternative message (plain text and HTML) as bytes for the wire."""
    message = MIMEMultipart("alternative")
    subject = one_line(outgoing.rendered.subject)
    message["Subject"] = subject if subject.isascii() else Header(subject, "utf-8")
    message["From"] = sender
    message["To"] = outgoing.to if outgoing.to.isascii() else _ascii_address(outgoing.to)
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain=_ascii_address(sender).rpartition("@")[2] or None)
    message.attach(MIMEText(outgoing.rendered.text, "plain", "utf-8"))
    message.attach(MIMEText(outgoing.rendered.html, "html", "utf-8"))
    return message.as_bytes(policy=_WIRE_POLICY)


def _ascii_address(address: str) -> str:
    """An address the SMTP envelope accepts: an internationalised domain in punycode."""
    if address.isascii():
        return address
    local, _, domain = address.rpartition("@")
    return f"{local}@{domain.encode('idna').decode('ascii')}"


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
