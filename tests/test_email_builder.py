"""The message builder (``mailer._mime``) writes its bytes from one template instead of through
``email.generator``; these tests hold it to the email package's own construction, kept here as
the reference: the same headers and the same parts once parsed, for ASCII and non-ASCII names,
subjects and addresses, with and without SMTPUTF8; and, for the usual ASCII email, the very
same bytes (the random boundary, the date and the Message-ID made equal)."""

from __future__ import annotations

import email
import email.policy
import random
import sys
from email.header import Header
from email.message import EmailMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formatdate, make_msgid

import flask_mail  # noqa: F401  (its UTF-8 body setting: the app's, the reference's)
import pytest

from renewal_reminder.renewals import mailer
from renewal_reminder.renewals.email_templates import RenderedEmail, html_document, one_line


def email_package_mime(
    outgoing: mailer.OutgoingEmail,
    rendered: RenderedEmail,
    sender: str,
    sender_domain: str | None,
    utf8: bool,
) -> bytes:
    """The builder as it was: ``MIMEMultipart``/``EmailMessage`` and the email generator."""
    subject = one_line(rendered.subject)
    message_id = make_msgid(domain=sender_domain)
    name, address = mailer.split_sender(sender)
    reply_to = mailer._reply_to(outgoing.reply_to, utf8)
    if utf8:
        message = EmailMessage(policy=email.policy.SMTPUTF8)
        message["Subject"] = subject
        message["From"] = mailer._mailbox(name, address)
        message["To"] = outgoing.to
        if reply_to:
            message["Reply-To"] = reply_to
        message["Date"] = formatdate(localtime=True)
        message["Message-ID"] = message_id
        message["Auto-Submitted"] = mailer.AUTO_SUBMITTED
        message.set_content(rendered.text)
        message.add_alternative(html_document(rendered.html), subtype="html")
        return message.as_bytes()
    message = MIMEMultipart("alternative")
    message["Subject"] = subject if subject.isascii() else Header(subject, "utf-8")
    message["From"] = mailer._mailbox(name, mailer._envelope_address(address))
    message["To"] = outgoing.to if outgoing.to.isascii() else mailer._envelope_address(outgoing.to)
    if reply_to:
        message["Reply-To"] = reply_to
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = mailer.AUTO_SUBMITTED
    message.attach(MIMEText(rendered.text, "plain", "utf-8"))
    message.attach(MIMEText(html_document(rendered.html), "html", "utf-8"))
    return message.as_bytes(policy=email.policy.compat32.clone(linesep="\r\n"))


TEXT = "Dear Customer,\n\nThe following domainname(s) expire in 5 days:\n- bücher.nl: 2027-01-15\n"
HTML = "<p>Dear Customer,</p>\n<ul><li>bücher.nl &amp; café.com</li></ul>\n"
DATE = "Fri, 15 Jan 2027 06:00:00 +0100"
LONG = "Renewal reminder for " + " ".join(f"domain{i}.nl" for i in range(30))
CASES = {
    "ascii": ("anna@example.com", "Renewal reminder", "Acme <renewals@acme.example>", None),
    "non-ascii subject and name": (
        "anna@example.com",
        "Herinnering: uw domeinnamen verlopen — café.nl",
        "Bücher & Söhne <renewals@acme.example>",
        "Zoë de Vries <sales@acme.example>",
    ),
    "quoted name, reply-to list": (
        "anna@example.com",
        "Reminder",
        "Acme, Inc. <renewals@acme.example>",
        "team@acme.example, Boss <boss@acme.example>",
    ),
    "long subject": ("anna@example.com", LONG, "renewals@acme.example", None),
    "long non-ascii subject": ("anna@example.com", LONG + " — café", "r@acme.example", None),
    "international domains": (
        "anna@bücher.example",
        "Reminder",
        "Bücher <renewals@bücher.example>",
        "sales@café.example",
    ),
    "smtputf8": ("müller@example.nl", "Herinnering — café", "Acme <renewals@acme.example>", None),
    "smtputf8 sender": (
        "anna@example.com",
        "Reminder",
        "Bücher <verlängerung@bücher.example>",
        "Jürgen <jürgen@acme.example>",
    ),
    "empty text": ("anna@example.com", "Reminder", "renewals@acme.example", None),
}


def build_both(case: str, monkeypatch) -> tuple[bytes, bytes]:
    to, subject, sender, reply_to = CASES[case]
    text = "" if case == "empty text" else TEXT
    rendered = RenderedEmail(subject, text, HTML)
    outgoing = mailer.OutgoingEmail(to, rendered, reply_to=reply_to)
    address = mailer.split_sender(sender)[1]
    utf8 = not address.rpartition("@")[0].isascii() or not to.rpartition("@")[0].isascii()
    domain = mailer._envelope_address(address).rpartition("@")[2]
    # The same "random" boundary, date and Message-ID for both builders.
    for module in (mailer, sys.modules[__name__]):
        monkeypatch.setattr(module, "formatdate", lambda localtime: DATE)
        monkeypatch.setattr(module, "make_msgid", lambda domain: f"<1.2.3@{domain}>")
    random.seed(7)
    fast = mailer._mime(outgoing, rendered, sender, domain, utf8)
    random.seed(7)
    reference = email_package_mime(outgoing, rendered, sender, domain, utf8)
    return fast, reference


def parsed(data: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(data, policy=email.policy.default)


def readable(value) -> str | None:
    """A parsed header (or address) as text: the parser leaves raw UTF-8 (SMTPUTF8) as
    surrogates, an encoded word is decoded."""
    if value is None:
        return None
    return str(value).encode("utf-8", "surrogateescape").decode("utf-8")


def canonical(text: str) -> str:
    """Text with its line breaks as the reader sees them (the SMTPUTF8 reference sends CRLF)."""
    return text.replace("\r\n", "\n")


@pytest.mark.parametrize("case", list(CASES))
def test_the_same_headers_and_parts_as_the_email_package(case, monkeypatch):
    fast, reference = build_both(case, monkeypatch)
    ours, theirs = parsed(fast), parsed(reference)
    wanted = ("Subject", "From", "To", "Reply-To", "Date", "Message-ID", "Auto-Submitted")
    for name in wanted:
        assert readable(ours[name]) == readable(theirs[name]), name
        assert [readable(a) for a in getattr(ours[name], "addresses", ())] == [
            readable(a) for a in getattr(theirs[name], "addresses", ())
        ], name
    assert ours.get_content_type() == theirs.get_content_type() == "multipart/alternative"
    assert ours["MIME-Version"] == "1.0"
    our_parts, their_parts = list(ours.iter_parts()), list(theirs.iter_parts())
    assert [p.get_content_type() for p in our_parts] == ["text/plain", "text/html"]
    assert [p.get_content_type() for p in their_parts] == ["text/plain", "text/html"]
    for mine, reference_part in zip(our_parts, their_parts, strict=True):
        assert mine.get_content_charset() == "utf-8"
        assert canonical(mine.get_content()) == canonical(reference_part.get_content())
    html = our_parts[1].get_content()
    assert html.startswith("<!DOCTYPE html>") and "bücher.nl &amp; café.com" in html
    # Every line ends in CRLF, and no header line is longer than the email package's longest (78,
    # or a little more for an encoded subject: its first encoded word does not count
    # "Subject: ").
    lines = fast.split(b"\r\n")
    assert b"\n" not in b"".join(lines) and b"\r" not in b"".join(lines)
    header_lines = fast.partition(b"\r\n\r\n")[0].decode("utf-8").split("\r\n")
    reference_lines = reference.partition(b"\r\n\r\n")[0].decode("utf-8").split("\r\n")
    assert max(map(len, header_lines)) <= max(78, *map(len, reference_lines))


@pytest.mark.parametrize(
    "case",
    [
        "ascii",
        "non-ascii subject and name",
        "quoted name, reply-to list",
        "long subject",
        "long non-ascii subject",
        "international domains",
        "empty text",
    ],
)
def test_the_same_bytes_as_the_email_package_without_smtputf8(case, monkeypatch):
    fast, reference = build_both(case, monkeypatch)
    assert fast == reference


def test_a_line_break_in_a_header_fails_the_email_only(app, smtp):
    rendered = RenderedEmail("Hi", "text", "<p>html</p>")
    with app.app_context():
        results = mailer.send_all(
            app.extensions["renewal_reminder"].mail,
            [mailer.OutgoingEmail("anna@example.com", rendered)],
            "Acme\r\nBcc: victim@example.com <renewals@acme.example>",
        )
    assert results[0].error.startswith("the email could not be built: ValueError")
    assert smtp.messages == []
