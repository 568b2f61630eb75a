"""Emails that look like they come from a business: every automated email says so
(``Auto-Submitted: auto-generated``, RFC 3834); a customer's email (reminder, confirmation
request, receipt) has a ``Reply-To`` to its sales contact, or SALES_FALLBACK_EMAIL, or none; the
``Message-ID`` carries the sender's domain, also for a ``Name <address>`` sender; and without a
configured sender the product sends as ``Renewal Reminder <renewals@HOST>`` of BASE_URL.

All through the real SMTP server on loopback (conftest's ``smtp``)."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from renewal_reminder import settings
from renewal_reminder.jobs import run_reminders
from renewal_reminder.renewals import mailer
from renewal_reminder.renewals.email_templates import RenderedEmail, ensure_default_templates
from renewal_reminder.session import current_mail
from tests.test_confirmation import send_request
from tests.test_every_decision_reaches_a_person import renew_c2

TODAY = dt.date.today()
#: RFC 5322 msg-id: ``<left@right>``, both dot-atoms here (make_msgid's left side is one).
MESSAGE_ID = re.compile(r"^<[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+>$")


@pytest.fixture
def templates(session):
    ensure_default_templates(session)


def due_in_five_days(session, world, relation) -> None:
    """Make ``relation``'s domain due for its 5-day reminder today."""
    domain = {world.c2: world.d_c2, world.c1: world.d_c1, world.r1: world.d_r1}[relation]
    domain.expiry_date = TODAY + dt.timedelta(days=5)
    session.commit()


def run(app) -> None:
    """The reminder run (the world's other domains may be due too: each gets its email)."""
    summary = run_reminders(app, TODAY)
    assert summary.sent >= 1 and summary.failed == 0, summary.problems


def envelope_sender(smtp, address: str) -> str:
    return next(sender for sender, recipients in smtp.envelopes if address in recipients)


def only(messages):
    [message] = messages
    return message


def automated(message) -> bool:
    return message["Auto-Submitted"] == "auto-generated"


# --- customer emails: Auto-Submitted and Reply-To --------------------------------------------


def test_a_reminder_is_automated_and_replies_go_to_the_sales_contact(
    app, world, session, smtp, templates
):
    due_in_five_days(session, world, world.c2)
    run(app)
    message = only(smtp.to("c2@example.com"))
    assert automated(message)
    assert message["Reply-To"] == "sales-b@example.com"
    assert message["From"] == "renewals@reseller.example.com"
    assert MESSAGE_ID.match(message["Message-ID"])
    assert message["Message-ID"].endswith("@reseller.example.com>")
    # The HTML part is a whole document (test_email_html checks what is in it).
    html = message.get_body(preferencelist=("html",)).get_content()
    assert html.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in html


def test_a_reminder_of_a_client_without_own_contact_replies_to_its_resellers(
    app, world, session, smtp, templates
):
    world.c1.sales_contact_id = None  # Sales A is the contact of its reseller R1
    world.c1.reminders_to_reseller = False  # its reminders go to Client One itself
    session.commit()
    due_in_five_days(session, world, world.c1)
    run(app)
    message = only(smtp.to("c1@example.com"))
    assert message["Reply-To"] == "sales-a@example.com"
    assert "sales-a@example.com" in message.get_body(("plain",)).get_content()


@pytest.mark.app_config(RENEWALS_SALES_FALLBACK_EMAIL="team@example.com, boss@example.com")
def test_without_sales_contact_replies_go_to_the_fallback(app, world, session, smtp, templates):
    world.c2.sales_contact_id = None
    session.commit()
    due_in_five_days(session, world, world.c2)
    run(app)
    message = only(smtp.to("c2@example.com"))
    assert automated(message)
    assert message["Reply-To"] == "team@example.com, boss@example.com"


def test_without_sales_contact_or_fallback_there_is_no_reply_to(
    app, world, session, smtp, templates
):
    world.sales_b.active = False  # a deactivated contact is nobody to reply to
    session.commit()
    due_in_five_days(session, world, world.c2)
    run(app)
    message = only(smtp.to("c2@example.com"))
    assert automated(message)
    assert message["Reply-To"] is None
    assert "sales-b@example.com" not in message.get_body(("plain",)).get_content()


def test_a_confirmation_request_is_automated_and_replies_go_to_the_sales_contact(
    client, world, smtp, templates
):
    assert send_request(client, world, world.d_c2).status_code == 302
    message = only(smtp.to("c2@example.com"))
    assert automated(message)
    assert message["Reply-To"] == "sales-b@example.com"
    assert MESSAGE_ID.match(message["Message-ID"])


@pytest.mark.app_config(RENEWALS_SALES_FALLBACK_EMAIL="team@example.com")
def test_a_confirmation_request_without_sales_contact_replies_to_the_fallback(
    client, world, session, smtp, templates
):
    world.c2.sales_contact_id = None
    session.commit()
    send_request(client, world, world.d_c2)
    assert only(smtp.to("c2@example.com"))["Reply-To"] == "team@example.com"


def test_a_sales_notification_is_automated_and_the_receipt_replies_to_sales(
    client, world, smtp, templates
):
    renew_c2(client, world)
    notification = only(smtp.to("sales-b@example.com"))
    assert automated(notification)
    assert notification["Reply-To"] is None  # to the sales contact: replies go to the sender
    assert MESSAGE_ID.match(notification["Message-ID"])
    receipt = only(smtp.to("c2@example.com"))
    assert automated(receipt)
    assert receipt["Reply-To"] == "sales-b@example.com"


# --- the sender ---------------------------------------------------------------------------


@pytest.mark.app_config(RENEWALS_MAIL_SENDER="Acme Hosting, Inc. <renewals@acme.example>")
def test_a_named_sender_gives_a_well_formed_message_id(app, world, session, smtp, templates):
    due_in_five_days(session, world, world.c2)
    run(app)
    message = only(smtp.to("c2@example.com"))
    assert MESSAGE_ID.match(message["Message-ID"]), message["Message-ID"]
    assert message["Message-ID"].endswith("@acme.example>")
    assert message["From"].addresses[0].display_name == "Acme Hosting, Inc."
    assert message["From"].addresses[0].addr_spec == "renewals@acme.example"
    assert envelope_sender(smtp, "c2@example.com") == "renewals@acme.example"


def test_an_international_sender_domain_is_idna_encoded_in_the_message_id(app, smtp):
    sender = "Bücher Hosting <renewals@bücher.example>"
    with app.app_context():
        [result] = mailer.send_all(
            current_mail(),
            [mailer.OutgoingEmail("anna@example.com", RenderedEmail("Hi", "text", "<p>html</p>"))],
            sender,
        )
    assert result.ok, result.error
    message = only(smtp.messages)
    assert automated(message)
    assert message["Message-ID"].endswith("@xn--bcher-kva.example>")
    assert MESSAGE_ID.match(message["Message-ID"])
    assert smtp.envelopes[0][0] == "renewals@xn--bcher-kva.example"


def test_a_reply_to_with_an_international_domain_goes_in_punycode(app, smtp):
    outgoing = mailer.OutgoingEmail(
        "anna@example.com",
        RenderedEmail("Hi", "text", "<p>html</p>"),
        reply_to="Sales <sales@bücher.example>",
    )
    with app.app_context():
        [result] = mailer.send_all(current_mail(), [outgoing], "renewals@example.com")
    assert result.ok, result.error
    assert only(smtp.messages)["Reply-To"] == "Sales <sales@xn--bcher-kva.example>"


@pytest.mark.app_config(
    MAIL_DEFAULT_SENDER=None, RENEWALS_BASE_URL="https://renewals.acme.example/"
)
def test_without_a_configured_sender_it_comes_from_the_base_urls_host(
    app, world, session, smtp, templates
):
    due_in_five_days(session, world, world.c2)
    run(app)
    message = only(smtp.to("c2@example.com"))
    assert message["From"] == "Renewal Reminder <renewals@renewals.acme.example>"
    assert envelope_sender(smtp, "c2@example.com") == "renewals@renewals.acme.example"
    assert message["Message-ID"].endswith("@renewals.acme.example>")


@pytest.mark.parametrize(
    ("base_url", "sender"),
    [
        (
            "https://renewals.acme.example/auth/",
            "Renewal Reminder <renewals@renewals.acme.example>",
        ),
        ("https://Bücher.example:8443", "Renewal Reminder <renewals@xn--bcher-kva.example>"),
        ("http://127.0.0.1:5000", "renewals@localhost"),
        ("http://[2001:db8::1]/", "renewals@localhost"),
        ("http://localhost:5000", "renewals@localhost"),
        ("http://intranet/", "renewals@localhost"),
        ("", "renewals@localhost"),
    ],
)
def test_the_derived_default_sender(base_url, sender):
    assert settings.read({"RENEWALS_BASE_URL": base_url})["MAIL_SENDER"] == sender


def test_a_configured_sender_wins_over_the_derived_one():
    base = {"RENEWALS_BASE_URL": "https://renewals.acme.example"}
    assert settings.read(base | {"MAIL_DEFAULT_SENDER": "a@b.example"})["MAIL_SENDER"] == (
        "a@b.example"
    )
    assert settings.read(base | {"MAIL_DEFAULT_SENDER": ("Acme", "a@b.example")})[
        "MAIL_SENDER"
    ] == ("Acme <a@b.example>")
    assert settings.read(
        base | {"MAIL_DEFAULT_SENDER": "a@b.example", "RENEWALS_MAIL_SENDER": "c@d.example"}
    )["MAIL_SENDER"] == ("c@d.example")
