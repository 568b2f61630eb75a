"""Limits of the email-template sandbox: what a template may produce and how long it may render.
Oversized or slow templates are refused when saved and fail one email at send time."""

from __future__ import annotations

import datetime as dt
import html
import time

import pytest
from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import select

from renewal_reminder import settings as rr_settings
from renewal_reminder.jobs import run_reminders
from renewal_reminder.models import Domain, EmailTemplate, Relation, ReminderLog, ReminderStatus
from renewal_reminder.renewals import template_samples, template_sandbox
from renewal_reminder.renewals.email_templates import (
    DEFAULTS,
    RENEWAL_REMINDER,
    TemplateProblem,
    TemplateSource,
    ensure_default_templates,
    render,
)
from renewal_reminder.renewals.reminders import ReminderSettings
from tests.conftest import login

#: Each refused well within the test's time, with a message naming the limit.
OVERSIZED = [
    '{{ "%999999999s" % 1 }}',
    '{{ "%.999999999f" % 1.5 }}',
    '{{ "%*s" % (999999999, 1) }}',
    '{{ ("%(a)s" * 1000) % {"a": "x" * 10000} }}',
    '{{ "%999999999s"|format(1) }}',
    '{{ "x"|center(999999999) }}',
    '{{ "x".center(999999999) }}',
    '{{ "x".ljust(999999999) }}',
    '{{ "x".rjust(999999999) }}',
    '{{ "x".zfill(999999999) }}',
    '{{ "\t".expandtabs(999999999) }}',
    '{{ "{:>999999999}".format(1) }}',
    '{{ "{0:{1}}".format(1, 999999999) }}',
    '{{ ("{0}" * 1000).format("x" * 10000) }}',
    '{{ ("{a}" * 200).format_map({"a": "x" * 9000})|length }}',
    '{{ "x"|indent(999999999, true) }}',
    '{{ ("a " * 4000)|wordwrap(1, wrapstring="y" * 1000) }}',
    '{{ "ab"|replace("", "x" * 1000) }}',
    '{{ ("ab" * 5000)|replace("b", "x" * 5000) }}',
    '{{ ("ab" * 5000).replace("b", "x" * 5000) }}',
    '{{ range(99999)|join("x" * 1000) }}',
    '{{ ("x" * 1000).join(range(99999)|map("string")) }}',
    '{{ "x" * 10**10 }}',
    '{{ ["x" * 5000] * 100 }}',
    "{{ 2 ** 100000 }}",
    "{{ ((10 ** 100) ** 100) ** 100 }}",
    '{{ (1).to_bytes(999999999, "big") }}',
    '{{ "ab".translate({97: "x" * 9000, 98: "y" * 9000}) * 1 }}',
    '{{ [1]|batch(999999999, "x")|list|length }}',
    "{{ [1]|slice(999999999)|list|length }}",
    "{{ range(100000)|batch(1)|sum(start=[])|length }}",
    "{{ [1, 2]|tojson(indent=999999999) }}",
    "{{ 5|round(-999999999) }}",
    "{{ lipsum(99999) }}",
    '{{ ("http://a.example " * 2000)|urlize(target="y" * 9000) }}',
    "{% for a in range(99999) %}{% for b in range(99999) %}x{% endfor %}{% endfor %}",
    '{% set s = "x" * 10000 %}{% for a in range(99999) %}{{ s }}{% endfor %}',
    '{% set ns = namespace(s="x") %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}'
    "{% endfor %}{{ ns.s|length }}",
    '{% set ns = namespace(s="x") %}{% for i in range(60) %}{% set ns.s = ns.s + ns.s %}'
    "{% endfor %}{{ ns.s|length }}",
    "{% set ns = namespace(n=3) %}{% for i in range(40) %}{% set ns.n = ns.n * ns.n %}"
    "{% endfor %}{{ ns.n }}",
    "{% macro f(s, n) %}{% if n %}{{ f(s ~ s, n - 1) }}{% else %}{{ s|length }}{% endif %}"
    '{% endmacro %}{{ f("x", 60) }}',
    '{% set s = "x" * 10000 %}{% macro m() %}{% for i in range(100000) %}{% for j in range(10) %}'
    "{{ s }}{% endfor %}{% endfor %}{% endmacro %}{{ m()|length }}",
    '{% set s %}{% for i in range(99999) %}{{ "x" * 9999 }}{% endfor %}{% endset %}{{ s|length }}',
    "{% filter upper %}{% for a in range(99999) %}{% for b in range(99999) %}x{% endfor %}"
    "{% endfor %}{% endfilter %}",
    '{% for a in "x" * 10000 %}{% for b in "x" * 10000 %}{% endfor %}{% endfor %}',
]


def source(text: str) -> TemplateSource:
    return TemplateSource("subject", text, "<p>html</p>")


@pytest.mark.parametrize("text", OVERSIZED)
def test_oversized_templates_are_refused_quickly(text):
    started = time.monotonic()
    with pytest.raises(TemplateProblem) as info:
        render(source(text), {})
    # Stopped by the limits, not after producing gigabytes or looping for hours (the slack is
    # for a loaded CI machine).
    assert time.monotonic() - started < 10
    message = str(info.value)
    assert message.startswith("text")
    assert any(
        words in message
        for words in ("the limit for email templates", "is limited to", "too large", "not allowed")
    ), message


@pytest.mark.parametrize("part", ["subject", "html"])
def test_every_part_is_limited(part):
    parts = {"subject": "s", "text": "t", "html": "h", part: '{{ "x"|center(999999999) }}'}
    with pytest.raises(TemplateProblem, match=f"^{part}: center would produce more than"):
        render(TemplateSource(parts["subject"], parts["text"], parts["html"]), {})


def test_a_slow_template_stops_at_the_time_budget():
    started = time.monotonic()
    with pytest.raises(TemplateProblem, match="takes longer than 2 seconds"):
        render(
            source(
                "{% for a in range(99999) %}{% for b in range(99999) %}{% endfor %}{% endfor %}"
            ),
            {},
        )
    assert time.monotonic() - started < 10  # the 2-second budget, with slack for a busy CI


def test_the_time_budget_covers_all_parts_of_one_email(monkeypatch):
    monkeypatch.setattr(template_sandbox, "TIME_BUDGET", 0.2)
    slow = "{% for a in range(100) %}{% for b in range(100) %}{% endfor %}{% endfor %}"
    assert render(source(slow), {}).text == ""  # well within 0.2 s on its own
    started = time.monotonic()
    with pytest.raises(TemplateProblem, match="takes longer than 0.2 seconds"):
        render(TemplateSource(slow * 500, slow * 500, slow * 500), {})
    assert time.monotonic() - started < 5  # stopped early, with slack for a busy CI


def test_lists_and_dicts_cannot_be_changed():
    with pytest.raises(TemplateProblem, match="unsafe"):
        render(
            source('{% set l = ["x"] %}{% for i in range(40) %}{{ l.extend(l) }}{% endfor %}'), {}
        )


#: Ordinary uses of the limited operations, rendered exactly as plain Jinja renders them.
ORDINARY = [
    '{{ "%-10s|%5.2f|%(x)s" % {"x": 1} if false else "%-10s|%5.2f" % ("ab", 3.14159) }}',
    '{{ "%s and %s"|format("a", "b") }} {{ "%(n)d"|format(n=3) }}',
    '{{ "{:>8}|{:<6}|{:^7}|{:08.3f}".format("r", "l", "c", 3.14159) }}',
    '{{ "{name}!".format_map({"name": relation.name}) }}',
    '{{ relation.name|center(30) }}|{{ relation.name.ljust(20) }}|{{ "7".zfill(3) }}',
    '{{ "a\\nb\\nc"|indent(4, true) }} {{ ("word " * 40)|wordwrap(20) }}',
    '{{ relation.name|replace(",", ";") }} {{ "a-b-c".replace("-", " - ") }}',
    '{{ ["a", "b", "c"]|join(", ") }} {{ ", ".join(["x", "y"]) }} '
    '{{ groups|join("/", attribute="n") }}',
    '{{ "-" * 72 }} {{ [1, 2] * 3 }} {{ 2 ** 10 }} {{ 10 % 3 }} {{ "a" ~ 1 ~ "b" }} '
    "{{ [1] + [2] }}",
    "{% for g in groups %}{% for d in g.domains %}{{ loop.index }}/{{ loop.length }} {{ d }}"
    "{% if not loop.last %}, {% endif %}{% endfor %}{% else %}none{% endfor %}",
    "{% for item in tree recursive %}{{ item.n }}{% if item.children %}[{{ loop(item.children) }}]"
    "{% endif %}{% endfor %}",
    "{% macro line(d) %}* {{ d|upper }}{% endmacro %}{% for g in groups %}"
    "{% for d in g.domains %}{{ line(d) }}\n{% endfor %}{% endfor %}",
    "{% set block %}{% for i in range(5) %}{{ i }}{% endfor %}{% endset %}{{ block|length }}",
    "{% filter upper %}{{ relation.name }} {% for i in range(3) %}x{% endfor %}{% endfilter %}",
    "{% set ns = namespace(total=0) %}{% for g in groups %}{% set ns.total = ns.total + "
    "g.domains|length %}{% endfor %}{{ ns.total }} {{ [1, 2, 3]|sum }} {{ 2.5|round(1) }}",
    "{{ groups|tojson(indent=2) }} {{ [1, 2, 3, 4, 5]|batch(2)|list }} "
    "{{ [1, 2, 3]|slice(2)|list }}",
    "{{ 'see https://example.com now'|urlize(target='_blank') }} "
    "{{ lipsum(1, false, 5, 10)|length > 0 }}",
    "{% for key, value in {'a': 1, 'b': 2}|dictsort %}{{ key }}={{ value }};{% endfor %}",
    '{{ ("<b>{}</b>"|safe).format("<i>") }} {{ ("<b>%s</b>"|safe) % "<i>" }} '
    '{{ ("<b>{x}</b>"|safe).format_map({"x": "<&>"}) }} {{ ("-"|safe).join(["<a>", "b"]) }}',
    "{% for x in 'abc' if x != 'b' %}{{ x }}{% endfor %}{{ relation.name|title|truncate(9) }}",
]

CONTEXT = {
    "relation": {"name": "Dommelsen, V <&>", "number": 1311},
    "groups": [
        {"n": "soon", "domains": ["a.com", "b.nl"]},
        {"n": "later", "domains": ["c.org"]},
    ],
    "tree": [
        {"n": 1, "children": [{"n": 2, "children": [{"n": 3, "children": []}]}]},
        {"n": 5, "children": []},
    ],
}


@pytest.mark.parametrize("text", ORDINARY)
@pytest.mark.parametrize("autoescape", [False, True])
def test_ordinary_templates_render_as_plain_jinja_does(text, autoescape):
    plain = SandboxedEnvironment(autoescape=autoescape, undefined=StrictUndefined)
    expected = plain.from_string(text).render(CONTEXT)
    parts = ("s", text, "h") if not autoescape else ("s", "t", text)
    rendered = render(TemplateSource(*parts), CONTEXT)
    assert (rendered.html if autoescape else rendered.text) == expected


def test_default_templates_render_as_plain_jinja_does(app):
    settings = ReminderSettings.from_config(rr_settings.read(app.config))
    today = dt.date(2027, 1, 10)
    for (name, language), shipped in DEFAULTS.items():
        if not template_samples.has_samples(name):
            continue
        contexts = template_samples.sample_contexts(name, language, today, settings.mail, settings)
        for context in contexts:
            rendered = render(shipped, context)
            for part, text, autoescape in (
                ("subject", shipped.subject, False),
                ("text", shipped.text_body, False),
                ("html", shipped.html_body, True),
            ):
                plain = SandboxedEnvironment(autoescape=autoescape, undefined=StrictUndefined)
                expected = plain.from_string(text).render(context)
                if part == "subject":
                    expected = " ".join(expected.split())
                assert getattr(rendered, part) == expected, (name, language, part)


def test_a_large_but_legitimate_digest_renders(app):
    """A reseller with 5,000 domains due on one day: well inside the limits."""
    shipped = DEFAULTS[(RENEWAL_REMINDER, "en")]
    domains = [
        {
            "name": f"domain-{i:05}.com",
            "client": "Client B.V.",
            "expiry_date": "2027-01-01",
            "deletion_date": "2027-01-02",
        }
        for i in range(5000)
    ]
    context = {
        "expires_today": False,
        "deletes": True,
        "renewal_url": "https://renewals.example.com/renewals/",
        "renewal_link": "https://renewals.example.com/renewals/link/#t=token",
        "groups": [{"phrase": "expire in 5 days", "domains": domains}],
        "sales_contact": None,
        "relation": {"number": 1311, "name": "Dommelsen, V", "email": "info@dommelsen.nl"},
        "domain_count": len(domains),
    }
    rendered = render(shipped, context)  # inside the time budget (about 0.1 s on this machine)
    assert "domain-04999.com (Client B.V.)" in rendered.text
    assert rendered.html.count("<li>") == 5000


# --- saving in the Admin screen -----------------------------------------------------------------


@pytest.fixture
def reminder_template(session):
    ensure_default_templates(session)
    return session.scalar(select(EmailTemplate).filter_by(name=RENEWAL_REMINDER, language="en"))


@pytest.mark.parametrize(
    ("field", "text", "error"),
    [
        ("text_body", '{{ "%999999999s" % 1 }}', "%-formatting would produce more than"),
        ("subject", '{{ "x"|center(999999999) }}', "center would produce more than"),
        ("html_body", '{{ "{:>999999999}".format(1) }}', "str.format() would produce more than"),
        (
            "text_body",
            "{% for a in range(99999) %}{% for b in range(99999) %}x{% endfor %}{% endfor %}",
            "the output is longer than 1,000,000 characters",
        ),
        ("text_body", '{{ "ab"|replace("", "x" * 1000) }}', "empty search text"),
        (
            "html_body",
            "{% for a in range(99999) %}{% for b in range(99999) %}{% endfor %}{% endfor %}",
            "takes longer than",
        ),
    ],
)
def test_admin_cannot_save_an_oversized_or_slow_template(
    client, world, session, reminder_template, field, text, error
):
    login(client, world.admin.username)
    row = reminder_template
    before = (row.subject, row.text_body, row.html_body)
    form = {"subject": row.subject, "text_body": row.text_body, "html_body": row.html_body}
    form[field] = text
    started = time.monotonic()
    response = client.post(f"/email-templates/edit/{row.id}", data=form)
    assert time.monotonic() - started < 15  # refused by the limits (slack for a busy CI)
    assert response.status_code == 200  # the form again, with the error
    body = html.unescape(response.get_data(as_text=True))
    # A template that is both huge and slow may hit the time limit first on a loaded machine.
    refused_by = [error, "takes longer than"] if "longer than 1,000,000" in error else [error]
    assert "Not saved" in body and any(reason in body for reason in refused_by)
    session.expire_all()
    fresh = session.get(EmailTemplate, row.id)
    assert (fresh.subject, fresh.text_body, fresh.html_body) == before


# --- sending ------------------------------------------------------------------------------------


REMINDER_DAY = dt.date(2027, 1, 10)


@pytest.fixture
def due_domain(session, reminder_template):
    relation = Relation(number=2001, name="Acme", billing_email="billing@acme.example.com")
    session.add(relation)
    session.add(
        Domain(name="acme.com", relation=relation, expiry_date=REMINDER_DAY + dt.timedelta(5))
    )
    session.commit()
    return relation


@pytest.mark.parametrize(
    ("text", "budget", "error"),
    [
        ('{{ "x"|center(999999999) }}', None, "center would produce more than"),
        (
            "{% for a in range(99999) %}{% for b in range(99999) %}{% endfor %}{% endfor %}",
            0.3,
            "takes longer than 0.3 seconds",
        ),
    ],
)
def test_at_send_time_the_limit_fails_that_email_only(
    app, session, smtp, reminder_template, due_domain, monkeypatch, text, budget, error
):
    if budget is not None:
        monkeypatch.setattr(template_sandbox, "TIME_BUDGET", budget)
    reminder_template.text_body = text  # stored directly: as if saved before the limits existed
    session.commit()
    started = time.monotonic()
    summary = run_reminders(app, REMINDER_DAY)
    assert time.monotonic() - started < 15  # the run is not held up (slack for a busy CI)
    # The run finishes; the email is not sent but recorded with the template problem (and
    # tried again by the next run, once the template is fixed).
    assert summary.sent == 0 and summary.skipped == 1 and smtp.messages == []
    assert error in summary.problems[0]
    session.expire_all()
    [entry] = session.scalars(select(ReminderLog)).all()
    assert entry.status is ReminderStatus.skipped
    assert "template error: text: " in entry.error and error in entry.error
