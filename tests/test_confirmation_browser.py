"""The public confirmation page in a real browser: the emailed link, both steps, the result."""

from __future__ import annotations

import re

from sqlalchemy import select

from renewal_reminder.models import Decision, DecisionChannel, RenewalDecision
from renewal_reminder.renewals.email_templates import ensure_default_templates
from tests.conftest import login, screenshot

LINK = re.compile(r"(http://\S+/confirm/#code=[0-9A-Z-]+)")


def test_holder_confirms_from_the_emailed_link(
    client, world, session, smtp, live_url, browser_page
):
    ensure_default_templates(session)
    login(client, world.admin.username)
    client.post(f"/domains/action/send_confirmation_request/{world.d_c2.id}")
    text = smtp.to("c2@example.com")[0].get_body(("plain",)).get_content()
    link = LINK.search(text).group(1).replace("http://renewals.test", live_url)

    page = browser_page
    page.goto(link)  # the code rides in the fragment, filled in by the page
    assert page.input_value("#code") == link.rsplit("=", 1)[1]
    assert "#" not in page.url  # and is dropped from the address bar
    screenshot(page, "confirm-step1")
    page.click("text=Continue")
    page.wait_for_selector("text=client-two.com")
    page.get_by_label("Renew it for").check()
    page.get_by_label("Years").fill("2")
    screenshot(page, "confirm-step2")
    page.click("text=Submit")
    page.wait_for_selector("text=will be renewed for 2 year(s)")
    screenshot(page, "confirm-result")

    session.expire_all()
    decision = session.scalar(select(RenewalDecision))
    assert (decision.decision, decision.years, decision.channel) == (
        Decision.renew,
        2,
        DecisionChannel.confirmation_code,
    )
    assert smtp.to("sales-b@example.com"), "the sales contact was told"

    # The same link again: one generic answer.
    page.goto(link)
    page.wait_for_function("document.getElementById('code').value.length > 0")
    page.click("text=Continue")
    page.wait_for_selector("text=This code is not valid")
