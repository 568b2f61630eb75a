"""No confirmed renewal lapses unnoticed: its due-by date in the queue and the digest, alerts
to the sales contact on that date and to the escalation mailbox on the expiry day (each once,
even with two runs at the same moment), and failed executions retried with backoff.

Multi-day scenarios call the job functions with explicit dates, as
``flask renewals process --date D`` does; mail goes to the real SMTP server on loopback."""

from __future__ import annotations

import datetime as dt
import os
import re
import time
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import select

from renewal_reminder import settings
from renewal_reminder.jobs import run_processing, run_sales_digest
from renewal_reminder.models import (
    Decision,
    DecisionChannel,
    Domain,
    DomainStatus,
    EscalationLevel,
    EscalationLog,
    EscalationStatus,
    ProcessingState,
    Relation,
    RelationKind,
    RenewalDecision,
)
from renewal_reminder.models.base import utcnow
from renewal_reminder.renewals import deadlines, escalation
from renewal_reminder.renewals.registrars import simulated
from renewal_reminder.renewals.validation import InvalidValue
from tests.conftest import login, run_in_parallel

TODAY = dt.date.today()
SALES_A, OPS, ADMIN = "sales-a@example.com", "ops@example.com", "admin@example.com"
with_ops_mailbox = pytest.mark.app_config(RENEWALS_ESCALATION_EMAIL=OPS)
executing = pytest.mark.app_config(
    RENEWALS_REGISTRAR_BACKEND="simulated",
    RENEWALS_AUTO_EXECUTE_RENEWALS=True,
    RENEWALS_RENEWAL_RETRY_HOURS=6,
    RENEWALS_RENEWAL_RETRY_ATTEMPTS=3,
)


def days(n: int) -> dt.date:
    return TODAY + dt.timedelta(days=n)


@pytest.fixture
def registry():
    simulated.SHARED.reset()
    yield simulated.SHARED
    simulated.SHARED.reset()


def confirm(session, domain, years=1) -> RenewalDecision:
    """The customer confirmed the renewal: it waits in the queue."""
    domain.status = DomainStatus.renewal_confirmed
    row = RenewalDecision(
        domain=domain,
        decision=Decision.renew,
        years=years,
        expiry_date=domain.expiry_date,
        channel=DecisionChannel.selection_page,
    )
    session.add(row)
    session.commit()
    return row


def text_of(message) -> str:
    return message.get_body(("plain",)).get_content()


def fresh(session, model, pk):
    session.expire_all()
    return session.get(model, pk)


def alert_log(session):
    session.expire_all()
    return session.scalars(select(EscalationLog).order_by(EscalationLog.id)).all()


# --- the due-by date ----------------------------------------------------------------------------


def test_due_by_is_the_expiry_date_minus_the_lead_days():
    expiry = dt.date(2030, 3, 10)
    assert deadlines.due_by(expiry, 3) == dt.date(2030, 3, 7)
    before = deadlines.deadline(expiry, dt.date(2030, 3, 6), 3)
    on = deadlines.deadline(expiry, dt.date(2030, 3, 7), 3)
    after = deadlines.deadline(expiry, dt.date(2030, 3, 11), 3)
    assert (before.overdue, before.due_today, before.days_left) == (False, False, 4)
    assert (on.overdue, on.due_today, on.days_left, on.label) == (False, True, 3, "due today")
    assert (after.overdue, after.days_left, after.label) == (True, -1, "overdue")
    assert deadlines.due_by(dt.date(1, 1, 2), 3) == dt.date.min  # stored at the calendar's end


@pytest.fixture
def new_york_evening():
    """The server's clock on New York time, at 21:00 there: already the next day in UTC."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "America/New_York"
    time.tzset()
    evening = dt.datetime(2026, 12, 1, 21, 0, tzinfo=ZoneInfo("America/New_York"))
    try:
        with time_machine.travel(evening, tick=False):
            yield
    finally:
        if before is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = before
        time.tzset()


def test_a_run_for_another_day_moves_the_clock_by_whole_days_off_utc(new_york_evening):
    """A run for tomorrow works a day ahead, also where the local date is not UTC's (a retry
    due six hours after a failure waited another day when the days were counted from UTC's)."""
    today, now = dt.date.today(), utcnow()
    assert (today, now.date()) == (dt.date(2026, 12, 1), dt.date(2026, 12, 2))
    assert deadlines.job_clock(today) == now
    assert deadlines.job_clock(today + dt.timedelta(days=1)) == now + dt.timedelta(days=1)
    assert deadlines.job_clock(today - dt.timedelta(days=2)) == now - dt.timedelta(days=2)


def test_settings_are_checked():
    read = deadlines.DeadlineSettings.from_config
    assert read(settings.read({})) == deadlines.DeadlineSettings(3, 6, 5, ())
    assert read({"ESCALATION_EMAIL": " ops@example.com; noc@example.com "}).escalation_emails == (
        "ops@example.com",
        "noc@example.com",
    )
    for bad in (
        {"EXECUTION_LEAD_DAYS": "-1"},
        {"RENEWAL_RETRY_HOURS": "soon"},
        {"RENEWAL_RETRY_ATTEMPTS": 0},
        {"ESCALATION_EMAIL": "not an address"},
    ):
        with pytest.raises(InvalidValue):
            read(bad)


def test_queue_shows_due_dates_overdue_first(client, app, world, session):
    """Overdue renewals first (then soonest expiry), each with its due-by date; overdue and
    due-today rows marked."""
    world.d_c1.expiry_date = days(20)
    confirm(session, world.d_c1)  # due in 17 days
    overdue = Domain(name="overdue.com", relation=world.c1, expiry_date=days(2))
    due_today = Domain(name="due-today.com", relation=world.r1, expiry_date=days(3))
    declined = Domain(name="declined.com", relation=world.r1, expiry_date=days(1))
    session.add_all([overdue, due_today, declined])
    session.commit()
    confirm(session, due_today)
    confirm(session, overdue)
    session.add(
        RenewalDecision(
            domain=declined,
            decision=Decision.decline,
            expiry_date=declined.expiry_date,
            channel=DecisionChannel.selection_page,
        )
    )
    session.commit()

    login(client, SALES_A)
    html = client.get("/queue/").get_data(as_text=True)
    rows = re.findall(r'<th scope="row"><a [^>]*>([^<]+)</a>', html)
    assert rows == ["overdue.com", "declined.com", "due-today.com", "client-one.com"]
    assert "Due by" in html
    row_of = {name: html[html.index(f">{name}<") :].split("</tr>")[0] for name in rows}
    before = {name: html[: html.index(f">{name}<")].rsplit("<tr", 1)[1] for name in rows}
    assert days(-1).isoformat() in row_of["overdue.com"] and "overdue" in row_of["overdue.com"]
    assert 'class="danger"' in before["overdue.com"]
    assert "due today" in row_of["due-today.com"] and 'class="warning"' in before["due-today.com"]
    assert days(17).isoformat() in row_of["client-one.com"]
    assert "overdue" not in row_of["client-one.com"]


# --- escalation, day by day ---------------------------------------------------------------------


@with_ops_mailbox
def test_unexecuted_renewal_escalates_on_its_due_date_and_expiry_day(app, session, world, smtp):
    """Manual backend, nobody executes: the queue keeps it, the digest opens with it, the sales
    contact is alerted on the due date and the escalation mailbox on the expiry day, once."""
    expiry = world.d_c1.expiry_date  # in 20 days: due by day 17
    confirm(session, world.d_c1, years=2)

    assert run_processing(app, days(16)).ok
    assert smtp.messages == [] and alert_log(session) == []

    summary = run_processing(app, days(17))
    assert summary.ok and summary.alerts.sent == 1
    assert "overdue renewal alerts: sent 1, failed 0" in str(summary)
    [alert] = smtp.to(SALES_A)
    assert alert["Subject"] == "Overdue: 1 confirmed renewal(s) to carry out today"
    text = text_of(alert)
    assert text.startswith("Hello sales-a,")
    assert (
        f"client-one.com - renew 2 years - expires {expiry} (in 3 days), due by {days(17)} - "
        "#101 Client One, sales contact" in text
    )
    assert "http://renewals.test/queue/" in text
    assert smtp.to(OPS) == []

    # The same day again, and the day after: nothing new.
    assert run_processing(app, days(17)).alerts.sent == 0
    assert run_processing(app, days(18)).alerts.sent == 0
    assert len(smtp.messages) == 1

    # The digest of the due date opens with it; the next day's calls it overdue.
    smtp.clear()
    run_sales_digest(app, days(17))
    [digest] = smtp.to(SALES_A)
    assert "1 renewal(s) due now" in digest["Subject"]
    body = text_of(digest)
    assert body.index("Confirmed renewals due now") < body.index("Waiting in your renewal queue")
    assert (
        f"{expiry}  client-one.com - due today (due by {days(17)}), days left 3 (in 3 days)" in body
    )
    smtp.clear()
    run_sales_digest(app, days(19))
    assert "client-one.com - OVERDUE (due by" in text_of(smtp.to(SALES_A)[0])
    assert "days left 1 (tomorrow)" in text_of(smtp.to(SALES_A)[0])

    # The expiry day: the escalation mailbox, once; the sales contact is not alerted again.
    smtp.clear()
    assert run_processing(app, expiry).alerts.sent == 1
    [escalated] = smtp.to(OPS)
    assert escalated["Subject"].startswith("ESCALATION: 1 confirmed renewal(s)")
    assert "reached their expiry date" in text_of(escalated)
    assert f"sales contact sales-a <{SALES_A}>" in text_of(escalated)
    assert smtp.to(SALES_A) == []
    run_processing(app, expiry + dt.timedelta(days=1))
    assert len(smtp.messages) == 1

    logged = alert_log(session)
    assert [(row.level, row.status, row.recipient) for row in logged] == [
        (EscalationLevel.sales, EscalationStatus.sent, SALES_A),
        (EscalationLevel.escalation, EscalationStatus.sent, OPS),
    ]
    assert logged[0].run_date == days(17) and logged[1].run_date == expiry

    # Executed at last: no longer due anywhere.
    decision = fresh(session, RenewalDecision, logged[0].decision_id)
    decision.state = ProcessingState.done
    session.commit()
    smtp.clear()
    after = expiry + dt.timedelta(days=2)
    assert escalation.open_renewals_due(session, after, 3) == []
    run_sales_digest(app, after)
    assert all("due now" not in m["Subject"] for m in smtp.messages)


@with_ops_mailbox
def test_each_alert_once_with_two_concurrent_runs(app_config, app, session, world, smtp):
    expiry = world.d_c1.expiry_date
    confirm(session, world.d_c1)
    other = Domain(name="second.com", relation=world.c1, expiry_date=expiry)
    session.add(other)
    session.commit()
    confirm(session, other)

    results = run_in_parallel(
        app_config, 2, lambda application: run_processing(application, expiry)
    )
    assert sum(result.alerts.sent for result in results) == 4  # 2 renewals x 2 levels
    assert all(result.ok for result in results)
    [to_sales] = smtp.to(SALES_A)  # both renewals in one email
    [to_ops] = smtp.to(OPS)
    for message in (to_sales, to_ops):
        assert "client-one.com" in text_of(message) and "second.com" in text_of(message)
    assert len(smtp.messages) == 2
    assert len(alert_log(session)) == 4
    assert {row.status for row in alert_log(session)} == {EscalationStatus.sent}


def test_without_a_sales_contact_the_sales_alert_goes_to_the_admins(app, session, world, smtp):
    """No sales contact and no ESCALATION_EMAIL: the active Admins get it, never nobody."""
    orphan = Relation(
        number=300, name="No Contact", billing_email="nc@example.com", kind=RelationKind.client
    )
    domain = Domain(name="orphan.com", relation=orphan, expiry_date=days(3))
    session.add_all([orphan, domain])
    session.commit()
    confirm(session, domain)

    summary = run_processing(app, TODAY)
    assert summary.ok and summary.alerts.sent == 1
    [alert] = smtp.to(ADMIN)
    assert "has no sales contact" in text_of(alert)
    assert "orphan.com" in text_of(alert)
    [row] = alert_log(session)
    assert (row.level, row.recipient) == (EscalationLevel.sales, ADMIN)


@pytest.mark.app_config(RENEWALS_SALES_FALLBACK_EMAIL="team@reseller.example.com")
def test_without_a_sales_contact_the_sales_alert_goes_where_its_notifications_go(
    app, session, world, smtp
):
    """One rule for a relation without a sales contact: SALES_FALLBACK_EMAIL, as for its
    decisions (notifications.sales_recipients)."""
    orphan = Relation(
        number=301, name="No Contact", billing_email="nc@example.com", kind=RelationKind.client
    )
    domain = Domain(name="orphan-two.com", relation=orphan, expiry_date=days(3))
    session.add_all([orphan, domain])
    session.commit()
    confirm(session, domain)
    assert run_processing(app, TODAY).alerts.sent == 1
    [alert] = smtp.to("team@reseller.example.com")
    assert "orphan-two.com" in text_of(alert)
    assert "http://renewals.test/queue/?relation=301" in text_of(alert)  # its part of the queue
    assert smtp.to(ADMIN) == []


def test_a_failed_alert_is_retried_by_the_next_run(app, session, world, smtp):
    confirm(session, world.d_c2)  # sales B's client, expires in 10 days: due by day 7
    smtp.refuse.add("sales-b@example.com")
    summary = run_processing(app, days(7))
    assert not summary.ok and summary.alerts.failed == 1
    assert "refused" in summary.problems[0]
    [row] = alert_log(session)
    assert row.status is EscalationStatus.failed and row.attempts == 1

    smtp.refuse.clear()
    assert run_processing(app, days(8)).alerts.sent == 1
    assert len(smtp.to("sales-b@example.com")) == 1
    [row] = alert_log(session)
    assert (row.status, row.attempts, row.run_date) == (EscalationStatus.sent, 2, days(8))


def test_dry_run_sends_and_records_no_alert(app, session, world, smtp):
    confirm(session, world.d_c2)
    result = app.test_cli_runner().invoke(
        args=["renewals", "process", "--date", days(7).isoformat(), "--dry-run"]
    )
    assert result.exit_code == 0, result.output
    assert "would alert sales-b@example.com: client-two.com (sales" in result.output
    assert smtp.messages == [] and alert_log(session) == []

    result = app.test_cli_runner().invoke(
        args=["renewals", "process", "--date", days(7).isoformat()]
    )
    assert result.exit_code == 0, result.output
    assert "overdue renewal alerts: sent 1" in result.output


# --- retries ------------------------------------------------------------------------------------


@executing
def test_failed_renewals_are_retried_with_backoff_until_the_attempts_run_out(
    client, app, session, world, smtp, registry
):
    domain = Domain(name="flaky.com", relation=world.c1, expiry_date=days(30))
    session.add(domain)
    session.commit()
    registry.register("flaky.com", days(30))
    decision = confirm(session, domain)
    registry.fail_always("renew", 2400, "Command failed")

    first = run_processing(app, TODAY)
    assert (first.renewed, first.failed, first.retried) == (0, 1, 0)
    row = fresh(session, RenewalDecision, decision.id)
    assert (row.state, row.attempts) == (ProcessingState.failed, 1)
    assert "Command failed" in row.message
    first_retry = row.next_attempt_at
    assert first_retry is not None

    # Within the 6 hours: not again. The next day: retried (then 12 hours, then no more).
    assert run_processing(app, TODAY).failed == 0
    assert fresh(session, RenewalDecision, decision.id).attempts == 1
    second = run_processing(app, days(1))
    assert (second.failed, second.retried) == (1, 1)
    assert "retried 1" in str(second)
    row = fresh(session, RenewalDecision, decision.id)
    assert row.attempts == 2
    assert row.next_attempt_at - first_retry >= dt.timedelta(hours=24 + 6 - 1)  # 12h after day 1
    assert run_processing(app, days(2)).retried == 1
    row = fresh(session, RenewalDecision, decision.id)
    assert (row.attempts, row.next_attempt_at) == (3, None)  # 3 attempts: waits for a person
    assert run_processing(app, days(5)).retried == 0
    assert fresh(session, RenewalDecision, decision.id).attempts == 3

    # Visible on the domain page (its decisions) and in the digest.
    login(client, SALES_A)
    page = client.get(f"/domains/show/{domain.id}").get_data(as_text=True)
    assert "Failed attempts" in page and "Command failed" in page
    smtp.clear()
    run_sales_digest(app, days(5))
    digest = text_of(smtp.to(SALES_A)[0])
    assert "flaky.com" in digest and "FAILED (attempt 3): simulated: 2400 Command failed" in digest

    # A person executes it once the registry works again.
    registry.clear_failures()
    response = client.post("/queue/execute", data={"rowid": [str(decision.id)]})
    assert response.status_code == 302
    assert fresh(session, RenewalDecision, decision.id).state is ProcessingState.done


@executing
def test_a_retry_that_succeeds_renews_once_even_with_two_runs(
    app_config, app, session, world, registry
):
    domain = Domain(name="flaky.com", relation=world.c1, expiry_date=days(30))
    session.add(domain)
    session.commit()
    registry.register("flaky.com", days(30))
    decision = confirm(session, domain)
    registry.fail_next("renew", 2400, "Command failed")
    assert run_processing(app, TODAY).failed == 1

    results = run_in_parallel(
        app_config, 2, lambda application: run_processing(application, days(1))
    )
    assert sum(result.renewed for result in results) == 1
    assert sum(result.retried for result in results) == 1
    assert [operation for operation, _ in registry.history].count("renew") == 1
    row = fresh(session, RenewalDecision, decision.id)
    assert (row.state, row.attempts) == (ProcessingState.done, 1)
    assert fresh(session, Domain, domain.id).status is DomainStatus.renewed


@pytest.mark.app_config(RENEWALS_REGISTRAR_BACKEND="simulated", RENEWALS_AUTO_EXECUTE_RENEWALS=True)
def test_a_failure_from_the_queue_is_retried_after_the_backoff(
    client, app, session, world, registry
):
    """A sales contact's failed execution: the job retries it once the first wait has passed."""
    domain = Domain(name="flaky.com", relation=world.c1, expiry_date=days(30))
    session.add(domain)
    session.commit()
    registry.register("flaky.com", days(30))
    decision = confirm(session, domain)
    registry.fail_next("renew", 2400, "Command failed")
    login(client, SALES_A)
    client.post("/queue/execute", data={"rowid": [str(decision.id)]})
    row = fresh(session, RenewalDecision, decision.id)
    assert (row.state, row.attempts, row.next_attempt_at) == (ProcessingState.failed, 1, None)

    assert run_processing(app, TODAY).retried == 0  # 6 hours not yet passed
    assert run_processing(app, days(1)).renewed == 1
    assert fresh(session, RenewalDecision, decision.id).state is ProcessingState.done
