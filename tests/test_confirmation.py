"""Renewal confirmation requests and the public confirmation page."""

from __future__ import annotations

import datetime as dt
import logging
import re

import pytest
from sqlalchemy import func, select

from renewal_reminder.models import (
    ConfirmationRequest,
    Decision,
    DecisionChannel,
    Domain,
    DomainStatus,
    ProcessingState,
    RenewalDecision,
)
from renewal_reminder.renewals import codes
from renewal_reminder.renewals.email_templates import ensure_default_templates
from tests.conftest import TEST_SECRET_KEY, client_in, login

CODE = re.compile(r"\b[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}\b")
GENERIC = "This code is not valid"


@pytest.fixture
def templates(session):
    ensure_default_templates(session)


def send_request(client, world, domain, user=None):
    login(client, (user or world.admin).username)
    response = client.post(f"/domains/action/send_confirmation_request/{domain.id}")
    client.post("/logout/")
    return response


def emailed_code(smtp, address: str) -> str:
    [message] = smtp.to(address)[-1:]
    return CODE.search(message.get_body(("plain",)).get_content()).group(0)


def enter(client, code: str):
    return client.post("/confirm/", data={"code": code})


def decide(client, code: str, decision: str, years: str | None = "1"):
    data = {"code": code, "decision": decision}
    if years is not None:
        data["years"] = years
    return client.post("/confirm/decide", data=data)


def test_staff_sends_a_request_and_only_a_hash_is_stored(client, world, session, smtp, templates):
    response = send_request(client, world, world.d_c2)
    assert response.status_code == 302
    [message] = smtp.messages
    assert message["To"] == "c2@example.com"
    assert message["Subject"] == "Please confirm the renewal of client-two.com"
    text = message.get_body(("plain",)).get_content()
    code = CODE.search(text).group(0)
    assert f"http://renewals.test/confirm/#code={code}" in text
    assert world.d_c2.expiry_date.isoformat() in text
    session.expire_all()
    [request] = session.scalars(select(ConfirmationRequest)).all()
    assert (request.sent_to, request.sent_by_id, request.state) == (
        "c2@example.com",
        world.admin.id,
        "open",
    )
    stored = [str(getattr(request, column.key)) for column in ConfirmationRequest.__table__.c]
    normalized = code.replace("-", "")
    assert not any(code in value or normalized in value for value in stored)
    assert request.code_hash == codes.code_hash(
        codes.CodeSettings.from_config({"SECRET_KEY": TEST_SECRET_KEY}),
        normalized,
    )


def test_request_for_a_routed_client_goes_to_its_reseller(client, world, session, smtp, templates):
    world.c1.reminders_to_reseller = True
    session.commit()
    send_request(client, world, world.d_c1)
    [message] = smtp.messages
    assert message["To"] == "r1@example.com"
    assert "client-one.com (Client One)" in message.get_body(("plain",)).get_content()


def test_bulk_action_sends_one_request_per_domain(client, world, session, smtp, templates):
    login(client, world.admin.username)
    client.post(
        "/domains/action_post",
        data={
            "action": "send_confirmation_request",
            "rowid": [str(world.d_c1.id), str(world.d_c2.id)],
        },
    )
    # Client One's emails go to its reseller (the default for a reseller's clients).
    assert sorted(m["To"] for m in smtp.messages) == ["c2@example.com", "r1@example.com"]
    assert session.scalar(select(func.count()).select_from(ConfirmationRequest)) == 2


def test_sales_may_send_for_their_relations_only(client, world, session, smtp, templates):
    login(client, world.sales_a.username)
    assert (
        client.post(f"/domains/action/send_confirmation_request/{world.d_c2.id}").status_code == 404
    )
    assert (
        client.post(f"/domains/action/send_confirmation_request/{world.d_c1.id}").status_code == 302
    )
    assert [m["To"] for m in smtp.messages] == ["r1@example.com"]


def test_customers_cannot_send_requests(client, world, smtp, templates):
    login(client, world.client1_login.username)
    response = client.post(f"/domains/action/send_confirmation_request/{world.d_c1.id}")
    assert response.status_code in (302, 403)
    assert smtp.messages == []


def test_cli_sends_a_request(app, world, smtp, templates):
    result = app.test_cli_runner().invoke(args=["renewals", "request", "CLIENT-TWO.com"])
    assert result.exit_code == 0, result.output
    assert "sent to c2@example.com" in result.output
    assert len(smtp.messages) == 1
    bad = app.test_cli_runner().invoke(args=["renewals", "request", "nope.com"])
    assert bad.exit_code != 0 and "there is no domain nope.com" in bad.output


def test_confirm_with_the_code(client, world, session, smtp, templates):
    send_request(client, world, world.d_c2)
    code = emailed_code(smtp, "c2@example.com")
    page = client.get("/confirm/")
    assert page.status_code == 200 and "Activation code" in page.get_data(as_text=True)
    step2 = enter(client, code.lower().replace("-", " "))  # case, spaces: ignored
    assert step2.status_code == 200
    html = step2.get_data(as_text=True)
    assert "client-two.com" in html and world.d_c2.expiry_date.isoformat() in html
    result = decide(client, code, "renew", "3")
    assert result.status_code == 200
    assert "will be renewed for 3 year(s)" in result.get_data(as_text=True)

    session.expire_all()
    decision = session.scalar(select(RenewalDecision))
    assert (decision.decision, decision.years, decision.channel, decision.decided_by_id) == (
        Decision.renew,
        3,
        DecisionChannel.confirmation_code,
        None,
    )
    assert decision.decided_by_label == "code" and decision.remote_addr == "127.0.0.1"
    assert decision.state is ProcessingState.queued
    assert session.get(Domain, world.d_c2.id).status is DomainStatus.renewal_confirmed
    assert session.scalar(select(ConfirmationRequest)).state == "used"
    [sales_email] = smtp.to("sales-b@example.com")
    assert "client-two.com - 3 years" in sales_email.get_body(("plain",)).get_content()
    # The code works once.
    again = enter(client, code)
    assert again.status_code == 400 and GENERIC in again.get_data(as_text=True)


def test_decline_with_the_code(client, world, session, smtp, templates):
    send_request(client, world, world.d_c2)
    code = emailed_code(smtp, "c2@example.com")
    result = decide(client, code, "decline", None)
    assert result.status_code == 200
    assert "will not be renewed" in result.get_data(as_text=True)
    session.expire_all()
    assert session.get(Domain, world.d_c2.id).status is DomainStatus.renewal_declined
    assert session.scalar(select(RenewalDecision)).decision is Decision.decline


@pytest.mark.parametrize("years", ["0", "11", "abc"])
def test_bad_period_keeps_the_code_and_changes_nothing(
    client, world, session, smtp, templates, years
):
    send_request(client, world, world.d_c2)
    code = emailed_code(smtp, "c2@example.com")
    response = decide(client, code, "renew", years)
    assert response.status_code == 400
    assert "1 to 10 years" in response.get_data(as_text=True)
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(RenewalDecision)) == 0
    assert session.scalar(select(ConfirmationRequest)).state == "open"
    assert decide(client, code, "renew", "2").status_code == 200


def test_a_new_request_revokes_the_previous_code(client, world, session, smtp, templates):
    send_request(client, world, world.d_c2)
    old = emailed_code(smtp, "c2@example.com")
    send_request(client, world, world.d_c2)
    new = emailed_code(smtp, "c2@example.com")
    assert old != new
    assert GENERIC in enter(client, old).get_data(as_text=True)
    assert enter(client, new).status_code == 200
    session.expire_all()
    states = [r.state for r in session.scalars(select(ConfirmationRequest).order_by("id"))]
    assert states == ["revoked", "open"]


def test_an_expired_code_is_refused(client, world, session, smtp, templates):
    send_request(client, world, world.d_c2)
    code = emailed_code(smtp, "c2@example.com")
    request = session.scalar(select(ConfirmationRequest))
    request.expires_at = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(minutes=1)
    session.commit()
    response = enter(client, code)
    assert response.status_code == 400 and GENERIC in response.get_data(as_text=True)
    assert decide(client, code, "decline", None).status_code == 400


def test_a_code_is_worthless_once_the_domain_is_deleted(client, world, session, smtp, templates):
    send_request(client, world, world.d_c2)
    code = emailed_code(smtp, "c2@example.com")
    world.d_c2.status = DomainStatus.deleted
    session.commit()
    assert GENERIC in enter(client, code).get_data(as_text=True)


def test_a_code_is_worthless_once_the_expiry_date_moved_on(client, world, session, smtp, templates):
    send_request(client, world, world.d_c2)
    code = emailed_code(smtp, "c2@example.com")
    world.d_c2.expiry_date = world.d_c2.expiry_date.replace(year=world.d_c2.expiry_date.year + 1)
    world.d_c2.status = DomainStatus.renewed
    session.commit()
    assert GENERIC in enter(client, code).get_data(as_text=True)


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "ABCD-EFGH-JKMN",  # well-formed, but no such code
        "x" * 10_000,
        "ÄÖÜ-漢字-🙂🙂🙂",
        "' OR '1'='1' --",
        "<script>alert(1)</script>",
        "%00%0d%0aSet-Cookie: x=y",
        "ABCD-EFGH-JKM",
    ],
)
def test_garbage_codes_get_the_one_generic_answer(client, world, session, smtp, templates, garbage):
    response = enter(client, garbage)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert GENERIC in html or "This field is required" in html
    assert "<script>alert(1)</script>" not in html
    assert decide(client, garbage, "renew", "1").status_code == 400
    assert session.scalar(select(func.count()).select_from(RenewalDecision)) == 0


def test_an_already_processed_decision_cannot_be_changed_by_code(
    client, world, session, smtp, templates
):
    send_request(client, world, world.d_c2)
    code = emailed_code(smtp, "c2@example.com")
    session.add(
        RenewalDecision(
            domain=world.d_c2,
            decision=Decision.renew,
            years=1,
            expiry_date=world.d_c2.expiry_date,
            channel=DecisionChannel.sales,
            state=ProcessingState.done,
        )
    )
    session.commit()
    response = decide(client, code, "decline", None)
    assert response.status_code == 409
    assert "already processed" in response.get_data(as_text=True)
    session.expire_all()
    assert session.scalar(select(ConfirmationRequest)).state == "open"  # not consumed


def test_the_code_never_reaches_the_logs(client, world, session, smtp, templates, caplog):
    caplog.set_level(logging.DEBUG)
    send_request(client, world, world.d_c2)
    code = emailed_code(smtp, "c2@example.com")
    enter(client, code)
    decide(client, code, "renew", "1")
    enter(client, code)
    # Everything the application logs (the test's own SMTP server, "mail.log", sees the email).
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name != "mail.log")
    assert code not in logged and code.replace("-", "") not in logged


@pytest.mark.app_config(RATELIMIT_ENABLED=True, RENEWALS_CONFIRMATION_RATE_LIMIT="3 per minute")
def test_attempts_are_rate_limited_per_client(client, world, templates):
    statuses = [enter(client, f"AAAA-BBBB-CC{n:02d}").status_code for n in range(5)]
    assert statuses == [400, 400, 400, 429, 429]
    response = enter(client, "AAAA-BBBB-CCCC")
    assert "Too many attempts" in response.get_data(as_text=True)
    # Looking at the page is not an attempt.
    assert client.get("/confirm/").status_code == 200
    other = client.post("/confirm/", data={"code": "x"}, environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert other.status_code == 400  # another address has its own allowance


@pytest.mark.app_config(WTF_CSRF_ENABLED=True)
def test_posts_without_csrf_token_are_refused(client, world, session, smtp, templates):
    response = enter(client, "AAAA-BBBB-CCCC")
    assert response.status_code == 400
    response = decide(client, "AAAA-BBBB-CCCC", "renew", "1")
    assert response.status_code == 400
    assert session.scalar(select(func.count()).select_from(RenewalDecision)) == 0


def test_requests_are_shown_on_the_domain_page(client, world, session, smtp, templates):
    send_request(client, world, world.d_c2)
    login(client, world.admin.username)
    html = client.get(f"/domains/show/{world.d_c2.id}").get_data(as_text=True)
    assert "Confirmation requests" in html and "c2@example.com" in html


def test_the_email_speaks_the_holders_language_the_page_the_viewers(
    app, client, world, session, smtp, templates
):
    world.c2.language = "nl"
    session.commit()
    send_request(client, world, world.d_c2)
    [message] = smtp.messages
    assert message["Subject"] == "Bevestig de verlenging van client-two.com"
    code = emailed_code(smtp, "c2@example.com")
    client = client_in(app, "nl")  # the holder's browser
    html = enter(client, code).get_data(as_text=True)
    assert "Wat moet er met deze domeinnaam gebeuren?" in html
    assert "wordt verlengd met 1 jaar" in decide(client, code, "renew", "1").get_data(as_text=True)
