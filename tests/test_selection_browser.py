"""The renewal selection page in a real browser (headless Chromium via Playwright)."""

from __future__ import annotations

import os

from sqlalchemy import select

from renewal_reminder.models import Decision, Domain, DomainStatus, RenewalDecision
from tests.conftest import PASSWORD, screenshot


def test_reseller_renews_and_declines_in_the_browser(world, session, smtp, live_url, browser_page):
    page = browser_page
    extra = Domain(name="third-one.com", relation=world.r1, expiry_date=world.d_r1.expiry_date)
    session.add(extra)
    session.commit()

    page.goto(f"{live_url}/login/")
    page.fill("#username", world.reseller_login.username)
    page.fill("#password", PASSWORD)
    page.click("input[type=submit], button[type=submit]")
    page.goto(f"{live_url}/renewals/")
    assert page.is_visible("text=Renew your domains")

    # Select two domains with their checkboxes, renew both for 3 years with the bulk controls.
    for domain in (world.d_r1, extra):
        page.get_by_label(f"Select {domain.name}").check()
    page.click("text=Renew all selected")
    page.fill("#rr-bulk-years", "3")
    page.click("text=Apply period")
    # Decline another one on its own line, with the keyboard.
    page.get_by_role("row", name=world.d_c1.name).get_by_label("Decline").check()
    screenshot(page, "selection-before-submit")
    page.click("text=Save decisions")

    page.wait_for_url("**/renewals/summary**")
    summary = page.inner_text("body")
    assert "Thank you" in summary
    assert f"{world.d_r1.name} — 3 year(s)" in summary and "third-one.com — 3 year(s)" in summary
    assert world.d_c1.name in summary
    path = screenshot(page, "selection-summary")
    assert os.path.getsize(path) > 0

    session.expire_all()
    rows = session.scalars(select(RenewalDecision))
    decided = {d.domain.name: (d.decision, d.years) for d in rows}
    assert decided == {
        world.d_r1.name: (Decision.renew, 3),
        "third-one.com": (Decision.renew, 3),
        world.d_c1.name: (Decision.decline, None),
    }
    assert session.get(Domain, world.d_c1.id).status is DomainStatus.renewal_declined
    [email] = smtp.to("sales-a@example.com")
    assert email["To"] == "sales-a@example.com"
    [receipt] = smtp.to("r1@example.com")  # the customer's receipt lists both domains
    assert "third-one.com" in receipt.get_body(("plain",)).get_content()
    text = email.get_body(("plain",)).get_content()
    assert "third-one.com - 3 years" in text and "client-one.com (Client One)" in text
