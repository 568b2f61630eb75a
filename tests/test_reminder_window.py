"""Which days a reminder run reads: only what no finished run has covered, plus late arrivals
and retries. What earlier runs handled is not read again, and nothing due is lost."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from sqlalchemy import text

from renewal_reminder import settings
from renewal_reminder.models import JobRun
from renewal_reminder.models.base import utcnow
from renewal_reminder.renewals.portfolio import import_portfolio
from renewal_reminder.renewals.reminders import (
    JOB_NAME,
    LATE_ARRIVAL_MARGIN,
    ReminderSettings,
    due,
    first_day_to_cover,
    last_covering_run,
)
from tests.test_reminders import TODAY, add_domain, body, days, log_rows, portfolio, run

__all__ = ["portfolio"]  # the fixture, shared with test_reminders

DEFAULT_CALENDAR = "3m,2m,1m,15d,5d,4d,3d,2d,1d,0d"


def record_run(
    session, run_date, ok=True, dry_run=False, finished=True, calendar=DEFAULT_CALENDAR
) -> JobRun:
    """A reminder run as ``jobs.run_reminders`` leaves it, started now."""
    started = utcnow()
    job_run = JobRun(
        job=JOB_NAME,
        run_date=run_date,
        started_at=started,
        finished_at=started if finished else None,
        ok=ok if finished else None,
        dry_run=dry_run,
        reminder_offsets=calendar,
    )
    session.add(job_run)
    session.commit()
    return job_run


def test_first_day_to_cover_is_the_day_after_the_last_covering_run_within_the_catch_up():
    assert first_day_to_cover(TODAY, 7, None) == days(-7)
    assert first_day_to_cover(TODAY, 7, days(-1)) == TODAY
    assert first_day_to_cover(TODAY, 7, days(-3)) == days(-2)
    assert first_day_to_cover(TODAY, 7, days(-30)) == days(-7)
    assert first_day_to_cover(TODAY, 0, days(-3)) == TODAY


def test_only_finished_real_runs_for_earlier_days_count(session):
    record_run(session, days(-5))
    covering = record_run(session, days(-4))
    record_run(session, days(-3), ok=False)  # emails failed, or it crashed
    record_run(session, days(-2), finished=False)  # still running, or killed
    record_run(session, days(-1), dry_run=True)
    record_run(session, TODAY)  # today's own earlier run does not narrow today's window
    record_run(session, days(3))  # a run someone made for a later date
    record_run(session, days(-1), calendar="3m,1m,0d")  # another calendar: not covered
    session.add(JobRun(job="sales_digest", run_date=days(-1), ok=True, dry_run=False))
    session.commit()
    assert last_covering_run(session, TODAY, DEFAULT_CALENDAR).id == covering.id


def test_a_run_records_its_calendar(app, session, portfolio):
    run(app, today=days(5))
    assert last_covering_run(session, days(6), DEFAULT_CALENDAR).run_date == days(5)
    assert due_settings(app).calendar == DEFAULT_CALENDAR


def due_settings(app) -> ReminderSettings:
    return ReminderSettings.from_config(settings.read(app.config))


def due_names(app, session, today) -> list[str]:
    return sorted(reminder.domain_name for reminder in due(session, today, due_settings(app)))


def test_a_run_trusts_the_days_an_earlier_run_covered(app, session, portfolio):
    # The 15d reminder of a domain expiring on day 18 is dated day 3. A covering run for
    # day 5 started well after the domain was added: it handled day 3, so day 6 does not
    # look.
    domain = add_domain(session, "covered.com", portfolio["direct"], days(18))
    assert due_names(app, session, days(6)) == ["covered.com"]  # no run yet: 7 days back
    covering = record_run(session, days(5))
    domain.updated_at = covering.started_at - LATE_ARRIVAL_MARGIN - dt.timedelta(seconds=1)
    session.commit()
    assert due_names(app, session, days(6)) == []


def test_a_domain_added_after_the_last_run_still_gets_its_missed_reminder_once(
    app, session, smtp, portfolio
):
    run(app, today=days(5))  # nothing due yet: an ordinary, finished run
    add_domain(session, "imported-late.com", portfolio["direct"], days(18))  # 15d: day 3
    run(app, today=days(6))
    [message] = smtp.messages
    assert "expire in 12 days:\n- imported-late.com" in body(message).replace("\r\n", "\n")
    run(app, today=days(6))
    run(app, today=days(7))
    assert len(smtp.messages) == 1
    assert [row.offset_code for row in log_rows(session)] == ["15d"]


def test_a_domain_whose_expiry_date_moved_after_the_last_run_is_reminded_for_the_new_date(
    app, session, smtp, portfolio
):
    domain = add_domain(session, "moved.com", portfolio["direct"], days(200))
    run(app, today=days(5))
    domain.expiry_date = days(18)  # corrected by hand or by the registrar sync: 15d was day 3
    session.commit()
    run(app, today=days(6))
    assert len(smtp.messages) == 1
    assert [(row.expiry_date, row.offset_code) for row in log_rows(session)] == [(days(18), "15d")]


def test_a_change_stamped_just_before_the_last_run_started_still_counts(
    app, session, smtp, portfolio
):
    # A portfolio import stamps its rows when it starts and commits seconds later: a run
    # that started in between did not see them, although they are stamped before it.
    domain = add_domain(session, "slow-import.com", portfolio["direct"], days(18))  # 15d: 3
    covering = record_run(session, days(5))
    domain.updated_at = covering.started_at - dt.timedelta(minutes=5)
    session.commit()
    assert due_names(app, session, days(6)) == ["slow-import.com"]


@pytest.mark.app_config(RENEWALS_REMINDER_OFFSETS="3m,2m,1m,14d,5d,4d,3d,2d,1d,0d")
def test_days_covered_under_another_calendar_are_read_again(app, session, portfolio):
    # 15d became 14d: the earlier run covered day 4 for 15d, not for 14d (dated day 4).
    add_domain(session, "new-offset.com", portfolio["direct"], days(18))
    record_run(session, days(5))  # the default calendar
    assert due_names(app, session, days(6)) == ["new-offset.com"]


def test_a_domain_imported_after_the_last_run_gets_its_missed_reminder(
    app, session, smtp, portfolio
):
    run(app, today=days(5))
    import_portfolio(
        session,
        io.StringIO(
            "domain,expiry_date,relation_number,relation_name,relation_email\n"
            f"imported.com,{days(18).isoformat()},2001,Acme,billing@acme.example.com\n",
            newline="",
        ),
    )
    run(app, today=days(6))
    [message] = smtp.messages
    assert "expire in 12 days:\n- imported.com" in body(message).replace("\r\n", "\n")


def test_the_day_of_a_run_that_did_not_finish_is_read_again(app, session, smtp, portfolio):
    add_domain(session, "after-crash.com", portfolio["direct"], days(18))  # 15d: day 3
    record_run(session, days(2))
    record_run(session, days(3), finished=False)  # died before it got to the domain
    run(app, today=days(4))
    [message] = smtp.messages
    assert "expire in 14 days:\n- after-crash.com" in body(message).replace("\r\n", "\n")


@pytest.mark.app_config(MAIL_PORT=9)  # nothing listens on the discard port here
def test_a_failed_reminder_is_retried_after_a_later_covering_run(
    app, session, smtp, portfolio, _smtp_controller
):
    add_domain(session, "retry-later.com", portfolio["direct"], days(18))  # 15d: day 3
    run(app, today=days(3))  # the mail server is down: logged as failed
    app.extensions["renewal_reminder"].mail.port = _smtp_controller[0].port
    record_run(session, days(4))  # a later run counts as covering (its own due set was sent)
    run(app, today=days(5))
    [message] = smtp.messages
    assert "- retry-later.com" in body(message)
    assert [(row.offset_code, row.attempts) for row in log_rows(session)] == [("15d", 2)]


def test_retries_are_read_through_the_partial_index(app, session):
    if session.get_bind().dialect.name != "sqlite":
        pytest.skip("the plan is SQLite's; PostgreSQL plans by its statistics")
    from sqlalchemy.dialects import sqlite

    from renewal_reminder.renewals import reminders

    captured = []
    original = session.execute

    def capture(statement, *args, **kwargs):
        captured.append(statement)
        return original(statement, *args, **kwargs)

    session.execute = capture
    try:
        reminders._retries(session, TODAY, due_settings(app), utcnow())
    finally:
        del session.execute
    [statement] = captured
    compiled = statement.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True})
    plan = session.execute(text(f"EXPLAIN QUERY PLAN {compiled}")).all()
    assert any("ix_rr_reminder_log_unsent" in row[-1] for row in plan), plan
