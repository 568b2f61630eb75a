"""The invitation journey in a real browser (headless Chromium via Playwright): the email's
link, setting a password, landing on the renewal page; and signing out with the POST button."""

from __future__ import annotations

import re

from sqlalchemy import select

from renewal_reminder.models import Invitation
from tests.conftest import screenshot

LINK = re.compile(r"http://renewals\.test(/invitation/#t=[A-Za-z0-9._-]+)")
PASSWORD = "harbour-walnut-sparrow"


def test_invitation_email_to_password_to_renewal_page(
    app, world, session, smtp, live_url, browser_page
):
    result = app.test_cli_runner().invoke(args=["users", "invite", "--relation", "200"])
    assert result.exit_code == 0, result.output
    [email] = smtp.to("c2@example.com")
    path = LINK.search(email.get_body(("plain",)).get_content()).group(1)

    page = browser_page
    requests = []
    page.on("request", lambda request: requests.append((request.url, request.headers)))
    page.goto(live_url + path)
    page.wait_for_url("**/invitation/accept")
    assert "#t=" not in page.url
    assert page.is_visible("text=Your login name: c2@example.com")
    # A weak password is refused with zxcvbn's reason; a good one is taken.
    page.fill("#password", "Password2026")
    page.fill("#again", "Password2026")
    page.click("#rr-account-submit")
    assert "too easy to guess" in page.inner_text("#rr-problem")
    page.fill("#password", PASSWORD)
    page.fill("#again", PASSWORD)
    screenshot(page, "invitation-set-password")
    page.click("#rr-account-submit")
    page.wait_for_url("**/renewals/")
    body = page.inner_text("body")
    assert "Renew your domains" in body and world.d_c2.name in body
    screenshot(page, "invitation-renewal-page")
    # The token never went to the server in a URL or a Referer header.
    token = path.split("#t=")[1]
    assert not any(token in url or token in headers.get("referer", "") for url, headers in requests)
    session.expire_all()
    assert session.scalar(select(Invitation)).accepted_at is not None

    # Sign out from the user menu: a POST form.
    page.click("a.dropdown-toggle:has(.fa-user)")
    page.click("#rr-logout")
    page.goto(f"{live_url}/renewals/")
    assert "/login/" in page.url
    # The same link again: refused.
    page.goto(live_url + path)
    assert page.is_visible("text=This invitation does not work")
