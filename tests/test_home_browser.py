"""The home page of every role in Chromium, at desktop and phone widths."""

from __future__ import annotations

import pytest

from renewal_reminder.models import Decision, DecisionChannel, DomainStatus, RenewalDecision
from tests.test_phone_browser import PHONE, assert_no_sideways_scrolling, sign_in


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_every_role_lands_on_a_home_that_says_what_needs_doing(
    world, session, live_url, browser_page, viewport
):
    session.add(
        RenewalDecision(
            domain=world.d_c1,
            decision=Decision.renew,
            years=1,
            expiry_date=world.d_c1.expiry_date,
            channel=DecisionChannel.selection_page,
        )
    )
    world.d_c1.status = DomainStatus.renewal_confirmed
    session.commit()
    page = browser_page
    if viewport == "phone":
        page.set_viewport_size(PHONE)
    expectations = {
        world.admin.username: "decisions in the queue",
        world.sales_a.username: "expiring in 30 days without a decision",
        world.reseller_login.username: "need your decision",
        world.client2_login.username: "need your decision",
    }
    for username, text in expectations.items():
        page.context.clear_cookies()
        sign_in(page, live_url, username)
        page.goto(f"{live_url}/")  # the front page sends a signed-in user home
        page.wait_for_selector(f"text={text}")
        assert page.url.endswith("/home/")
        role = username.split("@")[0]
        assert_no_sideways_scrolling(page, f"home-{role}-{viewport}")
    # The staff home has the 13-week chart.
    page.context.clear_cookies()
    sign_in(page, live_url, world.admin.username)
    page.goto(f"{live_url}/home/")
    assert page.locator("svg[role=img] > title").count() == 1
