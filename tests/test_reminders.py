"""The automated renewal reminder, end to end: due set, digests, real SMTP delivery, the log."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from sqlalchemy import func, select

from renewal_reminder.addon import AddonStartupError
from renewal_reminder.jobs import run_reminders
from renewal_reminder.models import (
    Domain,
    DomainStatus,
    EmailTemplate,
    JobRun,
    Relation,
    RelationKind,
    ReminderLog,
    ReminderStatus,
)
from renewal_reminder.renewals.email_templates import RENEWAL_REMINDER, ensure_default_templates
from renewal_reminder.renewals.registrars import get_backend
from renewal_reminder.standalone import create_app
from tests.conftest import run_in_parallel

TODAY = dt.date(2027, 1, 10)


def days(n: int) -> dt.date:
    return TODAY + dt.timedelta(days=n)


@pytest.fixture
def portfolio(session):
    """Reseller #1311 (reminders to itself) with client #1312 (reminders go to the reseller)
    and client #1313 (reminders to itself, Dutch); direct client #2001."""
    ensure_default_templates(session)
    reseller = Relation(
        number=1311,
        name="Dommelsen, V",
        billing_email="info@dommelsen.nl",
        kind=RelationKind.reseller,
    )
    routed = Relation(
        number=1312,
        name="Bakkerij de Korf",
        billing_email="bakker@example.com",
        parent=reseller,
        reminders_to_reseller=True,
    )
    own = Relation(
        number=1313,
        name="Fietsen Jansen",
        billing_email="fiets@example.com",
        parent=reseller,
        reminders_to_reseller=False,
        language="nl",
    )
    direct = Relation(number=2001, name="Acme", billing_email="billing@acme.example.com")
    session.add_all([reseller, routed, own, direct])
    session.commit()
    return {"reseller": reseller, "routed": routed, "own": own, "direct": direct}


def add_domain(session, name, relation, expiry, status=DomainStatus.active):
    domain = Domain(name=name, relation=relation, expiry_date=expiry, status=status)
    session.add(domain)
    session.commit()
    return domain


def run(app, today=TODAY, **kwargs):
    return run_reminders(app, today, **kwargs)


def log_rows(session):
    session.expire_all()
    return session.scalars(select(ReminderLog).order_by(ReminderLog.id)).all()


def body(message) -> str:
    return message.get_body(("plain",)).get_content()


def html(message) -> str:
    return message.get_body(("html",)).get_content()


@pytest.mark.parametrize(
    ("expiry", "phrase"),
    [
        (dt.date(2027, 4, 10), "expire in 3 months"),
        (dt.date(2027, 3, 10), "expire in 2 months"),
        (dt.date(2027, 2, 10), "expire in 1 month"),
        (days(15), "expire in 15 days"),
        (days(5), "expire in 5 days"),
        (days(4), "expire in 4 days"),
        (days(3), "expire in 3 days"),
        (days(2), "expire in 2 days"),
        (days(1), "expire in 1 day"),
        (days(0), "expire today"),
    ],
)
def test_each_offset_sends_its_reminder(app, session, smtp, portfolio, expiry, phrase):
    add_domain(session, "deliverystatus.org", portfolio["direct"], expiry)
    summary = run(app)
    assert summary.ok and summary.sent == 1
    [message] = smtp.messages
    assert message["To"] == "billing@acme.example.com"
    text = body(message).replace("\r\n", "\n")
    assert (
        f"The following domainname(s) {phrase}:\n"
        f"- deliverystatus.org: expires {expiry.isoformat()}\n" in text
    )
    assert "http://renewals.test/renewals/" in body(message)
    assert "Relation #2001 : Acme Email : billing@acme.example.com" in body(message)


def test_no_domains_due_means_no_email(app, session, smtp, portfolio):
    add_domain(session, "later.com", portfolio["direct"], days(40))  # between 1m and 2m
    add_domain(session, "between.com", portfolio["direct"], days(22))  # 1m is 9 days late
    summary = run(app)
    assert smtp.messages == []
    assert (summary.recipients, summary.sent) == (0, 0)
    assert log_rows(session) == []


@pytest.mark.parametrize(
    ("status", "reminded"),
    [
        (DomainStatus.active, True),
        (DomainStatus.renewed, True),  # a new cycle needs its own decision
        (DomainStatus.renewal_confirmed, False),
        (DomainStatus.renewal_declined, False),
        (DomainStatus.deactivated, False),
        (DomainStatus.deleted, False),
    ],
)
def test_only_domains_awaiting_a_decision_get_reminders(
    app, session, smtp, portfolio, status, reminded
):
    add_domain(session, "status.com", portfolio["direct"], days(5), status)
    run(app)
    assert bool(smtp.messages) is reminded


def test_one_digest_per_recipient_soonest_group_first(app, session, smtp, portfolio):
    add_domain(session, "denzelishome.com", portfolio["reseller"], dt.date(2027, 3, 10))
    add_domain(session, "drivemasters.net", portfolio["reseller"], dt.date(2027, 3, 10))
    add_domain(session, "deliverystatus.org", portfolio["reseller"], days(5))
    add_domain(session, "bakkerij.nl", portfolio["routed"], days(5))  # routed to the reseller
    summary = run(app)
    assert summary.recipients == 1 and summary.domains == 4
    [message] = smtp.messages
    assert message["To"] == "info@dommelsen.nl"
    lines = [
        line for line in body(message).splitlines() if line.startswith(("The following", "- "))
    ]
    assert lines == [
        "The following domainname(s) expire in 5 days:",
        f"- bakkerij.nl (Bakkerij de Korf): expires {days(5)}",
        f"- deliverystatus.org: expires {days(5)}",
        "The following domainname(s) expire in 2 months:",
        "- denzelishome.com: expires 2027-03-10",
        "- drivemasters.net: expires 2027-03-10",
    ]
    assert "Relation #1311 : Dommelsen, V Email : info@dommelsen.nl" in body(message)
    assert "<li>bakkerij.nl (Bakkerij de Korf): expires" in html(message)


def test_client_with_its_own_reminders_gets_a_dutch_digest(app, session, smtp, portfolio):
    add_domain(session, "fietsen.nl", portfolio["own"], days(2))
    run(app)
    [message] = smtp.messages
    assert message["To"] == "fiets@example.com"
    assert f"verlopen over 2 dagen:\n- fietsen.nl: verloopt {days(2)}" in body(message).replace(
        "\r\n", "\n"
    )
    assert "Verlengingsherinnering" in message["Subject"]


def test_idn_domains_are_shown_in_unicode(app, session, smtp, portfolio):
    add_domain(session, "xn--bcher-kva.de", portfolio["direct"], days(5))
    run(app)
    assert "bücher.de" in body(smtp.messages[0])


def test_running_twice_sends_once(app, session, smtp, portfolio):
    add_domain(session, "once.com", portfolio["direct"], days(5))
    first, second = run(app), run(app)
    assert (first.sent, second.sent) == (1, 0)
    assert len(smtp.messages) == 1
    [row] = log_rows(session)
    assert (row.status, row.offset_code, row.recipient) == (
        ReminderStatus.sent,
        "5d",
        "billing@acme.example.com",
    )
    assert row.sent_at is not None and row.claim_token is None


def test_catch_up_sends_the_most_recent_missed_reminder_once(app, session, smtp, portfolio):
    # Expiry in 18 days: the 15d reminder was due 3 days from now... run 6 days later instead.
    add_domain(session, "late.com", portfolio["direct"], days(18))
    run(app, today=days(6))  # 15d was due on day 3: 3 days late, 12 days left
    [message] = smtp.messages
    assert "expire in 12 days:\n- late.com" in body(message).replace("\r\n", "\n")
    assert [row.offset_code for row in log_rows(session)] == ["15d"]
    run(app, today=days(7))
    assert len(smtp.messages) == 1  # not again, and no older reminder


def test_reminder_more_than_catchup_days_late_is_not_sent(app, session, smtp, portfolio):
    add_domain(session, "toolate.com", portfolio["direct"], days(18))
    run(app, today=days(11))  # 15d was due on day 3: 8 days late (> 7)
    assert smtp.messages == []


@pytest.mark.app_config(RENEWALS_REMINDER_CATCHUP_DAYS=0)
def test_catchup_zero_sends_only_on_the_day(app, session, smtp, portfolio):
    add_domain(session, "exact.com", portfolio["direct"], days(18))
    run(app, today=days(4))
    assert smtp.messages == []
    run(app, today=days(3))
    assert len(smtp.messages) == 1


def test_a_new_expiry_date_starts_a_fresh_calendar(app, session, smtp, portfolio):
    domain = add_domain(session, "cycle.com", portfolio["direct"], days(5))
    run(app)
    domain.expiry_date = dt.date(2028, 1, 15)
    domain.status = DomainStatus.renewed
    session.commit()
    run(app, today=dt.date(2028, 1, 10))
    assert len(smtp.messages) == 2
    assert {row.expiry_date for row in log_rows(session)} == {days(5), dt.date(2028, 1, 15)}


@pytest.mark.app_config(MAIL_PORT=9)  # nothing listens on the discard port here
def test_smtp_down_marks_nothing_sent_and_the_next_run_retries(
    app, session, smtp, portfolio, _smtp_controller
):
    add_domain(session, "retry.com", portfolio["direct"], days(5))
    add_domain(session, "retry2.com", portfolio["reseller"], days(5))
    summary = run(app)
    assert not summary.ok and summary.failed == 2 and summary.sent == 0
    rows = log_rows(session)
    assert {row.status for row in rows} == {ReminderStatus.failed}
    assert all("unreachable" in row.error for row in rows)
    # The server is back later that day: the next run retries both, and sends them once.
    app.extensions["renewal_reminder"].mail.port = _smtp_controller[0].port
    summary = run(app)
    assert summary.ok and summary.sent == 2
    assert {row.status for row in log_rows(session)} == {ReminderStatus.sent}
    assert [row.attempts for row in log_rows(session)] == [2, 2]
    assert "expire in 5 days:\n- retry.com" in body(smtp.to("billing@acme.example.com")[0]).replace(
        "\r\n", "\n"
    )
    assert run(app).sent == 0


@pytest.mark.app_config(MAIL_PORT=9)
def test_a_failed_reminder_gives_way_to_the_next_one(
    app, session, smtp, portfolio, _smtp_controller
):
    """Retries obey the catch-up rule: once a newer reminder is due, only that one is sent."""
    add_domain(session, "retry.com", portfolio["direct"], days(5))
    run(app)
    app.extensions["renewal_reminder"].mail.port = _smtp_controller[0].port
    run(app, today=days(1))
    [message] = smtp.messages
    assert "expire in 4 days:\n- retry.com" in body(message).replace("\r\n", "\n")
    assert {(row.offset_code, row.status) for row in log_rows(session)} == {
        ("5d", ReminderStatus.failed),
        ("4d", ReminderStatus.sent),
    }


def test_one_refused_address_does_not_stop_the_others(app, session, smtp, portfolio):
    smtp.refuse.add("billing@acme.example.com")
    add_domain(session, "refused.com", portfolio["direct"], days(5))
    add_domain(session, "fine.com", portfolio["reseller"], days(5))
    summary = run(app)
    assert (summary.sent, summary.failed) == (1, 1)
    assert [m["To"] for m in smtp.messages] == ["info@dommelsen.nl"]
    statuses = {row.recipient: row.status for row in log_rows(session)}
    assert statuses == {
        "billing@acme.example.com": ReminderStatus.failed,
        "info@dommelsen.nl": ReminderStatus.sent,
    }


def test_invalid_billing_address_is_skipped_not_sent(app, session, smtp, portfolio):
    portfolio["direct"].billing_email = "not an address"
    session.commit()
    add_domain(session, "skipped.com", portfolio["direct"], days(5))
    summary = run(app)
    assert summary.skipped == 1 and smtp.messages == []
    [row] = log_rows(session)
    assert row.status is ReminderStatus.skipped and "valid email" in row.error
    # Fixed the next day: sent then.
    portfolio["direct"].billing_email = "fixed@acme.example.com"
    session.commit()
    run(app, today=days(1))
    assert smtp.messages[0]["To"] == "fixed@acme.example.com"


def test_custom_template_is_used_and_html_escapes_database_values(app, session, smtp, portfolio):
    portfolio["direct"].name = "<script>alert(1)</script> & Co"
    template = session.scalar(select(EmailTemplate).filter_by(name=RENEWAL_REMINDER, language="en"))
    template.subject = "Renew now, {{ relation.name }}"
    template.text_body = "Hello {{ relation.name }}: {{ groups[0].domains[0].name }}"
    session.commit()
    add_domain(session, "custom.com", portfolio["direct"], days(5))
    run(app)
    [message] = smtp.messages
    assert body(message).strip() == "Hello <script>alert(1)</script> & Co: custom.com"
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in html(message)
    assert "<script>" not in html(message)


def test_a_name_with_a_newline_cannot_inject_a_header(app, session, smtp, portfolio):
    portfolio["direct"].name = "Evil\r\nBcc: victim@example.com"
    template = session.scalar(select(EmailTemplate).filter_by(name=RENEWAL_REMINDER, language="en"))
    template.subject = "Renew now, {{ relation.name }}"
    session.commit()
    add_domain(session, "inject.com", portfolio["direct"], days(5))
    run(app)
    [message] = smtp.messages
    assert message["Subject"] == "Renew now, Evil Bcc: victim@example.com"
    assert message["Bcc"] is None
    assert smtp.envelopes[0][1] == ["billing@acme.example.com"]


@pytest.mark.app_config(RENEWALS_REMINDER_BCC="archive@reseller.example.com")
def test_reminder_bcc_gets_a_copy(app, session, smtp, portfolio):
    add_domain(session, "copy.com", portfolio["direct"], days(5))
    run(app)
    assert smtp.envelopes[0][1] == ["billing@acme.example.com", "archive@reseller.example.com"]
    assert smtp.messages[0]["Bcc"] is None  # a blind copy stays blind


def test_dry_run_prints_and_changes_nothing(app, session, smtp, portfolio):
    add_domain(session, "dry.com", portfolio["direct"], days(5))
    result = app.test_cli_runner().invoke(
        args=["reminders", "send", "--date", TODAY.isoformat(), "--dry-run"]
    )
    assert result.exit_code == 0, result.output
    assert "would send to billing@acme.example.com (#2001): dry.com" in result.output
    assert smtp.messages == [] and log_rows(session) == []


def test_cli_sends_and_exits_non_zero_on_failure(app, session, smtp, portfolio):
    add_domain(session, "cli.com", portfolio["direct"], days(5))
    add_domain(session, "cli-fails.com", portfolio["reseller"], days(5))
    smtp.refuse.add("info@dommelsen.nl")
    result = app.test_cli_runner().invoke(args=["reminders", "send", "--date", TODAY.isoformat()])
    assert result.exit_code == 1
    assert "sent 1, failed 1, skipped 0" in result.output
    assert "info@dommelsen.nl" in result.output
    session.expire_all()
    run_row = session.scalar(select(JobRun))
    assert run_row.ok is False and "failed 1" in run_row.summary


def test_cli_rejects_a_bad_date(app):
    result = app.test_cli_runner().invoke(args=["reminders", "send", "--date", "2027-02-30"])
    assert result.exit_code == 2 and "2027-02-30" in result.output


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("RENEWALS_REMINDER_OFFSETS", "3m,banana", "not an offset"),
        ("RENEWALS_REMINDER_OFFSETS", "1m,30d", "swap order"),
        ("RENEWALS_REMINDER_CATCHUP_DAYS", "-1", "cannot be negative"),
        ("RENEWALS_REMINDER_CATCHUP_DAYS", "week", "whole number"),
        ("RENEWALS_REMINDER_INTERVAL_HOURS", "0", "more than 0"),
        ("RENEWALS_REMINDER_BCC", "not-an-address", "not a valid email"),
    ],
)
def test_bad_reminder_settings_stop_start_up(app_config, setting, value, message):
    app_config[setting] = value
    with pytest.raises(AddonStartupError, match=message):
        create_app(app_config)


@pytest.mark.app_config(RENEWALS_REMINDER_OFFSETS="1m,7d,+3d")
def test_post_expiry_notice(app, session, smtp, portfolio):
    """+3d: ICANN ERRP's notice after expiry, for a domain neither renewed nor deleted."""
    add_domain(session, "expired.com", portfolio["direct"], days(-3))
    add_domain(session, "week.com", portfolio["direct"], days(7))
    run(app)
    text = body(smtp.messages[0]).replace("\r\n", "\n")
    assert f"The following domainname(s) expire in 7 days:\n- week.com: expires {days(7)}" in text
    assert f"expired 3 days ago:\n- expired.com: expires {days(-3)}" in text


def test_scheduler_runs_the_job_in_its_own_context(app, session, smtp, portfolio):
    from renewal_reminder.scheduler import REMINDER_JOB_ID, create_scheduler

    add_domain(session, "scheduled.com", portfolio["direct"], dt.date.today())
    scheduler = create_scheduler(app)
    job = scheduler.get_job(REMINDER_JOB_ID)
    assert job.trigger.interval == dt.timedelta(hours=24)
    assert not any(key.startswith("SCHEDULER_") for key in app.config if key != "SCHEDULER_ENABLED")
    job.func()  # what the scheduler calls, outside any request or app context
    assert len(smtp.messages) == 1
    session.expire_all()
    run_row = session.scalar(select(JobRun))
    assert run_row.ok and run_row.finished_at is not None


def test_concurrent_runs_send_each_reminder_exactly_once(
    app_config, app, session, smtp, monkeypatch
):
    # Small chunks, so the runs claim and send side by side instead of one taking everything.
    monkeypatch.setattr("renewal_reminder.renewals.reminders.CHUNK_SIZE", 4)
    ensure_default_templates(session)
    relations = [
        Relation(number=5000 + i, name=f"Customer {i}", billing_email=f"customer{i}@example.com")
        for i in range(60)
    ]
    session.add_all(relations)
    session.flush()
    for i, relation in enumerate(relations):
        session.add(Domain(name=f"concurrent-{i}.com", relation=relation, expiry_date=days(5)))
        session.add(
            Domain(
                name=f"concurrent-{i}-b.com", relation=relation, expiry_date=dt.date(2027, 3, 10)
            )
        )
    session.commit()
    results = run_in_parallel(app_config, 3, lambda application: run_reminders(application, TODAY))
    assert sum(r.sent for r in results) == 60, [r.sent for r in results]
    assert sum(r.failed for r in results) == 0
    recipients = sorted(m["To"] for m in smtp.messages)
    assert recipients == sorted(f"customer{i}@example.com" for i in range(60))
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(ReminderLog)) == 120
    assert (
        session.scalar(
            select(func.count())
            .select_from(ReminderLog)
            .where(ReminderLog.status == ReminderStatus.sent)
        )
        == 120
    )


@pytest.mark.parametrize(
    ("settings", "executes", "promise"),
    [
        ({}, True, "stop working after the expiry date"),
        # The manual backend only queues a deletion for the sales contact: no promise.
        ({"RENEWALS_AUTO_DELETE": True}, False, "stop working after the expiry date"),
        ({"RENEWALS_AUTO_DELETE": True}, True, "deleted on {removal} unless renewed"),
        (
            {"RENEWALS_AUTO_DELETE": True, "RENEWALS_DELETION_GRACE_DAYS": 30},
            True,
            "deleted on {grace} unless renewed",
        ),
    ],
)
def test_reminders_promise_a_deletion_only_when_the_job_will_delete(
    app, session, smtp, portfolio, settings, executes, promise
):
    app.config.update(settings)
    if executes:
        app.extensions["renewal_reminder"].registrar = get_backend("simulated")
    add_domain(session, "ending.com", portfolio["direct"], days(5))
    run(app)
    text = body(smtp.messages[0]).replace("\r\n", "\n")
    expected = promise.format(removal=days(6), grace=days(36))
    assert expected in text
    if "deleted" not in promise:
        assert "deleted" not in text


@pytest.mark.parametrize(
    ("auto_delete", "subject"),
    [(False, "Expires today: 1 domainname(s)"), (True, "Expires today, then deleted")],
)
def test_the_expiry_day_reminder_has_its_own_subject_and_wording(
    app, session, smtp, portfolio, auto_delete, subject
):
    app.config["RENEWALS_AUTO_DELETE"] = auto_delete
    app.extensions["renewal_reminder"].registrar = get_backend("simulated")
    add_domain(session, "lastday.com", portfolio["direct"], days(0))
    run(app)
    [message] = smtp.messages
    assert message["Subject"].startswith(subject)
    assert "Last call: domainnames below expire TODAY." in body(message)


def test_scheduler_says_on_the_console_when_mail_fails(app, session, smtp, portfolio, caplog):
    """A demo without a mail server must not fail silently: a scheduled run whose emails
    failed logs a warning (shown on the console without any logging setup)."""
    from renewal_reminder.scheduler import REMINDER_JOB_ID, create_scheduler

    add_domain(session, "refused.com", portfolio["direct"], dt.date.today())
    smtp.refuse.add(portfolio["direct"].billing_email)
    job = create_scheduler(app).get_job(REMINDER_JOB_ID)
    with caplog.at_level(logging.WARNING, logger="renewal_reminder.scheduler"):
        job.func()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings and "finished with failures" in warnings[0].getMessage()
    assert "failed 1" in warnings[0].getMessage()
