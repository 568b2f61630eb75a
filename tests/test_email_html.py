"""Every default email's HTML part passes a basic email-client check: a whole document with
its charset, styles inline only (mail clients drop <style> and stylesheets), nothing fetched
from elsewhere (no images, fonts or scripts), and links that are absolute web addresses."""

from __future__ import annotations

import datetime as dt
from html.parser import HTMLParser

import pytest

from renewal_reminder.renewals import email_templates, mailer, template_samples
from renewal_reminder.renewals.email_templates import DEFAULTS

SAMPLE_MAIL = mailer.MailSettings("https://renewals.example.com", "renewals@example.com")


class _Check(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.problems: list[str] = []
        self.charset = False

    def handle_decl(self, decl: str) -> None:
        self.tags.append(decl.lower())

    def handle_starttag(self, tag, attrs) -> None:
        self.tags.append(tag)
        attributes = dict(attrs)
        if tag in ("style", "link", "script", "img", "iframe", "object", "embed", "form"):
            self.problems.append(f"<{tag}>")
        if "class" in attributes:
            self.problems.append(f"class= on <{tag}> (no stylesheet to use it)")
        if tag == "meta" and (attributes.get("charset") or "").lower() == "utf-8":
            self.charset = True
        if tag == "a":
            href = attributes.get("href") or ""
            if not href.startswith(("https://", "http://", "mailto:")):
                self.problems.append(f"link {href!r} is not absolute")
        if any(name.startswith("on") for name in attributes):
            self.problems.append(f"event handler on <{tag}>")


@pytest.mark.parametrize(("name", "language"), sorted(DEFAULTS))
def test_default_html_parts_pass_an_email_client_check(name, language):
    contexts = template_samples.sample_contexts(name, language, dt.date(2030, 3, 4), SAMPLE_MAIL)
    for context in contexts:
        html = email_templates.html_document(
            email_templates.render(DEFAULTS[(name, language)], context).html
        )
        check = _Check()
        check.feed(html)
        assert check.tags[:2] == ["doctype html", "html"], check.tags[:3]
        assert check.charset, "no <meta charset=utf-8>"
        assert "body" in check.tags
        assert check.problems == []


def test_a_template_that_is_a_whole_document_is_left_as_it_is():
    source = email_templates.TemplateSource(
        "s", "t", '<!DOCTYPE html><html><body style="color:red">{{ x }}</body></html>'
    )
    html = email_templates.html_document(email_templates.render(source, {"x": "hi"}).html)
    assert html.count("<html") == 1 and "color:red" in html
