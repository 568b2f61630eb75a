"""The pages people use on a phone, at 390 px wide in Chromium: no sideways scrolling, rows
as cards, the controls within reach."""

from __future__ import annotations

import re

import pytest

from renewal_reminder.models import Decision, DecisionChannel, DomainStatus, RenewalDecision
from renewal_reminder.renewals.email_templates import ensure_default_templates
from tests.conftest import PASSWORD, login, screenshot

PHONE = {"width": 390, "height": 844}
CODE_LINK = re.compile(r"(http://\S+/confirm/#code=[0-9A-Z-]+)")


@pytest.fixture
def phone(browser_page):
    browser_page.set_viewport_size(PHONE)
    return browser_page


def sign_in(page, live_url: str, username: str) -> None:
    page.goto(f"{live_url}/login/")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_load_state()


def assert_no_sideways_scrolling(page, name: str) -> None:
    screenshot(page, name)
    widths = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"{name}: the page is {widths[0]} px wide at {widths[1]} px"


def _queue_a_renewal(session, domain):
    session.add(
        RenewalDecision(
            domain=domain,
            decision=Decision.renew,
            years=2,
            expiry_date=domain.expiry_date,
            channel=DecisionChannel.selection_page,
        )
    )
    domain.status = DomainStatus.renewal_confirmed
    session.commit()


def test_selection_page_on_a_phone(world, session, live_url, phone):
    _queue_a_renewal(session, world.d_c1)  # a saved row among unsaved ones
    sign_in(phone, live_url, world.reseller_login.username)
    phone.goto(f"{live_url}/renewals/")
    phone.wait_for_selector("text=reseller-one.com")
    assert_no_sideways_scrolling(phone, "phone-selection")
    # Rows are cards: the decision controls of a row are visible without scrolling sideways.
    renew = phone.locator(f'input[name="decision-{world.d_r1.id}"][value="renew"]')
    box = renew.bounding_box()
    assert box is not None and box["x"] + box["width"] <= PHONE["width"]
    # The bulk controls work on a phone too.
    phone.get_by_label(f"Select {world.d_r1.name}").check()
    phone.click("text=Renew all selected")
    assert renew.is_checked()
    phone.click("text=Save decisions")
    phone.wait_for_selector("text=Your renewal decisions")
    assert_no_sideways_scrolling(phone, "phone-selection-summary")


def test_queue_and_expiration_list_on_a_phone(world, session, live_url, phone):
    _queue_a_renewal(session, world.d_c1)
    sign_in(phone, live_url, world.sales_a.username)
    phone.goto(f"{live_url}/queue/")
    phone.wait_for_selector("text=client-one.com")
    assert_no_sideways_scrolling(phone, "phone-queue")
    execute = phone.locator("text=Execute selected").bounding_box()
    assert execute is not None and execute["x"] + execute["width"] <= PHONE["width"]
    phone.goto(f"{live_url}/expirations/")
    phone.wait_for_selector("text=reseller-one.com")
    assert_no_sideways_scrolling(phone, "phone-expirations")


def test_confirmation_page_on_a_phone(client, world, session, smtp, live_url, phone):
    ensure_default_templates(session)
    login(client, world.admin.username)
    client.post(f"/domains/action/send_confirmation_request/{world.d_c2.id}")
    text = smtp.to("c2@example.com")[0].get_body(("plain",)).get_content()
    link = CODE_LINK.search(text).group(1).replace("http://renewals.test", live_url)
    phone.goto(link)
    assert_no_sideways_scrolling(phone, "phone-confirm-code")
    phone.click("text=Continue")
    phone.wait_for_selector("text=client-two.com")
    assert_no_sideways_scrolling(phone, "phone-confirm-decide")
