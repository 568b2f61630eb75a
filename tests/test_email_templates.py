"""Sandboxed rendering of admin-editable templates (no database needed)."""

from __future__ import annotations

import pytest

from renewal_reminder.renewals.email_templates import TemplateProblem, TemplateSource, render

CONTEXT = {"relation": {"name": "Dommelsen, V", "number": 1311}}


def source(subject="Hi", text="text", html="<p>html</p>") -> TemplateSource:
    return TemplateSource(subject, text, html)


@pytest.mark.parametrize(
    "text",
    [
        "{{ relation.__class__.__mro__ }}",
        "{{ ''.__class__.__subclasses__() }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ 'x' * 10**10 }}",
        "{{ 2 ** 100000 }}",
        "{{ 1 / 0 }}",
        "{{ missing_variable }}",
        "{% for %}",
    ],
)
def test_dangerous_or_broken_templates_become_template_problems(text):
    with pytest.raises(TemplateProblem):
        render(source(text=text), CONTEXT)


def test_html_is_escaped_text_is_not_and_subject_is_one_line():
    context = {"relation": {"name": "<b>A & B</b>\r\nBcc: x@example.com", "number": 1}}
    rendered = render(
        source("Dear {{ relation.name }}", "{{ relation.name }}", "<p>{{ relation.name }}</p>"),
        context,
    )
    assert rendered.subject == "Dear <b>A & B</b> Bcc: x@example.com"
    assert rendered.text == "<b>A & B</b>\r\nBcc: x@example.com"
    assert rendered.html.startswith("<p>&lt;b&gt;A &amp; B&lt;/b&gt;")


def test_small_repetition_is_fine():
    assert render(source(text="{{ '-' * 20 }}"), CONTEXT).text == "-" * 20
