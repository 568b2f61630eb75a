"""Admin screens of the reminder run: email templates (edit, validation, preview, reset) and
the reminder log with the job's last and next run."""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest

from renewal_reminder.models import EmailTemplate, JobRun, Relation, ReminderLog, ReminderStatus
from renewal_reminder.renewals import email_templates, mailer, template_samples
from renewal_reminder.renewals.email_templates import (
    DEFAULTS,
    RENEWAL_REMINDER,
    SALES_DECISIONS,
    ensure_default_templates,
)
from tests.conftest import login

DENIED = (302, 403)
#: The preview's plain-text box: focusable, so a keyboard can scroll a long message.
PREVIEW_TEXT = '<pre id="preview-text" tabindex="0" aria-labelledby="preview-text-heading">'


@pytest.fixture
def templates(session):
    """The shipped templates (the per-test cleanup empties rr_ tables after app start-up)."""
    ensure_default_templates(session)
    rows = {
        row.language: row
        for row in session.query(EmailTemplate).filter_by(name=RENEWAL_REMINDER).all()
    }
    assert set(rows) >= {"en", "nl"}
    return rows


@pytest.fixture
def sales_template(session, templates):
    """The English sales-decisions template."""
    return session.query(EmailTemplate).filter_by(name=SALES_DECISIONS, language="en").one()


@pytest.fixture
def admin_client(client, world, templates):
    login(client, world.admin.username)
    return client


def template_form(row: EmailTemplate, **overrides) -> dict:
    form = {"subject": row.subject, "text_body": row.text_body, "html_body": row.html_body}
    form.update(overrides)
    return form


def stored(session, row: EmailTemplate) -> tuple[str, str, str]:
    session.expire_all()
    fresh = session.get(EmailTemplate, row.id)
    return fresh.subject, fresh.text_body, fresh.html_body


# --- email templates ----------------------------------------------------------------------------


def test_admin_lists_and_shows_templates(admin_client, templates):
    body = admin_client.get("/email-templates/list/").get_data(as_text=True)
    assert RENEWAL_REMINDER in body
    assert "Renewal reminder digest" in body  # the purpose
    preview_url = f"/email-templates/preview/{templates['en'].id}"
    assert preview_url in body
    show = admin_client.get(f"/email-templates/show/{templates['nl'].id}")
    assert show.status_code == 200
    page = show.get_data(as_text=True)
    assert "Verlengingsherinnering" in page
    assert f"/email-templates/preview/{templates['nl'].id}" in page
    assert "Reset to default" in page


def test_no_add_or_delete(admin_client, templates, session):
    assert admin_client.get("/email-templates/add").status_code in (*DENIED, 404, 405)
    response = admin_client.post(f"/email-templates/delete/{templates['en'].id}")
    assert response.status_code in (*DENIED, 404, 405)
    session.expire_all()
    assert session.get(EmailTemplate, templates["en"].id) is not None


def test_edit_form_has_large_text_areas_and_no_name_or_language(admin_client, templates):
    body = admin_client.get(f"/email-templates/edit/{templates['en'].id}").get_data(as_text=True)
    assert 'rows="15"' in body
    assert 'name="text_body"' in body and 'name="html_body"' in body
    assert 'name="name"' not in body and 'name="language"' not in body
    assert "Preview these changes" in body


def test_admin_edits_a_template(admin_client, templates, session):
    row = templates["en"]
    response = admin_client.post(
        f"/email-templates/edit/{row.id}",
        data=template_form(
            row,
            subject="Domains of {{ relation.name }} expire",
            text_body="Hello {{ relation.name }}\n{% for g in groups %}{{ g.phrase }}{% endfor %}",
        ),
    )
    assert response.status_code == 302
    subject, text, _ = stored(session, row)
    assert subject == "Domains of {{ relation.name }} expire"
    assert text.startswith("Hello {{ relation.name }}")


def test_name_and_language_cannot_be_changed(admin_client, templates, session):
    row = templates["en"]
    response = admin_client.post(
        f"/email-templates/edit/{row.id}",
        data=template_form(row, name="other", language="nl"),
    )
    assert response.status_code == 302
    session.expire_all()
    fresh = session.get(EmailTemplate, row.id)
    assert (fresh.name, fresh.language) == (RENEWAL_REMINDER, "en")


@pytest.mark.parametrize(
    ("field", "source", "error"),
    [
        ("subject", "Renewal {{ relation.name ", "unexpected end of template"),
        ("text_body", "{% for g in groups %}no end", "endfor"),
        ("html_body", "<p>{{ relation.nickname }}</p>", "nickname"),
        ("text_body", "{{ no_such_value }}", "no_such_value"),
        ("subject", "{{ relation.__class__.__mro__ }}", "unsafe"),
        ("html_body", "{{ ''.__class__.__subclasses__() }}", "unsafe"),
        ("text_body", "{{ cycler.__init__.__globals__ }}", "Not saved"),
        ("text_body", "{{ 1 / 0 }}", "ZeroDivisionError"),
        # Only when there is no sales contact: checked on a second sample digest.
        ("text_body", "{% if not sales_contact %}{{ sales_contact.name }}{% endif %}", "Not saved"),
        ("html_body", "", "This field is required"),
    ],
)
def test_broken_template_is_refused_and_nothing_is_saved(
    admin_client, templates, session, field, source, error
):
    row = templates["en"]
    before = stored(session, row)
    response = admin_client.post(
        f"/email-templates/edit/{row.id}", data=template_form(row, **{field: source})
    )
    assert response.status_code == 200  # the form again, with the error
    body = response.get_data(as_text=True)
    assert error in html.unescape(body)
    if source:
        assert source in html.unescape(body)  # what the admin typed is kept
    assert stored(session, row) == before


def test_preview_shows_subject_text_and_sandboxed_html(admin_client, templates):
    response = admin_client.get(f"/email-templates/preview/{templates['en'].id}")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "Renewal reminder: 4 domainname(s) expiring - relation #1311" in body
    assert PREVIEW_TEXT in body
    text = body.split(PREVIEW_TEXT)[1].split("</pre>")[0]
    assert "Dommelsen, V" in text and "info@dommelsen.nl" in text
    assert "expire in 5 days:" in text and "- deliverystatus.org: expires" in text
    assert "expire in 2 months:\n- denzelishome.com: expires" in text
    assert "- drivemasters.net: expires" in text
    assert "bakkerijjansen.nl (Bakkerij Jansen)" in text
    assert "http://renewals.test/renewals/" in text
    assert "<iframe" in body and " sandbox " in body
    srcdoc = body.split('srcdoc="')[1].split('"')[0]
    assert "<" not in srcdoc  # the HTML is inside an escaped attribute
    assert "<li>deliverystatus.org: expires" in html.unescape(srcdoc)


def test_preview_in_dutch(admin_client, templates):
    body = admin_client.get(f"/email-templates/preview/{templates['nl'].id}").get_data(as_text=True)
    assert "verlopen over 5 dagen:" in body and "deliverystatus.org: verloopt" in body


def test_preview_escapes_a_relation_name(admin_client, templates, session):
    session.add(
        Relation(number=4242, name="<script>alert(1)</script>", billing_email="x@example.com")
    )
    session.commit()
    response = admin_client.get(f"/email-templates/preview/{templates['en'].id}?relation=4242")
    body = response.get_data(as_text=True)
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body  # subject/text, escaped once
    srcdoc = body.split('srcdoc="')[1].split('"')[0]
    # In the HTML part the template escaped it, and the attribute escaped that again.
    assert "&amp;lt;script&amp;gt;alert(1)" in srcdoc
    assert "&lt;script&gt;alert(1)" in html.unescape(srcdoc)
    assert "<script>" not in html.unescape(srcdoc)


def test_preview_of_an_unknown_relation_falls_back_to_the_sample(admin_client, templates):
    body = admin_client.get(
        f"/email-templates/preview/{templates['en'].id}?relation=99999"
    ).get_data(as_text=True)
    assert "No relation number 99999" in body
    assert "Dommelsen, V" in body


def test_preview_of_unsaved_changes(admin_client, templates, session):
    row = templates["en"]
    before = stored(session, row)
    response = admin_client.post(
        f"/email-templates/preview/{row.id}",
        data=template_form(row, subject="Draft for #{{ relation.number }}"),
    )
    body = response.get_data(as_text=True)
    assert "Draft for #1311" in body and "Unsaved changes" in body
    broken = admin_client.post(
        f"/email-templates/preview/{row.id}", data=template_form(row, text_body="{{ oops }}")
    ).get_data(as_text=True)
    assert "cannot be rendered" in broken and "oops" in broken
    assert stored(session, row) == before


def test_preview_of_missing_template_is_404(admin_client, templates):
    assert admin_client.get("/email-templates/preview/999999").status_code == 404


def test_reset_to_default(admin_client, templates, session):
    row = templates["nl"]
    row.subject = "Changed {{ relation.number }}"
    row.text_body = "changed"
    session.commit()
    response = admin_client.post(f"/email-templates/action/reset_to_default/{row.id}")
    assert response.status_code == 302
    default = DEFAULTS[(RENEWAL_REMINDER, "nl")]
    assert stored(session, row) == (default.subject, default.text_body, default.html_body)
    page = admin_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "is back to the shipped default" in page
    assert "Database Error" not in page


def test_reset_by_get_is_refused_when_csrf_is_on(app, admin_client, templates, session):
    app.config["WTF_CSRF_ENABLED"] = True
    row = templates["en"]
    row.subject = "Changed"
    session.commit()
    admin_client.get(f"/email-templates/action/reset_to_default/{row.id}")
    assert stored(session, row)[0] == "Changed"


def _csrf_token(body: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', body) or re.search(
        r'id="csrf_token"[^>]*value="([^"]+)"', body
    )
    assert match, "no CSRF token on the page"
    return match.group(1)


def test_show_page_reset_and_edit_preview_work_with_csrf(app, admin_client, templates, session):
    app.config["WTF_CSRF_ENABLED"] = True
    row = templates["en"]
    row.subject = "Changed"
    session.commit()
    # Without the token the POST is refused.
    assert admin_client.post(f"/email-templates/action/reset_to_default/{row.id}").status_code in (
        400,
        *DENIED,
    )
    assert stored(session, row)[0] == "Changed"
    # The edit form's "Preview these changes" button posts the form, token included.
    edit_page = admin_client.get(f"/email-templates/edit/{row.id}").get_data(as_text=True)
    data = template_form(row, subject="Draft {{ relation.number }}")
    data["csrf_token"] = _csrf_token(edit_page)
    preview = admin_client.post(f"/email-templates/preview/{row.id}", data=data)
    assert preview.status_code == 200 and "Draft 1311" in preview.get_data(as_text=True)
    # The show page's "Reset to default" form carries a token.
    show_page = admin_client.get(f"/email-templates/show/{row.id}").get_data(as_text=True)
    response = admin_client.post(
        f"/email-templates/action/reset_to_default/{row.id}",
        data={"csrf_token": _csrf_token(show_page)},
    )
    assert response.status_code == 302
    assert stored(session, row)[0] == DEFAULTS[(RENEWAL_REMINDER, "en")].subject


def test_preview_for_real_relations(admin_client, templates, world):
    def text(number: int) -> str:
        url = f"/email-templates/preview/{templates['en'].id}?relation={number}"
        body = admin_client.get(url).get_data(as_text=True)
        return body.split(PREVIEW_TEXT)[1].split("</pre>")[0]

    reseller = text(world.r1.number)
    assert "Relation #100 : Reseller One Email : r1@example.com" in reseller
    assert "(Bakkerij Jansen)" in reseller  # a reseller's digest lists client domains
    assert "Contact Test" in reseller or "sales-a@example.com" in reseller
    client = text(world.c2.number)
    assert "Relation #200 : Client Two" in client
    assert "Bakkerij Jansen" not in client


# --- sample data per kind of template -------------------------------------------------------

SAMPLE_MAIL = mailer.MailSettings("http://renewals.test", "renewals@example.com")


@pytest.mark.parametrize(("name", "language"), sorted(DEFAULTS))
def test_every_default_renders_on_all_of_its_samples(name, language):
    """A new kind of template needs sample data in ``template_samples`` before it ships."""
    contexts = template_samples.sample_contexts(name, language, dt.date(2030, 3, 4), SAMPLE_MAIL)
    assert len(contexts) >= 2  # the preview's, and the other side of the ifs
    for context in contexts:
        rendered = email_templates.render(DEFAULTS[(name, language)], context)
        assert rendered.subject and rendered.text and rendered.html


def test_sample_contexts_of_an_unknown_template_name():
    with pytest.raises(KeyError, match="no sample data for email template 'nope'"):
        template_samples.sample_contexts("nope", "en", dt.date(2030, 3, 4), SAMPLE_MAIL)
    assert not template_samples.has_samples("nope")


def test_sales_decisions_samples_take_both_sides_of_the_ifs():
    contexts = template_samples.sample_contexts(
        SALES_DECISIONS, "en", dt.date(2030, 3, 4), SAMPLE_MAIL
    )
    texts = [email_templates.render(DEFAULTS[(SALES_DECISIONS, "en")], c).text for c in contexts]
    first, only_renew, only_decline = texts
    assert "To renew:" in first and "To decline" in first and "(Bakkerij Jansen)" in first
    assert "To renew:" in only_renew and "To decline" not in only_renew
    assert "(Bakkerij Jansen)" not in only_renew
    assert "To renew:" not in only_decline and "To decline" in only_decline
    assert "(Bakkerij Jansen)" in only_decline
    assert "http://renewals.test/queue/?relation=1311" in first


def test_reminder_samples_use_the_reminder_settings_link():
    contexts = template_samples.sample_contexts(
        RENEWAL_REMINDER, "nl", dt.date(2030, 3, 4), SAMPLE_MAIL
    )
    assert [c["relation"]["number"] for c in contexts] == [1311, 2024]
    assert contexts[0]["renewal_url"] == "http://renewals.test/renewals/"
    assert contexts[1]["sales_contact"] is None
    assert contexts[0]["groups"][0]["phrase"] == "verlopen over 5 dagen"


def test_edit_page_lists_the_values_of_the_templates_kind(admin_client, templates, sales_template):
    def values(row) -> str:
        body = admin_client.get(f"/email-templates/edit/{row.id}").get_data(as_text=True)
        return body.split('id="template-variables"')[1].split("</div>")[0]

    reminder = values(templates["en"])
    assert "<code>groups</code>" in reminder and "<code>renewal_url</code>" in reminder
    assert "<code>sales_contact</code> (may be empty)" in reminder
    assert "<code>renew</code>" not in reminder
    sales = values(sales_template)
    for name in ("renew", "decline", "decided_by", "channel", "queue_url", ".years", ".client"):
        assert f"<code>{name}</code>" in sales, name
    assert "<code>groups</code>" not in sales and "<code>renewal_url</code>" not in sales


def test_admin_edits_a_sales_decisions_template(admin_client, sales_template, session):
    text = (
        "Hi {{ sales_contact.name }}: {{ relation.name }} via {{ channel }}\n"
        "{% for d in renew %}{{ d.name }} {{ d.years }}y{% endfor %}"
        "{% for d in decline %}{{ d.name }}{% endfor %}\n{{ queue_url }}"
    )
    response = admin_client.post(
        f"/email-templates/edit/{sales_template.id}",
        data=template_form(sales_template, subject="{{ renew|length }} to renew", text_body=text),
    )
    assert response.status_code == 302
    assert stored(session, sales_template)[:2] == ("{{ renew|length }} to renew", text)


@pytest.mark.parametrize(
    ("field", "source", "error"),
    [
        # A reminder's values are not there in a sales email.
        ("text_body", "{% for g in groups %}{{ g.phrase }}{% endfor %}", "groups"),
        ("subject", "{{ domain_count }} domains", "domain_count"),
        ("html_body", "<p>{{ relation.email }}</p>", "email"),
        # Only when nothing is declined: checked on the sample with renewals only.
        ("text_body", "{% if not decline %}{{ decline[0].name }}{% endif %}", "Not saved"),
        # Only for a declined client domain: checked on the sample with declines only.
        (
            "text_body",
            "{% for d in decline %}{% if d.client %}{{ d.client.nope }}{% endif %}{% endfor %}",
            "nope",
        ),
        ("text_body", "{% for d in renew %}{{ d.name }}", "endfor"),
    ],
)
def test_broken_sales_decisions_template_is_refused(
    admin_client, sales_template, session, field, source, error
):
    before = stored(session, sales_template)
    response = admin_client.post(
        f"/email-templates/edit/{sales_template.id}",
        data=template_form(sales_template, **{field: source}),
    )
    assert response.status_code == 200
    assert error in html.unescape(response.get_data(as_text=True))
    assert stored(session, sales_template) == before


def test_preview_of_a_sales_decisions_template(admin_client, sales_template, world):
    # ?relation= only readdresses reminders: here it is ignored, and there is no box for it.
    url = f"/email-templates/preview/{sales_template.id}?relation={world.r1.number}"
    response = admin_client.get(url)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "cannot be rendered" not in body
    assert 'name="relation"' not in body and "No relation number" not in body
    assert "Renewal decisions for #1311 Dommelsen, V: 3 renew, 1 decline" in body
    assert "sanne.devries@reseller.example.com" in body
    text = body.split(PREVIEW_TEXT)[1].split("</pre>")[0]
    assert "Hello Sanne," in text
    assert "on the renewal selection page" in text
    assert "bakkerijjansen.nl (Bakkerij Jansen) - 2 years" in text
    assert "drivemasters.net - expires" in text
    assert "http://renewals.test/queue/?relation=1311" in html.unescape(text)
    assert "Reseller One" not in body
    srcdoc = html.unescape(body.split('srcdoc="')[1].split('"')[0])
    assert "Process them in the renewal queue</a>" in srcdoc


def test_preview_of_unsaved_sales_decisions_changes(admin_client, sales_template, session):
    before = stored(session, sales_template)
    body = admin_client.post(
        f"/email-templates/preview/{sales_template.id}",
        data=template_form(sales_template, subject="Draft: {{ decided_by }}"),
    ).get_data(as_text=True)
    assert "Draft: Vera Dommelsen (vdommelsen)" in body and "Unsaved changes" in body
    broken = admin_client.post(
        f"/email-templates/preview/{sales_template.id}",
        data=template_form(sales_template, text_body="{{ renewal_url }}"),
    ).get_data(as_text=True)
    assert "cannot be rendered" in broken and "renewal_url" in broken
    assert stored(session, sales_template) == before


def test_a_template_kind_without_samples_is_not_saved(admin_client, templates, session):
    row = EmailTemplate(
        name="future_kind", language="en", subject="s", text_body="t", html_body="h"
    )
    session.add(row)
    session.commit()
    response = admin_client.post(
        f"/email-templates/edit/{row.id}", data=template_form(row, subject="changed")
    )
    assert response.status_code == 200
    assert "no sample data for future_kind" in response.get_data(as_text=True)
    assert stored(session, row)[0] == "s"
    edit = admin_client.get(f"/email-templates/edit/{row.id}").get_data(as_text=True)
    assert "There is no sample data for this kind of template" in edit
    preview = admin_client.get(f"/email-templates/preview/{row.id}").get_data(as_text=True)
    assert "cannot be rendered" in preview and "no sample data" in preview


# --- access -------------------------------------------------------------------------------------


@pytest.mark.parametrize("login_attr", ["sales_a", "reseller_login", "client1_login"])
def test_non_admins_are_refused(client, world, templates, session, login_attr):
    _log_row(session, world.d_c1, ReminderStatus.sent)
    login(client, getattr(world, login_attr).username)
    row = templates["en"]
    for url in (
        "/email-templates/list/",
        f"/email-templates/show/{row.id}",
        f"/email-templates/edit/{row.id}",
        f"/email-templates/preview/{row.id}",
        "/reminder-log/list/",
    ):
        assert client.get(url).status_code in DENIED, url
    before = stored(session, row)
    response = client.post(f"/email-templates/edit/{row.id}", data=template_form(row, subject="x"))
    assert response.status_code in DENIED
    client.post(f"/email-templates/action/reset_to_default/{row.id}")
    assert stored(session, row) == before
    menu = client.get("/domains/list/").get_data(as_text=True)
    assert "Email templates" not in menu and "Reminder log" not in menu


def test_anonymous_is_sent_to_login(client, templates):
    for url in ("/email-templates/list/", "/reminder-log/list/"):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


# --- reminder log -------------------------------------------------------------------------------


def _log_row(session, domain, status, offset="5d", days_ago=0, error=None, recipient=None):
    today = dt.date.today()
    row = ReminderLog(
        domain_id=domain.id,
        expiry_date=domain.expiry_date,
        offset_code=offset,
        reminder_date=today - dt.timedelta(days=days_ago),
        run_date=today - dt.timedelta(days=days_ago),
        recipient=recipient or domain.relation.billing_email,
        status=status,
        attempts=1,
        error=error,
        sent_at=dt.datetime(2030, 1, 2, 3, 4) if status is ReminderStatus.sent else None,
        created_at=dt.datetime.now() - dt.timedelta(days=days_ago),
    )
    session.add(row)
    session.commit()
    return row


@pytest.fixture
def logged(world, session):
    return [
        _log_row(session, world.d_c2, ReminderStatus.sent, "15d", days_ago=3),
        _log_row(
            session, world.d_c1, ReminderStatus.failed, "1m", days_ago=1, error="550 " + "x" * 200
        ),
        _log_row(session, world.d_r1, ReminderStatus.skipped, "1m", error="bad address"),
    ]


def test_log_lists_rows_newest_first(admin_client, logged):
    body = admin_client.get("/reminder-log/list/").get_data(as_text=True)
    positions = [body.index(name) for name in ("reseller-one.com", "client-one.com")]
    assert positions == sorted(positions)
    assert body.index("client-one.com") < body.index("client-two.com")
    assert "bad address" in body and "failed" in body and "skipped" in body
    assert "x" * 200 not in body  # long errors are shortened in the list


def test_log_show_page_has_the_whole_error(admin_client, logged):
    body = admin_client.get(f"/reminder-log/show/{logged[1].id}").get_data(as_text=True)
    assert "550 " + "x" * 200 in body


def test_log_is_read_only(admin_client, logged, session):
    row = logged[0]
    assert admin_client.get(f"/reminder-log/edit/{row.id}").status_code in (*DENIED, 404, 405)
    admin_client.post(f"/reminder-log/delete/{row.id}")
    session.expire_all()
    assert session.get(ReminderLog, row.id) is not None


def test_log_search(admin_client, logged):
    def domains(query: str) -> set[str]:
        body = admin_client.get(f"/reminder-log/list/?{query}").get_data(as_text=True)
        return {n for n in ("reseller-one.com", "client-one.com", "client-two.com") if n in body}

    assert domains("_flt_0_domain_id=client-") == {"client-one.com", "client-two.com"}
    assert domains("_flt_0_domain_id=TWO") == {"client-two.com"}
    assert domains("_flt_0_status=failed") == {"client-one.com"}
    assert domains("_flt_0_recipient=c2@example.com") == {"client-two.com"}
    assert domains(f"_flt_0_run_date={dt.date.today()}") == {"reseller-one.com"}


def test_log_shows_last_and_next_run(admin_client, session, logged):
    session.add(
        JobRun(
            job="reminders",
            run_date=dt.date(2030, 5, 6),
            started_at=dt.datetime(2030, 5, 6, 7, 0),
            finished_at=dt.datetime(2030, 5, 6, 7, 1),
            ok=True,
            summary="reminders 2030-05-06: 3 recipients, 4 domains; sent 3, failed 0, skipped 0",
            next_run_at=dt.datetime(2099, 5, 7, 7, 0),
        )
    )
    session.commit()
    body = admin_client.get("/reminder-log/list/").get_data(as_text=True)
    assert "started 2030-05-06 07:00 UTC" in body
    assert "finished 2030-05-06 07:01 UTC" in body
    assert "sent 3, failed 0" in body and "OK" in body
    assert "2099-05-07 07:00 UTC" in body
    assert "not scheduled" not in body


def test_log_says_when_nothing_is_scheduled(admin_client, session, logged):
    body = admin_client.get("/reminder-log/list/").get_data(as_text=True)
    assert "none yet" in body
    assert "not scheduled in a running process" in body
    assert "flask --app run reminders send" in body
    session.add(
        JobRun(
            job="reminders",
            run_date=dt.date.today(),
            started_at=dt.datetime(2030, 1, 1, 8, 0),
            ok=None,
            next_run_at=None,
        )
    )
    session.commit()
    body = admin_client.get("/reminder-log/list/").get_data(as_text=True)
    assert "not finished" in body
    assert "not scheduled in a running process" in body


def test_log_flags_an_overdue_next_run(admin_client, session, logged):
    session.add(
        JobRun(
            job="reminders",
            run_date=dt.date(2020, 1, 1),
            started_at=dt.datetime(2020, 1, 1, 7, 0),
            finished_at=dt.datetime(2020, 1, 1, 7, 5),
            ok=False,
            summary="reminders 2020-01-01: failed 2",
            next_run_at=dt.datetime(2020, 1, 2, 7, 0),
        )
    )
    session.commit()
    body = admin_client.get("/reminder-log/list/").get_data(as_text=True)
    assert "with failures" in body and "overdue" in body
