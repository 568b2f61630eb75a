"""Sending many emails over one SMTP connection, reporting each one's fate.

Flask-Mail holds the server settings (``MAIL_*``); the sending is ours because a run must
know, per message, whether the server accepted the recipient (Flask-Mail's
``Connection.send`` ignores refused recipients), must survive one bad address, a dropped
connection or a server that is down, and must send hundreds of emails per second.

``Outbox.send_one`` is the one place that decides what became of an email: it renders,
builds, encodes and sends it, and whatever goes wrong on the way (a template error, an address
that cannot be encoded, a bug in building the message, any SMTP or socket error) is that
email's ``SendResult.error``, never an exception for the caller. Senders record each result
as it comes, so a run that dies after email N has recorded emails 1..N.

Addresses: an internationalised domain goes on the wire in punycode (IDNA 2008, as the
domain names elsewhere); a non-ASCII local part (``müller@example.nl``) needs the server's
SMTPUTF8 extension: the email is then sent with ``SMTPUTF8`` and UTF-8 headers, and without
it the email fails with that reason.

Every email is marked ``Auto-Submitted: auto-generated`` (RFC 3834), so auto-responders and
vacation replies leave it alone; a customer email says where a reply goes (``Reply-To``, see
``notifications.reply_to_for``). The sender may be ``Name <address>``: the envelope and the
``Message-ID`` use its address's domain (IDNA-encoded).
"""

from __future__ import annotations

import contextlib
import email.policy
import functools
import logging
import random
import re
import smtplib
import socket
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from email.header import Header
from email.utils import formataddr, formatdate, getaddresses, make_msgid, parseaddr
from typing import TYPE_CHECKING, NamedTuple

import idna

from renewal_reminder.renewals.email_templates import (
    RenderedEmail,
    TemplateProblem,
    html_document,
    one_line,
)
from renewal_reminder.renewals.validation import InvalidValue, normalize_email

if TYPE_CHECKING:
    from flask_mail import _Mail  # Flask-Mail's settings: session.current_mail()

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MailSettings:
    """Where links in emails point and who sends them (the product's settings BASE_URL,
    URL_PREFIX and MAIL_SENDER, see ``renewal_reminder.settings``), and who receives sales
    notifications of relations without an active sales contact (SALES_FALLBACK_EMAIL)."""

    base_url: str
    sender: str
    url_prefix: str = ""
    sales_fallback: tuple[str, ...] = ()

    @classmethod
    def from_config(cls, config: Mapping) -> MailSettings:
        """Raises ``InvalidValue`` when SALES_FALLBACK_EMAIL holds an invalid address."""
        fallback = []
        for address in str(config.get("SALES_FALLBACK_EMAIL") or "").split(","):
            if address.strip():
                try:
                    fallback.append(normalize_email(address))
                except InvalidValue as exc:
                    raise InvalidValue(f"SALES_FALLBACK_EMAIL: {exc}") from None
        return cls(
            base_url=str(config.get("BASE_URL") or "").rstrip("/"),
            sender=str(config.get("MAIL_SENDER") or "renewals@localhost"),
            url_prefix=str(config.get("URL_PREFIX") or "").rstrip("/"),
            sales_fallback=tuple(fallback),
        )

    def url(self, path: str) -> str:
        """An absolute link to one of the product's pages: ``url("/renewals/")``."""
        return f"{self.base_url}{self.url_prefix}/{path.lstrip('/')}"


@dataclass
class OutgoingEmail:
    to: str
    #: The email, or a function returning it: ``Outbox`` calls it, so an exception while
    #: rendering (or building the template's context) fails only this email.
    rendered: RenderedEmail | Callable[[], RenderedEmail]
    bcc: list[str] = field(default_factory=list)
    #: Anything the caller needs back with the result (e.g. the reminders it carries).
    tag: object = None
    #: Where a reply goes (one address, or several separated by commas); ``None``: no
    #: ``Reply-To``, replies go to the sender.
    reply_to: str | None = None

    def render(self) -> RenderedEmail:
        return self.rendered() if callable(self.rendered) else self.rendered


@dataclass
class SendResult:
    email: OutgoingEmail
    error: str | None = None
    #: The email's template failed to render: nothing was sent (the data or the template
    #: needs fixing, not the mail server).
    template_problem: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None


class _Wire(NamedTuple):
    """One email ready for ``sendmail``."""

    recipients: list[str]  # envelope: the addressee first, then the BCC copies
    data: bytes
    #: Sender or addressee with a non-ASCII local part: needs SMTPUTF8.
    international: list[str]
    #: BCC copies with a non-ASCII local part: dropped when the server lacks SMTPUTF8.
    international_bcc: list[str]


class Outbox:
    """One SMTP connection, opened on first use and reused for every email until ``close``.

    ``mail`` is Flask-Mail's settings object (``session.current_mail()``). Every email gets a
    ``SendResult``; nothing it does raises (see the module's docstring). A refused recipient
    fails only its email. A dropped connection is reopened once per email. If the server
    cannot be reached at all, every remaining email fails at once with that reason instead
    of each waiting for its own timeout. With ``MAIL_SUPPRESS_SEND`` emails are rendered and
    built but nothing leaves the process.
    """

    def __init__(self, mail: _Mail, sender: str):
        self._mail = mail
        self._sender = sender
        self._connection: smtplib.SMTP | None = None
        self._unreachable: str | None = None
        self._envelope_sender: str | None = None  # worked out with the first email
        self._sender_international = False
        self._bcc_left_out: set[str] = set()  # warned about once per run

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def send(
        self,
        emails: Iterable[OutgoingEmail],
        build_ahead: bool = False,
        before_accept: Callable[[], None] | None = None,
    ) -> Iterator[SendResult]:
        """Send one email at a time, yielding its result as soon as it is known: record each
        result as it comes (the next email goes out only after that, or, with
        ``before_accept``, is accepted only after that).

        ``build_ahead``: render and build the next email in a second thread while this one is
        on the wire and its result is being recorded, so that the building hides behind the
        mail server's answers (a run's emails/s is otherwise its building plus its round
        trips). Only for emails whose rendering needs nothing but the values it was given: the
        thread has no database session, no request and no app context. The sending itself
        does not change: one email at a time, in order, on the caller's thread.

        ``before_accept``: called in each SMTP transaction once the server has said to go
        ahead with the message (its 354 answer to DATA), before the message and its final
        ``.`` line go out in one write, after which the server accepts it. A caller that
        records the previous email's outcome in the background waits for that record here:
        the commit overlaps this email's round trips (MAIL, RCPT, DATA), and still no email
        can be accepted while the previous one's outcome is uncommitted. Whatever it raises
        is not this email's failure: the connection is dropped before the message (the
        server discards the transaction) and the exception stops the sending, raised to the
        caller."""
        try:
            if not build_ahead:
                for outgoing in emails:
                    yield self._deliver(outgoing, self._prepare(outgoing), before_accept)
                return
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox-build") as builder:
                current: tuple[OutgoingEmail, Future] | None = None
                for outgoing in emails:
                    upcoming = (outgoing, builder.submit(self._prepare, outgoing))
                    if current is not None:  # sent while the upcoming one is being built
                        yield self._deliver(current[0], current[1].result(), before_accept)
                    current = upcoming
                if current is not None:
                    yield self._deliver(current[0], current[1].result(), before_accept)
        except _SendingStopped as stopped:
            raise stopped.reason from None

    def send_one(self, outgoing: OutgoingEmail) -> SendResult:
        """Render, build and send one email; every problem is its result, never raised."""
        return self._deliver(outgoing, self._prepare(outgoing))

    def _prepare(self, outgoing: OutgoingEmail) -> _Wire | SendResult:
        """The email ready for the wire, or (it could not be built) its result."""
        try:
            return self._build(outgoing)
        except TemplateProblem as exc:
            return SendResult(outgoing, f"template error: {exc}", template_problem=True)
        except Exception as exc:  # a bug or bad data in this email only: report, go on
            log.exception("could not build the email to %s", outgoing.to)
            return SendResult(outgoing, f"the email could not be built: {_explain(exc)}")

    def _deliver(
        self,
        outgoing: OutgoingEmail,
        wire: _Wire | SendResult,
        before_accept: Callable[[], None] | None = None,
    ) -> SendResult:
        """Send a prepared email (see ``_send_one``); its result."""
        if isinstance(wire, SendResult):
            return wire
        if self._mail.suppress:
            return SendResult(outgoing)
        if self._unreachable:
            return SendResult(outgoing, self._unreachable)
        try:
            return SendResult(outgoing, self._send_one(outgoing, wire, before_accept))
        except _SendingStopped:
            raise
        except Exception as exc:  # not an SMTP or socket error: this email's, not the run's
            log.exception("could not send the email to %s", outgoing.to)
            self._drop()  # the connection may be stuck half-way through a transaction
            return SendResult(outgoing, f"the email could not be sent: {_explain(exc)}")

    def _build(self, outgoing: OutgoingEmail) -> _Wire:
        if self._envelope_sender is None:
            address = split_sender(self._sender)[1]
            self._envelope_sender = _envelope_address(address)
            self._sender_international = not _local_part(address).isascii()
        rendered = outgoing.render()
        international = [self._sender] if self._sender_international else []
        if not outgoing.to.isascii() and not _local_part(outgoing.to).isascii():
            international.append(outgoing.to)
        recipients = [_envelope_address(outgoing.to), *map(_envelope_address, outgoing.bcc)]
        international_bcc = [bcc for bcc in outgoing.bcc if not _local_part(bcc).isascii()]
        # The Message-ID's domain: the sender address's, as on the wire (punycode).
        domain = self._envelope_sender.rpartition("@")[2] if "@" in self._envelope_sender else None
        data = _mime(outgoing, rendered, self._sender, domain, utf8=bool(international))
        return _Wire(recipients, data, international, international_bcc)

    def _send_one(
        self,
        outgoing: OutgoingEmail,
        wire: _Wire,
        before_accept: Callable[[], None] | None = None,
    ) -> str | None:
        """Send on the open connection (opening one if needed); the error text, or None.

        Only a server that cannot be connected to (or logged in to) fails the rest of the run
        at once. A connection lost during one email fails that email; it is retried on a new
        connection only when the old one was reused and had not yet carried the message
        (a server that closed an idle connection), never once DATA went out, so a message
        whose answer was lost is not sent twice here (the next run retries a failed one).
        """
        for _attempt in (1, 2):
            reused = self._connection is not None
            if not reused:
                try:
                    self._connection = _open(self._mail)
                except (smtplib.SMTPException, OSError) as exc:
                    self._connection = None
                    self._unreachable = f"mail server unreachable or unusable: {exc}"
                    return self._unreachable
            try:
                return self._transaction(outgoing, wire, before_accept)
            except smtplib.SMTPRecipientsRefused as exc:
                return f"refused: {_describe(exc.recipients)}"
            except smtplib.SMTPResponseException as exc:  # this message was refused
                return f"mail server error: {exc.smtp_code} {exc.smtp_error!r}"
            except smtplib.SMTPNotSupportedError as exc:
                return f"the mail server does not support this email: {exc}"
            except _LostBeforeData as exc:
                self._drop()
                if reused:
                    continue  # the server had closed the idle connection: once more
                return f"the connection was lost while sending: {exc.__cause__}"
            except (smtplib.SMTPServerDisconnected, OSError) as exc:  # during or after DATA
                self._drop()
                return f"the connection was lost while sending (it may have arrived): {exc}"
        return "the connection was lost twice while sending"

    def _transaction(
        self,
        outgoing: OutgoingEmail,
        wire: _Wire,
        before_accept: Callable[[], None] | None = None,
    ) -> str | None:
        """MAIL, RCPT and DATA for one email (smtplib's ``sendmail`` in steps, so that a lost
        connection is known to have happened before or after the message went out), with
        ``before_accept`` (see ``send``) just before the message goes out."""
        connection = self._connection
        try:
            connection.ehlo_or_helo_if_needed()
            recipients, options = wire.recipients, []
            if wire.international or wire.international_bcc:
                if connection.has_extn("smtputf8"):
                    options = ["SMTPUTF8", "BODY=8BITMIME"]
                elif wire.international:
                    return (
                        "the mail server does not accept international (SMTPUTF8) "
                        f"addresses: {', '.join(wire.international)}"
                    )
                else:
                    recipients = self._without_international_bcc(wire)
            if connection.does_esmtp and connection.has_extn("size"):
                options.append(f"size={len(wire.data)}")
            code, response = connection.mail(self._envelope_sender, options)
            if code != 250:
                _reset(connection)
                raise smtplib.SMTPSenderRefused(code, response, self._envelope_sender)
            refused = {}
            for recipient in recipients:
                code, response = connection.rcpt(recipient)
                if code not in (250, 251):
                    refused[recipient] = (code, response)
            if recipients[0] in refused:
                _reset(connection)
                return f"refused: {_describe({outgoing.to: refused[recipients[0]]})}"
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            raise _LostBeforeData() from exc
        if before_accept is None:
            code, response = connection.data(wire.data)
        else:
            code, response = self._data_then_accept(wire.data, before_accept)
        if code != 250:
            _reset(connection)
            raise smtplib.SMTPDataError(code, response)
        return None

    def _data_then_accept(
        self, data: bytes, before_accept: Callable[[], None]
    ) -> tuple[int, bytes]:
        """smtplib's ``SMTP.data``, calling ``before_accept`` between the server's go-ahead
        (354) and the message, which then goes out with its final ``.`` line in one write (one
        segment, as smtplib sends it). If it raises, the connection is closed where it is (a
        QUIT would be read as part of the message, and never answered): the server discards
        the unfinished transaction."""
        connection = self._connection
        connection.putcmd("data")
        code, response = connection.getreply()
        if code != 354:
            raise smtplib.SMTPDataError(code, response)
        message = _LINE_STARTING_WITH_DOT.sub(b"..", data)
        if not message.endswith(b"\r\n"):
            message += b"\r\n"
        try:
            before_accept()
        except BaseException as exc:
            connection.close()
            self._connection = None
            if isinstance(exc, Exception):
                raise _SendingStopped(exc) from exc
            raise
        connection.send(message + b".\r\n")
        return connection.getreply()

    def _without_international_bcc(self, wire: _Wire) -> list[str]:
        """The recipients without BCC copies the server cannot take (warned once per run)."""
        if not self._bcc_left_out.issuperset(wire.international_bcc):
            self._bcc_left_out.update(wire.international_bcc)
            log.warning(
                "BCC to %s left out: the mail server does not accept international (SMTPUTF8) "
                "addresses",
                ", ".join(wire.international_bcc),
            )
        skip = {_envelope_address(bcc) for bcc in wire.international_bcc}
        return [wire.recipients[0], *(r for r in wire.recipients[1:] if r not in skip)]

    def _drop(self) -> None:
        _close(self._connection)
        self._connection = None

    def close(self) -> None:
        self._drop()


def send_all(mail: _Mail, emails: Iterable[OutgoingEmail], sender: str) -> list[SendResult]:
    """Send a few emails over one connection (see ``Outbox``); a result for each, in order."""
    with Outbox(mail, sender) as outbox:
        return list(outbox.send(emails))


#: Headers that do not fit on one line (or, without ``utf8``, hold non-ASCII text) are folded
#: and encoded by the email package's policies, exactly as its generator would; the rest, almost
#: every header of almost every email, are written as they are (see ``_header``).
_WIRE_POLICY = email.policy.compat32.clone(linesep="\r\n")
#: For an email to or from a non-ASCII local part: UTF-8 headers, sent with SMTPUTF8.
_UTF8_POLICY = email.policy.SMTPUTF8
#: RFC 5322's recommended line length, the one the email package folds at.
_MAX_LINE = 78
#: One body part, laid out as the compat32 generator writes a ``MIMEText(text, subtype,
#: "utf-8")`` under Flask-Mail's charset registration (which every app using this has
#: imported: UTF-8 bodies unencoded, ``7bit`` or ``8bit``, with CRLF line breaks).
_PART = (
    "--{boundary}\r\n"
    'Content-Type: text/{subtype}; charset="utf-8"\r\n'
    "MIME-Version: 1.0\r\n"
    "Content-Transfer-Encoding: {encoding}\r\n"
    "\r\n"
    "{body}\r\n"
)


def _mime(
    outgoing: OutgoingEmail,
    rendered: RenderedEmail,
    sender: str,
    sender_domain: str | None,
    utf8: bool,
) -> bytes:
    """A multipart/alternative message (plain text and HTML) as bytes for the wire; with
    ``utf8`` its headers are UTF-8 (only for a server that accepts SMTPUTF8). ``sender_domain``
    is the sender address's domain, ready for the wire (the ``Message-ID``'s right side).

    Written from one template rather than through ``email.generator`` (which re-folds every
    header and re-serialises every part: once most of a reminder run's CPU time). The bytes are
    the compat32 generator's for a ``MIMEMultipart`` of two UTF-8 ``MIMEText`` parts (tests
    hold the two to the same bytes, and to the same headers and parts with SMTPUTF8)."""
    subject = one_line(rendered.subject)
    reply_to = _reply_to(outgoing.reply_to, utf8)
    to = outgoing.to if utf8 or outgoing.to.isascii() else _envelope_address(outgoing.to)
    headers = [
        ("Subject", subject),
        ("From", _from(sender, utf8)),
        ("To", to),
        *([("Reply-To", reply_to)] if reply_to else []),
        ("Date", formatdate(localtime=True)),
        ("Message-ID", make_msgid(domain=sender_domain)),
        ("Auto-Submitted", AUTO_SUBMITTED),
    ]
    text, html = _crlf(rendered.text), _crlf(html_document(rendered.html))
    boundary = _boundary()
    while f"--{boundary}" in text or f"--{boundary}" in html:  # as the generator: never
        boundary = _boundary()
    message = "".join(
        (
            f'Content-Type: multipart/alternative;\r\n boundary="{boundary}"\r\n',
            "MIME-Version: 1.0\r\n",
            *(_header(name, value, utf8) for name, value in headers),
            "\r\n",
            _PART.format(boundary=boundary, subtype="plain", encoding=_bits(text), body=text),
            _PART.format(boundary=boundary, subtype="html", encoding=_bits(html), body=html),
            f"--{boundary}--\r\n",
        )
    )
    return message.encode("utf-8")  # the headers are ASCII unless utf8


def _header(name: str, value: str, utf8: bool) -> str:
    """One header line (or folded lines) for the wire. A value with a line break is refused: it
    would start a header of its own."""
    if "\n" in value or "\r" in value:
        raise ValueError(f"the {name} header would contain a line break: {value!r}")
    if len(name) + 2 + len(value) <= _MAX_LINE and (utf8 or value.isascii()):
        return f"{name}: {value}\r\n"
    if utf8:
        return _UTF8_POLICY.fold(name, value)
    return _WIRE_POLICY.fold(name, value if value.isascii() else Header(value, "utf-8"))


def _boundary() -> str:
    """A random MIME boundary, as ``email.generator`` makes them."""
    return f"{'=' * 15}{random.randrange(sys.maxsize):019d}=="


def _crlf(text: str) -> str:
    """Every line break (CRLF, LF or a lone CR) as CRLF, the wire's."""
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n")


def _bits(text: str) -> str:
    """The Content-Transfer-Encoding of a body part sent as it is."""
    return "7bit" if text.isascii() else "8bit"


#: RFC 3834: sent by a program, not a person (auto-responders do not answer it).
AUTO_SUBMITTED = "auto-generated"


def split_sender(sender: str) -> tuple[str, str]:
    """``("Name", "address")`` of a sender written ``Name <address>`` (the name may be
    unquoted, even with a comma: ``Acme, Inc. <renewals@acme.com>``), ``("", "address")`` of a
    bare address."""
    text = sender.strip()
    if text.endswith(">") and "<" in text:
        name, _, address = text[:-1].rpartition("<")
        name = name.strip()
        if len(name) >= 2 and name[0] == name[-1] == '"':
            name = name[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        return name, address.strip()
    name, address = parseaddr(text)
    return (name, address) if "@" in address else ("", text)


#: Parsing and formatting addresses was most of building a message: the sender is the same for
#: every email and a run's Reply-To addresses are a handful of sales contacts, so their header
#: values are kept (pure functions of their arguments; a failure is not kept).
_ADDRESS_CACHE = 1024


@functools.lru_cache(maxsize=_ADDRESS_CACHE)
def _from(sender: str, utf8: bool) -> str:
    """The ``From`` header's value; without ``utf8`` the domain in punycode."""
    name, address = split_sender(sender)
    return _mailbox(name, address if utf8 else _envelope_address(address))


def _reply_to(reply_to: str | None, utf8: bool) -> str | None:
    """The ``Reply-To`` header's value; without ``utf8`` an address with a non-ASCII local part
    cannot be written, and is left out (the email still goes)."""
    if not reply_to:
        return None
    value, left_out = _reply_to_header(reply_to, utf8)
    for address in left_out:
        log.info("Reply-To %s left out: it needs SMTPUTF8", address)
    return value


@functools.lru_cache(maxsize=_ADDRESS_CACHE)
def _reply_to_header(reply_to: str, utf8: bool) -> tuple[str | None, tuple[str, ...]]:
    """``_reply_to``'s value, and the addresses it had to leave out."""
    addresses, left_out = [], []
    for name, address in getaddresses([reply_to]):
        if "@" not in address:
            continue
        if not utf8:
            if not _local_part(address).isascii():
                left_out.append(address)
                continue
            address = _envelope_address(address)
        addresses.append(_mailbox(name, address))
    return ", ".join(addresses) or None, tuple(left_out)


def _mailbox(name: str, address: str) -> str:
    """``Name <address>``, the name quoted or (non-ASCII) encoded as needed; an address with a
    non-ASCII local part only goes in UTF-8 headers."""
    if address.isascii():
        return formataddr((name, address), charset="utf-8")
    if not name:
        return address
    return f"{formataddr((name, 'x@x'), charset='utf-8')[: -len('<x@x>')]}<{address}>"


def _local_part(address: str) -> str:
    return address.rpartition("@")[0]


def _envelope_address(address: str) -> str:
    """The address for the SMTP envelope: an internationalised domain in punycode (IDNA 2008,
    like domain names elsewhere). A non-ASCII local part stays: it needs SMTPUTF8."""
    if address.isascii():
        return address
    local, _, domain = address.rpartition("@")
    if domain.isascii():
        return address
    return f"{local}@{idna.encode(domain, uts46=True).decode('ascii')}"


def _explain(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


#: A message line starting with a dot gets a second one on the wire (RFC 5321 4.5.2), as in
#: smtplib's ``data``.
_LINE_STARTING_WITH_DOT = re.compile(rb"(?m)^\.")


class _SendingStopped(Exception):
    """``before_accept`` raised ``reason``: not the email's failure, the caller's (see ``send``)."""

    def __init__(self, reason: Exception):
        super().__init__(str(reason))
        self.reason = reason


class _LostBeforeData(Exception):
    """The connection broke before the message itself was sent (MAIL or RCPT)."""


def _reset(connection: smtplib.SMTP) -> None:
    """RSET after a refusal, so the connection can carry the next email."""
    with contextlib.suppress(smtplib.SMTPException, OSError):
        connection.rset()


def _open(mail: _Mail) -> smtplib.SMTP:
    host_class = smtplib.SMTP_SSL if mail.use_ssl else smtplib.SMTP
    connection = host_class(mail.server, mail.port, timeout=30)
    # Every write goes out at once: a command or a message written while the answer to the
    # previous write is still unacknowledged would otherwise wait for the server's delayed ACK.
    with contextlib.suppress(OSError, AttributeError):
        connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        if mail.use_tls:
            connection.starttls()
        if mail.username and mail.password:
            connection.login(mail.username, mail.password)
    except BaseException:
        _close(connection)
        raise
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
