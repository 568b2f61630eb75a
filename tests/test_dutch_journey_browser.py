"""A Dutch customer's whole journey in Chromium (browser language Dutch): the login page, the
home page, the renewal page, the summary and the receipt, with no English string left."""

from __future__ import annotations

import re
from pathlib import Path

import flask_appbuilder
import pytest
from babel.messages.pofile import read_po

from renewal_reminder.renewals.email_templates import ensure_default_templates
from tests.conftest import PASSWORD, screenshot

TRANSLATIONS = Path(__file__).resolve().parent.parent / "app" / "translations"
FAB_DUTCH = Path(flask_appbuilder.__file__).parent / "translations" / "nl" / "LC_MESSAGES"


def english_strings() -> set[str]:
    """Every English UI text that has a different Dutch translation (the product's catalogue
    and FAB's), placeholders cut off, long enough not to be a word Dutch shares."""
    found = set()
    for folder in (TRANSLATIONS / "nl" / "LC_MESSAGES", FAB_DUTCH):
        with open(folder / "messages.po", "rb") as po:
            for message in read_po(po, locale="nl"):
                if not message.id or not isinstance(message.id, str) or not message.string:
                    continue
                if message.string.strip() == message.id.strip():
                    continue
                for part in re.split(r"%\(\w+\)s|%s|\{\w*\}", message.id):
                    part = part.strip(" .:,;!?()")
                    if len(part) >= 12 and " " in part:
                        found.add(part)
    return found


ENGLISH = english_strings()


def english_left(text: str) -> list[str]:
    return sorted(phrase for phrase in ENGLISH if phrase in text)


@pytest.fixture
def browser_context_options(browser_context_options) -> dict:
    return {**browser_context_options, "locale": "nl-NL"}


def test_a_dutch_customer_meets_no_english(world, session, smtp, live_url, browser_page):
    world.c2.language = "nl"  # the relation's emails in Dutch too
    session.commit()
    ensure_default_templates(session)
    page = browser_page
    seen: dict[str, list[str]] = {}

    def check(name: str) -> None:
        screenshot(page, f"dutch-{name}")
        text = page.inner_text("body")
        assert page.get_attribute("html", "lang") == "nl", name
        seen[name] = english_left(text)

    page.goto(f"{live_url}/login/")
    check("login")
    page.fill("#username", world.client2_login.username)
    page.fill("#password", PASSWORD)
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_url("**/home/")
    check("home")
    page.click("text=Beslis over uw verlengingen")
    page.wait_for_selector("text=client-two.com")
    check("selection")
    page.locator(f'input[name="decision-{world.d_c2.id}"][value="renew"]').check()
    page.click("text=Keuzes opslaan")
    page.wait_for_selector("text=Uw verlengingskeuzes")
    check("summary")
    assert seen == {name: [] for name in seen}, seen

    receipt = smtp.to("c2@example.com")
    assert receipt, "the customer hears back"
    body = receipt[0].get_body(("plain",)).get_content()
    assert english_left(body) == [] and "client-two.com" in body


def test_the_check_finds_english_on_an_english_page(client, world):
    from tests.conftest import login

    login(client, world.client2_login.username)
    html = client.get("/renewals/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Apply period" in english_left(html)
