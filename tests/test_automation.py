"""The automated removal and renewal job: its rules, its history, and running it twice."""

from __future__ import annotations

import datetime as dt

import pytest
from dateutil.relativedelta import relativedelta
from sqlalchemy import select

from renewal_reminder.jobs import run_processing
from renewal_reminder.models import (
    Decision,
    DecisionChannel,
    Domain,
    DomainStatus,
    ProcessingState,
    RenewalDecision,
)
from renewal_reminder.renewals.registrars import simulated
from tests.conftest import run_in_parallel

TODAY = dt.date.today()  # the world fixture's domains expire 10-30 days from today
executing = pytest.mark.app_config(
    RENEWALS_REGISTRAR_BACKEND="simulated", RENEWALS_AUTO_EXECUTE_RENEWALS=True
)


@pytest.fixture
def registry():
    simulated.SHARED.reset()
    yield simulated.SHARED
    simulated.SHARED.reset()


@pytest.fixture
def domains(world, session, registry):
    """A confirmed renewal, a declined and an undecided domain (both expired), one undecided
    within the grace period, and one not yet expired."""

    def add(name, expiry, status=DomainStatus.active, decision=None, years=None):
        domain = Domain(name=name, relation=world.c1, expiry_date=expiry, status=status)
        session.add(domain)
        if decision is not None:
            session.add(
                RenewalDecision(
                    domain=domain,
                    decision=decision,
                    years=years,
                    expiry_date=expiry,
                    channel=DecisionChannel.selection_page,
                )
            )
        registry.register(name, expiry)
        return domain

    made = {
        "confirmed": add(
            "confirmed.com",
            TODAY + dt.timedelta(days=20),
            DomainStatus.renewal_confirmed,
            Decision.renew,
            2,
        ),
        "declined": add(
            "declined.com",
            TODAY - dt.timedelta(days=1),
            DomainStatus.renewal_declined,
            Decision.decline,
        ),
        "undecided": add("undecided.com", TODAY - dt.timedelta(days=5)),
        "grace": add("grace.com", TODAY - dt.timedelta(days=1)),
        "future": add("future.com", TODAY + dt.timedelta(days=3)),
    }
    session.commit()
    return made


def status(session, domain) -> DomainStatus:
    session.expire_all()
    return session.get(Domain, domain.id).status


def decisions_of(session, domain):
    session.expire_all()
    return session.scalars(
        select(RenewalDecision)
        .where(RenewalDecision.domain_id == domain.id)
        .order_by(RenewalDecision.id)
    ).all()


@executing
@pytest.mark.app_config(RENEWALS_DELETION_GRACE_DAYS=2)
def test_renews_confirmed_and_removes_lapsed_domains(app, session, domains, registry):
    summary = run_processing(app, TODAY)
    assert summary.ok
    assert (summary.renewed, summary.deactivated, summary.deleted) == (1, 2, 0)

    confirmed = session.get(Domain, domains["confirmed"].id)
    session.refresh(confirmed)
    assert confirmed.status is DomainStatus.renewed
    assert confirmed.expiry_date == TODAY + dt.timedelta(days=20) + relativedelta(years=2)
    [renewal] = decisions_of(session, domains["confirmed"])
    assert renewal.state is ProcessingState.done and renewal.processed_by_id is None

    assert status(session, domains["declined"]) is DomainStatus.deactivated
    assert status(session, domains["undecided"]) is DomainStatus.deactivated
    assert status(session, domains["grace"]) is DomainStatus.active  # within 2 days' grace
    assert status(session, domains["future"]) is DomainStatus.active

    # The history: the customer's decline done; the job's own decline (channel automatic) done;
    # both then queued for deletion by the sales contact.
    undecided = decisions_of(session, domains["undecided"])
    assert [(d.channel, d.state) for d in undecided] == [
        (DecisionChannel.automatic, ProcessingState.done),
        (DecisionChannel.automatic, ProcessingState.queued),
    ]
    declined = decisions_of(session, domains["declined"])
    assert [(d.channel, d.state) for d in declined] == [
        (DecisionChannel.selection_page, ProcessingState.done),
        (DecisionChannel.automatic, ProcessingState.queued),
    ]


@executing
def test_running_twice_does_each_action_once(app, session, domains, registry):
    first = run_processing(app, TODAY)
    second = run_processing(app, TODAY)
    assert (second.renewed, second.deactivated, second.deleted, second.queued) == (0, 0, 0, 0)
    assert first.renewed == 1
    operations = [operation for operation, _ in registry.history]
    assert operations.count("renew") == 1
    assert operations.count("deactivate") == 3  # declined, undecided, grace (grace 0)


@executing
@pytest.mark.app_config(RENEWALS_AUTO_DELETE=True)
def test_auto_delete_deletes(app, session, domains, registry):
    summary = run_processing(app, TODAY)
    assert summary.deleted == 3 and summary.deactivated == 0
    assert status(session, domains["declined"]) is DomainStatus.deleted
    assert registry.info("undecided.com").deleted


@pytest.mark.app_config(RENEWALS_REGISTRAR_BACKEND="simulated")
def test_without_auto_execute_renewals_wait_for_a_person(app, session, domains, registry):
    run_processing(app, TODAY)
    assert status(session, domains["confirmed"]) is DomainStatus.renewal_confirmed
    assert "renew" not in [operation for operation, _ in registry.history]


def test_manual_backend_only_queues_lapsed_domains(app, session, domains):
    summary = run_processing(app, TODAY)
    assert summary.queued == 2 and summary.deactivated == 0  # grace.com: grace 0, expired
    assert status(session, domains["undecided"]) is DomainStatus.active
    [queued] = decisions_of(session, domains["undecided"])
    assert (queued.decision, queued.channel, queued.state) == (
        Decision.decline,
        DecisionChannel.automatic,
        ProcessingState.queued,
    )
    again = run_processing(app, TODAY)
    assert again.queued == 0
    assert len(decisions_of(session, domains["undecided"])) == 1


@executing
def test_a_backend_failure_is_reported_and_left_for_a_person(app, session, domains, registry):
    registry.fail_always("deactivate", 2400, "Command failed")
    summary = run_processing(app, TODAY)
    assert not summary.ok and summary.failed == 3
    assert "Command failed" in summary.problems[0]
    failed = decisions_of(session, domains["undecided"])[0]
    assert failed.state is ProcessingState.failed
    assert status(session, domains["undecided"]) is DomainStatus.active


@executing
def test_concurrent_runs_do_each_action_once(app_config, app, session, domains, registry):
    run_in_parallel(app_config, 2, lambda application: run_processing(application, TODAY))
    operations = [operation for operation, _ in registry.history]
    assert operations.count("renew") == 1
    assert operations.count("deactivate") == 3
    for name in ("undecided", "declined"):
        open_decisions = [
            d for d in decisions_of(session, domains[name]) if d.state is ProcessingState.queued
        ]
        assert len(open_decisions) == 1, name


@executing
def test_cli_dry_run_changes_nothing(app, session, domains, registry):
    result = app.test_cli_runner().invoke(
        args=["renewals", "process", "--date", TODAY.isoformat(), "--dry-run"]
    )
    assert result.exit_code == 0, result.output
    assert "would renew confirmed.com for 2 year(s)" in result.output
    assert "would deactivate undecided.com" in result.output
    assert registry.history == []
    assert status(session, domains["undecided"]) is DomainStatus.active


@executing
def test_cli_runs_and_reports(app, session, domains, registry):
    result = app.test_cli_runner().invoke(args=["renewals", "process", "--date", TODAY.isoformat()])
    assert result.exit_code == 0, result.output
    assert "renew 1, deactivate 3" in result.output
