"""The registrar sync: domains renewed elsewhere start their next cycle, domains gone from the
registry (2303) or in pendingDelete are deleted with the reason, nothing else changes; dry
runs, one relation, twice, concurrently, resumed, and what the sales digest shows."""

from __future__ import annotations

import datetime as dt

import pytest
from dateutil.relativedelta import relativedelta
from sqlalchemy import func, select, update

from renewal_reminder.jobs import REGISTRAR_SYNC, run_registrar_sync
from renewal_reminder.models import (
    Decision,
    DecisionChannel,
    Domain,
    DomainStatus,
    JobRun,
    ProcessingState,
    Receipt,
    RegistryDifference,
    RenewalDecision,
)
from renewal_reminder.renewals import registry_sync, sales_digest
from renewal_reminder.renewals.registrars import simulated
from tests.conftest import run_in_parallel

pytestmark = pytest.mark.app_config(RENEWALS_REGISTRAR_BACKEND="simulated")


@pytest.fixture
def registry(app):
    simulated.SHARED.reset()
    yield simulated.SHARED
    simulated.SHARED.reset()


def fresh(session, model, pk):
    session.expire_all()
    return session.get(model, pk)


def decisions_of(session, domain) -> list[RenewalDecision]:
    session.expire_all()
    return list(
        session.scalars(
            select(RenewalDecision)
            .where(RenewalDecision.domain_id == domain.id)
            .order_by(RenewalDecision.id)
        )
    )


def snapshot(session) -> tuple:
    session.expire_all()
    domains = session.execute(
        select(Domain.id, Domain.expiry_date, Domain.status, Domain.renewal_years).order_by(
            Domain.id
        )
    ).all()
    decisions = session.execute(
        select(RenewalDecision.id, RenewalDecision.state, RenewalDecision.message).order_by(
            RenewalDecision.id
        )
    ).all()
    return domains, decisions


def cli(app, *args):
    return app.test_cli_runner().invoke(args=["domains", "sync", *args])


def a_day_later(session) -> None:
    """The names found gone were first found so a day (a job interval) ago."""
    session.expire_all()
    marked = session.execute(
        select(Domain.id, Domain.registry_gone_since).where(Domain.registry_gone_since.is_not(None))
    ).all()
    for domain_id, since in marked:
        session.execute(
            update(Domain)
            .where(Domain.id == domain_id)
            .values(registry_gone_since=since - dt.timedelta(hours=24))
        )
    session.commit()


def confirmed_renewal(session, domain, years=1) -> RenewalDecision:
    decision = RenewalDecision(
        domain=domain,
        decision=Decision.renew,
        years=years,
        expiry_date=domain.expiry_date,
        channel=DecisionChannel.selection_page,
    )
    domain.status = DomainStatus.renewal_confirmed
    domain.renewal_years = years
    session.add(decision)
    session.commit()
    return decision


def differences_stored(session) -> dict[str, list[str]]:
    session.expire_all()
    rows = session.execute(
        select(Domain.name, RegistryDifference.detail)
        .join(Domain, Domain.id == RegistryDifference.domain_id)
        .order_by(RegistryDifference.id)
    )
    found: dict[str, list[str]] = {}
    for name, detail in rows:
        found.setdefault(name, []).append(detail)
    return found


# --- the four cases ------------------------------------------------------------------------------


def test_unchanged_domains_stay_as_they_are(app, world, session, registry):
    before = snapshot(session)
    summary = run_registrar_sync(app)
    assert (summary.checked, summary.unchanged, summary.moved_on, summary.deleted) == (3, 3, 0, 0)
    assert summary.ok
    assert snapshot(session) == before


def test_a_domain_renewed_at_the_registrar_starts_its_next_cycle(app, world, session, registry):
    domain = world.d_c1
    old_expiry = domain.expiry_date
    domain.renewal_years = 2
    session.commit()
    new_expiry = old_expiry + relativedelta(years=1)
    registry.register(domain.name, new_expiry)
    summary = run_registrar_sync(app)
    assert (summary.moved_on, summary.deleted, summary.unchanged) == (1, 0, 2)
    domain = fresh(session, Domain, domain.id)
    # As an executed renewal leaves it (lifecycle.start_next_cycle).
    assert (domain.expiry_date, domain.status, domain.renewal_years) == (
        new_expiry,
        DomainStatus.renewed,
        None,
    )
    [record] = decisions_of(session, domain)
    assert (record.decision, record.years, record.expiry_date) == (Decision.renew, 1, old_expiry)
    assert (record.state, record.channel, record.processed_by_id) == (
        ProcessingState.done,
        DecisionChannel.automatic,
        None,
    )
    assert record.message == (
        f"renewed at the registrar until {new_expiry} (found by the registrar sync)"
    )


def test_a_queued_renewal_done_at_the_registrar_is_done_with_its_receipt(
    app, world, session, registry
):
    domain = world.d_c2
    queued = RenewalDecision(
        domain=domain,
        decision=Decision.renew,
        years=2,
        expiry_date=domain.expiry_date,
        channel=DecisionChannel.selection_page,
    )
    domain.status = DomainStatus.renewal_confirmed
    session.add(queued)
    session.commit()
    new_expiry = domain.expiry_date + relativedelta(years=2)
    registry.register(domain.name, new_expiry)
    assert run_registrar_sync(app).moved_on == 1
    [decision] = decisions_of(session, domain)  # no second record: the customer's is done
    assert decision.id == queued.id and decision.state is ProcessingState.done
    assert "renewed at the registrar" in decision.message
    assert fresh(session, Domain, domain.id).status is DomainStatus.renewed
    [receipt] = session.scalars(select(Receipt)).all()
    assert receipt.event_key == f"decision-{queued.id}"


def test_a_renewal_elsewhere_supersedes_other_open_decisions(app, world, session, registry):
    domain = world.d_r1
    declined = RenewalDecision(
        domain=domain,
        decision=Decision.decline,
        expiry_date=domain.expiry_date,
        channel=DecisionChannel.selection_page,
    )
    domain.status = DomainStatus.renewal_declined
    session.add(declined)
    session.commit()
    registry.register(domain.name, domain.expiry_date + relativedelta(years=1))
    assert run_registrar_sync(app).moved_on == 1
    declined = fresh(session, RenewalDecision, declined.id)
    assert declined.state is ProcessingState.superseded
    assert declined.message.startswith("superseded: renewed at the registrar until")


@pytest.mark.parametrize(
    ("make_it_so", "reason"),
    [
        (
            lambda registry, name: registry.drop(name),
            "gone from the registry (2303 Object does not exist)",
        ),
        (
            lambda registry, name: registry.delete(name),
            "in its redemption period at the registry (pendingDelete)",
        ),
    ],
    ids=["2303", "pendingDelete"],
)
def test_a_domain_deleted_at_the_registry_is_deleted_with_the_reason_when_found_twice(
    app, world, session, registry, make_it_so, reason
):
    domain = world.d_c1
    declined = RenewalDecision(
        domain=domain,
        decision=Decision.decline,
        expiry_date=domain.expiry_date,
        channel=DecisionChannel.selection_page,
    )
    domain.status = DomainStatus.renewal_declined
    session.add(declined)
    session.commit()
    make_it_so(registry, domain.name)
    before = snapshot(session)
    # One answer deletes nothing: the first run only notes when it was first found gone, and
    # a run soon after (less than REGISTRAR_SYNC_HOURS) does not delete it either.
    for _ in range(2):
        summary = run_registrar_sync(app)
        assert (summary.deleted, summary.gone_waiting, summary.unchanged) == (0, 1, 2)
        assert summary.ok
        assert snapshot(session) == before
    assert fresh(session, Domain, domain.id).registry_gone_since is not None
    a_day_later(session)
    summary = run_registrar_sync(app)
    assert (summary.deleted, summary.gone_waiting, summary.unchanged) == (1, 0, 2)
    assert fresh(session, Domain, domain.id).status is DomainStatus.deleted
    superseded, record = decisions_of(session, domain)
    assert superseded.id == declined.id and superseded.state is ProcessingState.superseded
    assert (record.decision, record.state, record.processed_by_id) == (
        Decision.decline,
        ProcessingState.done,
        None,
    )
    assert record.message == f"deleted at the registry: {reason} (found by the registrar sync)"


def test_a_name_back_at_the_registry_starts_counting_afresh(app, world, session, registry):
    expiry = world.d_c1.expiry_date
    registry.drop(world.d_c1.name)
    run_registrar_sync(app)
    registry.register(world.d_c1.name, expiry)
    assert run_registrar_sync(app).unchanged == 3
    assert fresh(session, Domain, world.d_c1.id).registry_gone_since is None
    registry.drop(world.d_c1.name)
    run_registrar_sync(app)
    a_day_later(session)  # a day after the *first* sighting, not after this one
    registry.register(world.d_c1.name, expiry)
    assert fresh(session, Domain, world.d_c1.id).status is DomainStatus.active


@pytest.mark.parametrize("gone", ["2303", "pendingDelete"])
def test_a_confirmed_renewal_is_kept_open_when_the_registry_deleted_the_domain(
    app, world, session, registry, gone
):
    """The customer confirmed; the name went: restore it in the redemption period. The
    renewal stays open (failed, with the reason) so the queue and escalation keep alarming."""
    from renewal_reminder.renewals import escalation

    domain = world.d_c1
    renewal = confirmed_renewal(session, domain)
    if gone == "2303":
        registry.drop(domain.name)
    else:
        registry.delete(domain.name)
    run_registrar_sync(app)
    a_day_later(session)
    summary = run_registrar_sync(app)
    assert (summary.deleted, summary.left) == (0, 1)
    domain = fresh(session, Domain, domain.id)
    assert domain.status is DomainStatus.renewal_confirmed
    [decision] = decisions_of(session, domain)
    assert decision.id == renewal.id and decision.state is ProcessingState.failed
    assert decision.message.startswith(
        "deleted at the registry: restore it during the redemption period ("
    )
    assert decision.claimed_at is None
    late = domain.expiry_date
    assert [d.id for d in escalation.open_renewals_due(session, late, 3)] == [renewal.id]
    assert "restore it during the redemption period" in differences_stored(session)[domain.name][0]
    # Again: the same, once (no second failure recorded on the decision).
    processed_at = decision.processed_at
    assert run_registrar_sync(app).left == 1
    assert fresh(session, RenewalDecision, renewal.id).processed_at == processed_at


def test_one_registry_answering_2303_for_everything_deletes_nothing_and_alarms(
    app_config, world, session, registry, smtp
):
    """A wrong EPP_HOST (OT&E), a TLD the registry does not serve, SIMULATED_REGISTRAR_FAIL=
    2303: every name is "gone". More than the share a run may delete: none is, the run is
    recorded as failed, and the escalation address is told."""
    from renewal_reminder.standalone import create_app

    for n in range(10):
        session.add(
            Domain(name=f"more{n}.example", relation=world.c2, expiry_date=world.d_c2.expiry_date)
        )
    session.commit()
    config = {
        **app_config,
        "RENEWALS_SIMULATED_REGISTRAR_FAIL": "2303",
        "RENEWALS_ESCALATION_EMAIL": "ops@example.com",
    }
    wrong = create_app(config)
    try:
        before = snapshot(session)
        first = run_registrar_sync(wrong)
        a_day_later(session)
        second = run_registrar_sync(wrong)
    finally:
        with wrong.app_context():
            wrong.extensions["sqlalchemy"].engine.dispose()
    for summary in (first, second):
        assert summary.deleted == 0 and not summary.ok
        assert "13 of 13 domains checked are gone" in summary.deletions_refused
        assert "alarm sent to the escalation address" in summary.deletions_refused
    domains, decisions = snapshot(session)
    assert (domains, decisions) == before
    runs = session.scalars(select(JobRun).where(JobRun.job == REGISTRAR_SYNC)).all()
    assert [run.ok for run in runs] == [False, False]
    assert all("DELETIONS REFUSED" in run.summary for run in runs)
    alarms = smtp.to("ops@example.com")
    assert len(alarms) == 2
    assert alarms[0]["Subject"] == "Registrar sync: deletions refused, check the registry settings"


def test_the_share_a_run_may_delete_is_a_setting():
    settings = registry_sync.SyncSettings.from_config
    assert settings({}).max_delete_share == 0.05
    assert settings({"REGISTRAR_SYNC_MAX_DELETE_SHARE": "20%"}).delete_cap(100) == 20
    assert settings({"REGISTRAR_SYNC_MAX_DELETE_SHARE": 0.1}).delete_cap(1000) == 100
    assert settings({"REGISTRAR_SYNC_MAX_DELETE_SHARE": 0}).delete_cap(1000) == 3  # at least
    assert settings({"REGISTRAR_SYNC_HOURS": 24}).confirm_after == dt.timedelta(hours=21.6)
    assert settings({"REGISTRAR_SYNC_HOURS": 0}).confirm_after == dt.timedelta(hours=1)
    for wrong in ("nan", "inf", "-1", "1.5", "150%", "lots"):
        with pytest.raises(ValueError, match="REGISTRAR_SYNC_MAX_DELETE_SHARE"):
            settings({"REGISTRAR_SYNC_MAX_DELETE_SHARE": wrong})
    for wrong in ("nan", "inf", "-inf", "1e400", "-1", "745"):
        with pytest.raises(ValueError, match="REGISTRAR_SYNC_HOURS"):
            settings({"REGISTRAR_SYNC_HOURS": wrong})


@pytest.mark.parametrize(
    "setting",
    [
        {"RENEWALS_REGISTRAR_SYNC_HOURS": "inf"},
        {"RENEWALS_REGISTRAR_SYNC_HOURS": "nan"},
        {"RENEWALS_REGISTRAR_SYNC_MAX_DELETE_SHARE": "50 percent"},
        {"RENEWALS_REMINDER_INTERVAL_HOURS": "inf"},
    ],
)
def test_unusable_sync_settings_stop_start_up(app_config, setting):
    from renewal_reminder.standalone import create_app

    with pytest.raises(Exception, match="invalid Renewal Reminder settings|must be more than 0"):
        create_app({**app_config, **setting})


# --- a later date that is not the renewal ---------------------------------------------------------


def test_a_day_later_at_the_registry_is_no_renewal(app, world, session, registry):
    """A confirmed 1-year renewal; the registry's date is one day later. Not "moved on": the
    domain stays, the renewal stays open (failed, with the reason), people are told."""
    domain = world.d_c1
    renewal = confirmed_renewal(session, domain)
    registry.register(domain.name, domain.expiry_date + dt.timedelta(days=1))
    summary = run_registrar_sync(app)
    assert (summary.moved_on, summary.left) == (0, 1)
    domain = fresh(session, Domain, domain.id)
    assert (domain.status, domain.expiry_date) == (
        DomainStatus.renewal_confirmed,
        world.d_c1.expiry_date,
    )
    decision = fresh(session, RenewalDecision, renewal.id)
    assert decision.state is ProcessingState.failed and decision.claimed_at is None
    assert "would fail; check it at the registrar" in decision.message
    [detail] = differences_stored(session)[domain.name]
    assert "later than ours by less than a year" in detail


def test_a_shorter_renewal_at_the_registrar_does_not_fulfil_a_confirmed_one(
    app, world, session, registry
):
    domain = world.d_c1
    renewal = confirmed_renewal(session, domain, years=2)
    registry.register(domain.name, domain.expiry_date + relativedelta(years=1))
    summary = run_registrar_sync(app)
    assert (summary.moved_on, summary.left) == (0, 1)
    assert fresh(session, Domain, domain.id).expiry_date == world.d_c1.expiry_date
    decision = fresh(session, RenewalDecision, renewal.id)
    assert decision.state is ProcessingState.failed
    assert "does not fulfil the confirmed 2-year renewal" in decision.message


def test_a_renewal_at_the_registrar_a_day_short_still_counts(app, world, session, registry):
    """Registries that count in another time zone: within a few days of the renewal's date."""
    domain = world.d_c1
    renewal = confirmed_renewal(session, domain)
    new_expiry = domain.expiry_date + relativedelta(years=1) - dt.timedelta(days=1)
    registry.register(domain.name, new_expiry)
    assert run_registrar_sync(app).moved_on == 1
    assert fresh(session, RenewalDecision, renewal.id).state is ProcessingState.done
    assert fresh(session, Domain, domain.id).expiry_date == new_expiry


def test_other_differences_are_reported_not_changed(app, world, session, registry):
    registry.register(world.d_c1.name, world.d_c1.expiry_date - dt.timedelta(days=3))
    registry.register(world.d_c2.name, world.d_c2.expiry_date, "clientHold")
    before = snapshot(session)
    summary = run_registrar_sync(app)
    assert (summary.left, summary.unchanged, summary.moved_on, summary.deleted) == (2, 1, 0, 0)
    assert any("is before ours" in p for p in summary.problems)
    assert any("on hold at the registry (clientHold)" in p for p in summary.problems)
    assert snapshot(session) == before


def test_registry_failures_are_reported_and_change_nothing(app, world, session, registry):
    registry.fail_always("info", None, "no answer from the registry")
    before = snapshot(session)
    summary = run_registrar_sync(app)
    assert (summary.failed, summary.checked) == (3, 0) and not summary.ok
    assert snapshot(session) == before
    run = session.scalar(select(JobRun).where(JobRun.job == REGISTRAR_SYNC))
    assert run.ok is False and "failed 3" in run.summary
    stored = differences_stored(session)
    assert stored[world.d_c1.name] == ["the registry did not answer: no answer from the registry"]


def test_an_unavailable_registry_stops_the_sync_at_once(app, world, session, registry, monkeypatch):
    """A refused login (or no connection): one question, not one per domain."""
    from renewal_reminder.renewals.registrars import RegistrarUnavailable

    asked = []

    def info(name):
        asked.append(name)
        raise RegistrarUnavailable("the registry refused the login as registrar1", 2200)

    monkeypatch.setattr(registry, "info", info)
    summary = run_registrar_sync(app)
    assert len(asked) == 1
    assert (summary.failed, summary.checked) == (1, 0) and summary.stopped and not summary.ok
    run = session.scalar(select(JobRun).where(JobRun.job == REGISTRAR_SYNC))
    assert run.resume_after_id == 0  # the next run starts with the domain it could not ask


# --- dry run, scope, twice, concurrently ---------------------------------------------------------


def test_dry_run_changes_nothing_and_prints_what_would(app, world, session, registry):
    registry.register(world.d_c1.name, world.d_c1.expiry_date + relativedelta(years=1))
    registry.drop(world.d_c2.name)
    before = snapshot(session)
    result = cli(app, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "would record: client-one.com: renewed at the registrar" in result.output
    assert "client-two.com: gone from the registry (2303" in result.output
    assert "deleted if still gone on a run from" in result.output
    assert "moved on 1, deleted 0; gone, waiting for a second look 1" in result.output
    assert snapshot(session) == before
    run_registrar_sync(app)
    a_day_later(session)
    before = snapshot(session)
    result = cli(app, "--dry-run")
    assert "would record: client-two.com: deleted at the registry (gone" in result.output
    assert "deleted 1" in result.output
    assert snapshot(session) == before


def test_relation_scope(app, world, session, registry):
    for domain in (world.d_r1, world.d_c1, world.d_c2):
        registry.register(domain.name, domain.expiry_date + relativedelta(years=1))
    result = cli(app, "--relation", "101")
    assert result.exit_code == 0, result.output
    assert "checked 1," in result.output
    statuses = {d.name: fresh(session, Domain, d.id).status for d in (world.d_c1, world.d_c2)}
    assert statuses == {"client-one.com": DomainStatus.renewed, "client-two.com": "active"}
    # A reseller's scope has its clients' domains too.
    result = app.test_cli_runner().invoke(args=["renewals", "domains", "sync", "--relation", "100"])
    assert result.exit_code == 0, result.output
    assert "checked 2," in result.output and "moved on 1" in result.output
    assert fresh(session, Domain, world.d_c2.id).status is DomainStatus.active
    unknown = cli(app, "--relation", "999")
    assert unknown.exit_code != 0 and "there is no relation 999" in unknown.output


def test_a_second_run_changes_nothing(app, world, session, registry):
    registry.register(world.d_c1.name, world.d_c1.expiry_date + relativedelta(years=1))
    registry.delete(world.d_c2.name)
    run_registrar_sync(app)
    a_day_later(session)
    first = run_registrar_sync(app)
    assert (first.moved_on, first.deleted) == (0, 1)
    after_first = snapshot(session)
    second = run_registrar_sync(app)
    assert (second.checked, second.unchanged, second.moved_on, second.deleted) == (2, 2, 0, 0)
    assert snapshot(session) == after_first


def test_concurrent_runs_record_each_change_once(app, app_config, world, session, registry):
    registry.register(world.d_c1.name, world.d_c1.expiry_date + relativedelta(years=1))
    registry.drop(world.d_c2.name)
    run_registrar_sync(app, relation_number=200)  # client-two.com: found gone once
    a_day_later(session)
    summaries = run_in_parallel(app_config, 3, run_registrar_sync)
    assert sum(s.moved_on for s in summaries) == 1
    assert sum(s.deleted for s in summaries) == 1
    assert len(decisions_of(session, world.d_c1)) == 1
    assert len(decisions_of(session, world.d_c2)) == 1


def test_a_domain_being_executed_is_left_to_the_execution(app, world, session, registry):
    domain = world.d_c1
    executing = RenewalDecision(
        domain=domain,
        decision=Decision.renew,
        years=1,
        expiry_date=domain.expiry_date,
        channel=DecisionChannel.selection_page,
        claimed_at=dt.datetime.now(dt.UTC).replace(tzinfo=None),
    )
    session.add(executing)
    session.commit()
    registry.register(domain.name, domain.expiry_date + relativedelta(years=1))
    summary = run_registrar_sync(app)
    assert (summary.skipped, summary.moved_on) == (1, 0)
    assert fresh(session, RenewalDecision, executing.id).state is ProcessingState.queued


# --- resumable, recorded, scheduled ------------------------------------------------------------


def test_a_run_that_stopped_half_way_is_resumed(app, world, session, registry, monkeypatch):
    monkeypatch.setattr(registry_sync, "BATCH_SIZE", 1)
    first_id = min(d.id for d in (world.d_r1, world.d_c1, world.d_c2))
    crashing = sorted((world.d_r1, world.d_c1, world.d_c2), key=lambda d: d.id)[1]
    real_info = registry.info

    def info(name):
        if name == crashing.name:
            raise RuntimeError("the process died")
        return real_info(name)

    monkeypatch.setattr(registry, "info", info)
    with pytest.raises(RuntimeError):
        run_registrar_sync(app)
    crashed = session.scalar(select(JobRun).where(JobRun.job == REGISTRAR_SYNC))
    assert crashed.ok is False and crashed.resume_after_id == first_id
    monkeypatch.setattr(registry, "info", real_info)
    resumed = run_registrar_sync(app)
    assert resumed.started_after == first_id and resumed.checked == 2
    assert "resumed after domain id" in str(resumed)
    again = run_registrar_sync(app)  # that one got to the end: the next starts over
    assert (again.started_after, again.checked) == (0, 3)
    # Dry runs and one relation's runs neither resume nor leave a place to resume from.
    assert run_registrar_sync(app, dry_run=True).checked == 3
    assert run_registrar_sync(app, relation_number=200).checked == 1
    assert run_registrar_sync(app).started_after == 0


def test_the_job_is_recorded_and_scheduled(app, world, session, registry):
    from renewal_reminder.scheduler import REGISTRAR_SYNC_JOB_ID, create_scheduler

    run_registrar_sync(app)
    run = session.scalar(select(JobRun).where(JobRun.job == REGISTRAR_SYNC))
    assert run.ok and run.finished_at and run.summary.startswith("registrar sync: checked 3")
    assert create_scheduler(app).get_job(REGISTRAR_SYNC_JOB_ID).trigger.interval == (
        dt.timedelta(hours=24)
    )


@pytest.mark.app_config(RENEWALS_REGISTRAR_BACKEND="simulated", RENEWALS_REGISTRAR_SYNC_HOURS=0)
def test_the_job_can_be_turned_off(app):
    from renewal_reminder.scheduler import REGISTRAR_SYNC_JOB_ID, create_scheduler

    assert create_scheduler(app).get_job(REGISTRAR_SYNC_JOB_ID) is None


@pytest.mark.app_config(RENEWALS_REGISTRAR_BACKEND="manual")
def test_the_manual_backend_has_nothing_to_ask(app, world, session):
    from renewal_reminder.scheduler import REGISTRAR_SYNC_JOB_ID, create_scheduler

    assert create_scheduler(app).get_job(REGISTRAR_SYNC_JOB_ID) is None
    result = cli(app)
    assert result.exit_code != 0 and "has no registry to ask" in result.output
    assert session.scalar(select(func.count()).select_from(JobRun)) == 0


# --- the sales digest ----------------------------------------------------------------------------


def test_the_sales_digest_lists_what_the_sync_changed(app, world, session, registry):
    registry.drop(world.d_c2.name)
    run_registrar_sync(app)
    a_day_later(session)
    registry.register(world.d_c1.name, world.d_c1.expiry_date + relativedelta(years=1))
    run_registrar_sync(app)
    contacts = sales_digest.sales_contacts(session)
    digests = {
        d.contact.email: d for d in sales_digest.build_digests(session, contacts, dt.date.today())
    }
    [renewed] = digests["sales-a@example.com"].automated.items
    assert (renewed["name"], renewed["action"]) == ("client-one.com", "renewed")
    assert "renewed at the registrar until" in renewed["message"]
    [deleted] = digests["sales-b@example.com"].automated.items
    assert (deleted["name"], deleted["action"]) == ("client-two.com", "deleted")
    assert "gone from the registry (2303" in deleted["message"]


# --- through EPP ---------------------------------------------------------------------------------


def test_the_sync_through_epp_reconciles_the_four_cases_in_one_session(
    app_config, world, session, tmp_path
):
    from renewal_reminder.standalone import create_app
    from tests.epp_server.certificates import make_certificates
    from tests.epp_server.server import EppTestServer

    certificates = make_certificates(tmp_path)
    server = EppTestServer(certificates, client_id="registrar1", password="secret-pw1")
    renewed_until = world.d_r1.expiry_date + relativedelta(years=1)
    server.register(world.d_r1.name, renewed_until)  # renewed at the registrar
    server.register(world.d_c1.name, world.d_c1.expiry_date, "pendingDelete")
    # world.d_c2 is not in the registry: 2303
    extra = Domain(name="same.example", relation=world.c2, expiry_date=world.d_c2.expiry_date)
    session.add(extra)
    session.commit()
    server.register(extra.name, extra.expiry_date)  # unchanged
    with server:
        host, port = server.address
        epp_app = create_app(
            {
                **app_config,
                "RENEWALS_REGISTRAR_BACKEND": "epp",
                "RENEWALS_EPP_HOST": host,
                "RENEWALS_EPP_PORT": port,
                "RENEWALS_EPP_CLIENT_ID": "registrar1",
                "RENEWALS_EPP_PASSWORD": "secret-pw1",
                "RENEWALS_EPP_CERT_FILE": str(certificates.client_cert),
                "RENEWALS_EPP_KEY_FILE": str(certificates.client_key),
                "RENEWALS_EPP_CA_FILE": str(certificates.ca_file),
                "RENEWALS_EPP_TIMEOUT": 5,
            }
        )
        try:
            first = run_registrar_sync(epp_app)
            a_day_later(session)  # found gone again a day later: deleted
            second = run_registrar_sync(epp_app)
        finally:
            with epp_app.app_context():
                epp_app.extensions["sqlalchemy"].engine.dispose()
    assert (first.checked, first.unchanged, first.moved_on, first.gone_waiting) == (4, 1, 1, 2)
    assert (second.checked, second.unchanged, second.deleted) == (4, 2, 2)
    assert server.logins == 2 and server.invalid_frames == [] and server.server_errors == []
    statuses = {
        d.name: (fresh(session, Domain, d.id).status, fresh(session, Domain, d.id).expiry_date)
        for d in (world.d_r1, world.d_c1, world.d_c2, extra)
    }
    assert statuses == {
        world.d_r1.name: (DomainStatus.renewed, renewed_until),
        world.d_c1.name: (DomainStatus.deleted, world.d_c1.expiry_date),
        world.d_c2.name: (DomainStatus.deleted, world.d_c2.expiry_date),
        extra.name: (DomainStatus.active, extra.expiry_date),
    }


def test_the_sales_digest_lists_the_differences_left_for_people(
    app, world, session, registry, smtp, monkeypatch
):
    """ "Differences are listed in the sales digest": an earlier date, a hold, a question the
    registry did not answer, each to the sales contact of the domain's relation."""
    from renewal_reminder.jobs import run_sales_digest

    registry.register(world.d_c1.name, world.d_c1.expiry_date - dt.timedelta(days=3))
    registry.register(world.d_r1.name, world.d_r1.expiry_date, "serverHold")
    from renewal_reminder.renewals.registrars import RegistrarError

    real_info = registry.info

    def info(name):
        if name == world.d_c2.name:
            raise RegistrarError("the registry is busy", 2400)
        return real_info(name)

    monkeypatch.setattr(registry, "info", info)
    run_registrar_sync(app)
    contacts = sales_digest.sales_contacts(session)
    digests = {
        d.contact.email: d for d in sales_digest.build_digests(session, contacts, dt.date.today())
    }
    listed_a = {
        item["name"]: item["detail"] for item in digests["sales-a@example.com"].registry.items
    }
    assert listed_a == {
        "client-one.com": (
            f"the registry's expiry date {world.d_c1.expiry_date - dt.timedelta(days=3)} is "
            "before ours: check it"
        ),
        "reseller-one.com": "on hold at the registry (serverHold): check it",
    }
    [listed_b] = digests["sales-b@example.com"].registry.items
    assert listed_b["name"] == "client-two.com"
    assert listed_b["detail"].startswith("the registry did not answer: 2400")
    run_sales_digest(app)
    [email] = smtp.to("sales-a@example.com")
    assert "2 difference(s) at the registry" in email["Subject"]
    assert "Differences at the registry to check (2)" in str(email)


def test_a_decision_claimed_while_the_sync_changes_its_domain_is_never_overwritten(
    app, app_config, world, session, registry, monkeypatch
):
    """The race on PostgreSQL: right after the sync has claimed the domain, an execution
    (another connection) claims the confirmed renewal. Either the execution waits and then
    finds it done by the sync, or the sync leaves it to the execution; never both."""
    import threading

    from renewal_reminder.models.base import utcnow
    from renewal_reminder.renewals import processing
    from renewal_reminder.standalone import create_app

    domain = world.d_c1
    renewal = confirmed_renewal(session, domain)
    registry.register(domain.name, domain.expiry_date + relativedelta(years=1))
    other = create_app(dict(app_config))
    raced: dict[str, object] = {}
    threads: list[threading.Thread] = []
    real_claim = registry_sync._claim

    def execution() -> None:
        with other.app_context():
            other_session = other.extensions["appbuilder"].session
            try:
                raced["claimed"] = processing._claim(other_session, renewal.id, utcnow())
            except Exception as exc:  # SQLite: the database stayed locked too long
                other_session.rollback()
                raced["claimed"], raced["error"] = False, exc

    def claim_then_race(*args, **kwargs):
        claimed = real_claim(*args, **kwargs)
        thread = threading.Thread(target=execution)
        threads.append(thread)
        thread.start()
        thread.join(timeout=2)  # done at once, or waiting for the sync's commit
        return claimed

    monkeypatch.setattr(registry_sync, "_claim", claim_then_race)
    try:
        summary = run_registrar_sync(app)
        for thread in threads:
            thread.join(timeout=60)
    finally:
        with other.app_context():
            other.extensions["sqlalchemy"].engine.dispose()
    decision = fresh(session, RenewalDecision, renewal.id)
    if raced["claimed"]:  # the execution has it: the sync left the domain alone
        assert (summary.moved_on, summary.skipped) == (0, 1)
        assert decision.state is ProcessingState.queued and decision.claimed_at is not None
        assert fresh(session, Domain, domain.id).expiry_date == world.d_c1.expiry_date
    else:  # the sync did it first: the execution found nothing to execute
        assert summary.moved_on == 1
        assert decision.state is ProcessingState.done and decision.claimed_at is None
