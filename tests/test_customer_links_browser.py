"""The customer's journey in a real browser (headless Chromium via Playwright): the link in the
reminder email opens the renewal page without a password, a decision, the summary; a revoked
link, a fresh one asked for on the generic page, and that one working."""

from __future__ import annotations

import datetime as dt
import re
import time

import pytest
from sqlalchemy import select

from renewal_reminder.jobs import run_reminders
from renewal_reminder.models import Decision, DecisionChannel, RenewalDecision
from renewal_reminder.renewals import customer_links
from renewal_reminder.renewals.email_templates import ensure_default_templates
from tests.conftest import screenshot

LINK = re.compile(r"(http://renewals\.test/renewals/link/#t=[A-Za-z0-9._-]+)")


def link_in(message, live_url: str) -> str:
    text = message.get_body(("plain",)).get_content()
    return LINK.search(text).group(1).replace("http://renewals.test", live_url)


@pytest.mark.app_config(WTF_CSRF_ENABLED=True)
def test_a_customer_renews_from_the_link_in_the_reminder(
    app, world, session, smtp, live_url, browser_page
):
    ensure_default_templates(session)
    assert run_reminders(app, dt.date.today()).ok
    [reminder] = smtp.to("c2@example.com")
    link = link_in(reminder, live_url)
    smtp.clear()

    page = browser_page
    requests = []
    page.on("request", lambda request: requests.append(request))
    page.goto(link)  # the landing page posts the token from the fragment, then redirects
    page.wait_for_url(f"{live_url}/renewals/")
    assert "#" not in page.url and "t=" not in page.url
    assert page.is_visible("text=Renew your domains")
    assert page.is_visible("text=client-two.com")
    assert not page.is_visible("text=client-one.com")
    screenshot(page, "customer-link-selection")

    page.get_by_role("row", name=world.d_c2.name).get_by_label("Renew").check()
    page.click("text=Save decisions")
    page.wait_for_url("**/renewals/summary**")
    summary = page.inner_text("body")
    assert "Thank you" in summary and f"{world.d_c2.name} — 1 year(s)" in summary
    screenshot(page, "customer-link-summary")

    session.expire_all()
    decision = session.scalar(select(RenewalDecision))
    assert (decision.decision, decision.channel) == (Decision.renew, DecisionChannel.email_link)
    assert decision.remote_addr == "127.0.0.1"
    assert smtp.to("sales-b@example.com"), "the sales contact was told"
    # The token went to the server only in the landing page's POST body: never in a URL, and
    # never in a Referer.
    token = link.split("#t=", 1)[1]
    for request in requests:
        assert token not in request.url.split("#", 1)[0], request.url
        assert token not in (request.headers.get("referer") or ""), request.url

    # Revoked: the same link now gets the generic page, which sends a fresh link.
    customer_links.rotate(session, world.c2)
    session.commit()
    page.context.clear_cookies()
    page.goto(link)
    page.wait_for_selector("text=This link does not work")
    screenshot(page, "customer-link-refused")
    smtp.clear()
    page.fill("#email", "c2@example.com")
    page.click("text=Send me a new link")
    page.wait_for_selector("text=If this address belongs to one of our customers")
    # The email goes out once the answer has been sent (``after_the_response``).
    deadline = time.monotonic() + 10
    while not smtp.to("c2@example.com") and time.monotonic() < deadline:
        time.sleep(0.05)
    [fresh] = smtp.to("c2@example.com")
    page.goto(link_in(fresh, live_url))
    page.wait_for_url(f"{live_url}/renewals/")
    assert page.is_visible("text=client-two.com")
