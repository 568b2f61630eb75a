"""Every decision reaches a person: a relation without an (active) sales contact is announced
to SALES_FALLBACK_EMAIL, else to the active Admins, and the customer is told what happened."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from renewal_reminder.models import ProcessingState, RenewalDecision
from renewal_reminder.renewals import mailer, notifications
from renewal_reminder.renewals.decisions import RecordedDecisions
from renewal_reminder.renewals.email_templates import ensure_default_templates
from renewal_reminder.renewals.validation import InvalidValue
from tests.conftest import client_in, login
from tests.test_confirmation import decide, emailed_code, send_request

CONTACT = "Your sales contact has been informed"
TEAM = "Our sales team has been informed"
RECORDED = "Your decisions have been recorded; our team will see them in the renewal queue"


@pytest.fixture
def templates(session):
    ensure_default_templates(session)


def renew_c2(client, world):
    """Client Two renews its domain on the selection page; the summary page's text."""
    login(client, world.client2_login.username)
    response = client.post(
        "/renewals/", data={f"decision-{world.d_c2.id}": "renew", f"years-{world.d_c2.id}": "1"}
    )
    assert response.status_code == 302
    return client.get(response.headers["Location"]).get_data(as_text=True)


def without_sales_contact(session, world):
    world.c2.sales_contact_id = None
    session.commit()


@pytest.mark.app_config(RENEWALS_SALES_FALLBACK_EMAIL="team@example.com, boss@example.com")
def test_a_relation_without_sales_contact_reaches_the_fallback_addresses(
    client, world, session, smtp
):
    without_sales_contact(session, world)
    page = renew_c2(client, world)
    assert TEAM in page and CONTACT not in page
    for address in ("team@example.com", "boss@example.com"):
        [email] = smtp.to(address)
        text = email.get_body(("plain",)).get_content()
        assert "Hello sales team," in text and "client-two.com - 1 year" in text
        assert "http://renewals.test/queue/?relation=200" in text
    assert not smtp.to("admin@example.com") and not smtp.to("sales-b@example.com")


def test_without_fallback_the_active_admins_are_told(client, world, session, smtp, make_user):
    retired = make_user("retired-admin@example.com", "Admin")
    retired.active = False
    session.commit()
    without_sales_contact(session, world)
    page = renew_c2(client, world)
    assert TEAM in page
    [email] = smtp.to("admin@example.com")
    assert "client-two.com" in email.get_body(("plain",)).get_content()
    assert not smtp.to("retired-admin@example.com")


@pytest.mark.app_config(RENEWALS_SALES_FALLBACK_EMAIL="team@example.com")
def test_a_deactivated_sales_login_is_skipped_for_the_fallback(client, world, session, smtp):
    world.sales_b.active = False
    session.commit()
    page = renew_c2(client, world)
    assert TEAM in page and CONTACT not in page
    assert smtp.to("team@example.com") and not smtp.to("sales-b@example.com")


@pytest.mark.app_config(RENEWALS_SALES_FALLBACK_EMAIL="team@example.com")
def test_a_confirmation_code_decision_of_a_deactivated_contact_reaches_the_fallback(
    client, world, session, smtp, templates
):
    world.sales_b.active = False
    session.commit()
    send_request(client, world, world.d_c2)
    code = emailed_code(smtp, "c2@example.com")
    smtp.clear()
    page = decide(client, code, "renew").get_data(as_text=True)
    assert "Our sales team has been informed and will carry out the renewal" in page
    assert "Your sales contact" not in page
    [email] = smtp.to("team@example.com")
    assert "http://renewals.test/queue/?relation=200" in email.get_body(("plain",)).get_content()
    assert not smtp.to("sales-b@example.com")


@pytest.mark.app_config(RENEWALS_REGISTRAR_BACKEND="simulated", RENEWALS_AUTO_DELETE=True)
def test_a_decline_says_when_the_domain_will_be_deleted_if_it_will(
    client, world, session, smtp, templates
):
    send_request(client, world, world.d_c2)
    code = emailed_code(smtp, "c2@example.com")
    page = decide(client, code, "decline", None).get_data(as_text=True)
    removal = (world.d_c2.expiry_date + dt.timedelta(days=1)).isoformat()
    assert f"will be deleted on {removal}" in page


def test_a_confirmation_code_decline_with_sales_contact_says_so(
    client, world, session, smtp, templates
):
    send_request(client, world, world.d_c2)
    code = emailed_code(smtp, "c2@example.com")
    page = decide(client, code, "decline", None).get_data(as_text=True)
    assert "Your sales contact has been informed." in page
    # The manual backend deletes nothing itself: no deletion is promised.
    assert "stops working after that date" in page and "deleted" not in page
    assert smtp.to("sales-b@example.com")


def test_nobody_to_tell_is_never_claimed(client, world, session, smtp):
    without_sales_contact(session, world)
    world.admin.active = False
    session.commit()
    page = renew_c2(client, world)
    assert RECORDED in page
    assert CONTACT not in page and TEAM not in page
    assert [m["To"] for m in smtp.messages] == ["c2@example.com"]  # only the receipt
    # ... and the decision waits in the queue, where staff see it.
    decision = session.scalar(select(RenewalDecision).filter_by(domain_id=world.d_c2.id))
    assert decision.state is ProcessingState.queued


def test_a_refused_email_is_not_claimed_either(client, world, session, smtp):
    smtp.refuse.add("sales-b@example.com")
    page = renew_c2(client, world)
    assert RECORDED in page and CONTACT not in page


def test_a_refused_code_decision_email_is_not_claimed(client, world, session, smtp, templates):
    send_request(client, world, world.d_c2)
    code = emailed_code(smtp, "c2@example.com")
    smtp.refuse.add("sales-b@example.com")
    page = decide(client, code, "renew").get_data(as_text=True)
    assert "Your decision has been recorded; our team will see it in the renewal queue" in page
    assert "has been informed" not in page


def test_the_dutch_pages_say_the_same(app, world, session, smtp):
    without_sales_contact(session, world)
    page = renew_c2(client_in(app, "nl"), world)  # a Dutch viewer
    assert "Ons salesteam is op de hoogte gebracht" in page


def test_the_notification_links_to_the_relation_in_the_queue(client, world, session, smtp):
    renew_c2(client, world)
    [email] = smtp.to("sales-b@example.com")
    text = email.get_body(("plain",)).get_content()
    assert "http://renewals.test/queue/?relation=200" in text
    assert "/decisions/list/" not in text
    client.post("/logout/")
    # Client One's decision too, so the filter has something to leave out.
    login(client, world.client1_login.username)
    client.post("/renewals/", data={f"decision-{world.d_c1.id}": "decline"})
    client.post("/logout/")
    login(client, "admin@example.com")
    everything = client.get("/queue/").get_data(as_text=True)
    assert "client-two.com" in everything and "client-one.com" in everything
    filtered = client.get("/queue/?relation=200").get_data(as_text=True)
    assert "client-two.com" in filtered and "client-one.com" not in filtered
    assert "Show the whole queue" in filtered
    client.post("/logout/")
    # Sales B may not look at another contact's relation through the filter.
    login(client, "sales-b@example.com")
    assert client.get("/queue/?relation=101").status_code == 404
    assert client.get("/queue/?relation=200").status_code == 200


def test_email_links_respect_the_url_prefix(app, world, session, smtp):
    from renewal_reminder.session import current_mail

    settings = mailer.MailSettings(
        "https://host.example.com/auth", "renewals@example.com", "/renewal-reminder"
    )
    recorded = RecordedDecisions(renew=[(world.d_c2, 1)], decisions=[object()])
    with app.test_request_context():
        sent = notifications.notify_sales_of_decisions(
            session, current_mail(), settings, world.c2, recorded, "someone", "selection_page"
        )
    assert sent.informed is notifications.Audience.sales_contact
    [email] = smtp.to("sales-b@example.com")
    assert (
        "https://host.example.com/auth/renewal-reminder/queue/?relation=200"
        in email.get_body(("plain",)).get_content()
    )


def test_a_bad_fallback_address_is_refused():
    with pytest.raises(InvalidValue, match="SALES_FALLBACK_EMAIL"):
        mailer.MailSettings.from_config({"SALES_FALLBACK_EMAIL": "team@example.com, nope"})
    parsed = mailer.MailSettings.from_config({"SALES_FALLBACK_EMAIL": " a@example.com ,b@x.nl"})
    assert parsed.sales_fallback == ("a@example.com", "b@x.nl")
