"""The simulated registry in the database: shared by every app and process on one database,
taken from the domains table on first sight, renewing once under concurrency, and failing on
demand (SIMULATED_REGISTRAR_FAIL)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from dateutil.relativedelta import relativedelta
from sqlalchemy import create_engine

from renewal_reminder.addon import AddonStartupError
from renewal_reminder.models import (
    Decision,
    DecisionChannel,
    Domain,
    DomainStatus,
    ProcessingState,
    RenewalDecision,
)
from renewal_reminder.renewals.registrars import RegistrarError, SimulatedRegistrar, get_backend
from renewal_reminder.renewals.registrars.simulated import (
    SHARED,
    FailRule,
    parse_fail_setting,
)
from renewal_reminder.standalone import create_app

simulated_backend = pytest.mark.app_config(RENEWALS_REGISTRAR_BACKEND="simulated")
ROOT = Path(__file__).resolve().parent.parent


def fresh(session, model, pk):
    session.expire_all()
    return session.get(model, pk)


def queue_renewal(session, domain, years=1) -> RenewalDecision:
    decision = RenewalDecision(
        domain=domain,
        decision=Decision.renew,
        years=years,
        expiry_date=domain.expiry_date,
        channel=DecisionChannel.selection_page,
    )
    domain.status = DomainStatus.renewal_confirmed
    session.add(decision)
    session.commit()
    return decision


# --- shared by every app and process -----------------------------------------------------------


@simulated_backend
def test_a_name_is_taken_from_the_domains_table_on_first_sight(app, world, session):
    world.d_c2.status = DomainStatus.deactivated
    session.commit()
    info = SHARED.info(world.d_c1.name.upper())
    assert (info.name, info.expiry_date, info.statuses) == (
        world.d_c1.name,
        world.d_c1.expiry_date,
        frozenset({"ok"}),
    )
    assert SHARED.info(world.d_c2.name).on_hold
    with pytest.raises(RegistrarError) as unknown:
        SHARED.info("nowhere.example")
    assert unknown.value.code == 2303


@simulated_backend
@pytest.mark.fresh_app
def test_another_app_on_the_database_sees_what_one_app_did(app, app_config, world):
    old_expiry = world.d_c1.expiry_date
    SHARED.renew(world.d_c1.name, old_expiry, 2)
    other = SimulatedRegistrar(engine=create_engine(app_config["SQLALCHEMY_DATABASE_URI"]))
    assert other.info(world.d_c1.name).expiry_date == old_expiry + relativedelta(years=2)
    second_app = create_app(dict(app_config))  # a process started later: its own app
    try:
        with second_app.app_context():
            backend = second_app.extensions["renewal_reminder"].registrar
            assert backend.info(world.d_c1.name).expiry_date == old_expiry + relativedelta(years=2)
            backend.delete(world.d_c2.name)
        assert SHARED.info(world.d_c2.name).deleted
    finally:
        with second_app.app_context():
            second_app.extensions["sqlalchemy"].engine.dispose()
    other._session().get_bind().dispose()


@pytest.mark.app_config(RENEWALS_REGISTRAR_BACKEND="simulated", RENEWALS_AUTO_EXECUTE_RENEWALS=True)
def test_the_process_command_in_another_process_executes_what_the_web_app_queued(
    app, app_config, world, session, smtp, tmp_path
):
    decision = queue_renewal(session, world.d_c1, years=1)
    old_expiry = world.d_c1.expiry_date
    env = {
        **os.environ,
        "DATABASE_URL": app_config["SQLALCHEMY_DATABASE_URI"],
        "SECRET_KEY": app_config["SECRET_KEY"],
        "INSTANCE_PATH": str(tmp_path),
        "REGISTRAR_BACKEND": "simulated",
        "AUTO_EXECUTE_RENEWALS": "1",
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(app_config["MAIL_PORT"]),
        "BASE_URL": "http://renewals.test",
    }
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "run", "renewals", "process"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    decision = fresh(session, RenewalDecision, decision.id)
    assert decision.state is ProcessingState.done, decision.message
    new_expiry = old_expiry + relativedelta(years=1)
    assert fresh(session, Domain, world.d_c1.id).expiry_date == new_expiry
    assert SHARED.info(world.d_c1.name).expiry_date == new_expiry  # seen from this process


# --- concurrency ---------------------------------------------------------------------------------


@simulated_backend
def test_two_threads_renewing_at_once_renew_once(app, world):
    old_expiry = world.d_c1.expiry_date
    slow = SimulatedRegistrar(delay=0.2)
    slow.info(world.d_c1.name)  # first sight before the race
    barrier, results, errors = threading.Barrier(2), [], []

    def renew() -> None:
        with app.app_context():
            barrier.wait()
            try:
                results.append(slow.renew(world.d_c1.name, old_expiry, 1))
            except Exception as exc:  # pragma: no cover - shown by the assertion
                errors.append(exc)

    threads = [threading.Thread(target=renew) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert sorted(r.already_done for r in results) == [False, True]
    assert slow.history == [("renew", world.d_c1.name)]
    assert SHARED.info(world.d_c1.name).expiry_date == old_expiry + relativedelta(years=1)


@simulated_backend
def test_two_registries_on_one_database_renew_once(app, app_config, world):
    """Two processes: each its own registry object and connection pool."""
    old_expiry = world.d_c2.expiry_date
    engines = [create_engine(app_config["SQLALCHEMY_DATABASE_URI"]) for _ in range(2)]
    registries = [SimulatedRegistrar(delay=0.2, engine=engine) for engine in engines]
    registries[0].info(world.d_c2.name)
    barrier, results = threading.Barrier(2), []

    def renew(registry) -> None:
        barrier.wait()
        results.append(registry.renew(world.d_c2.name, old_expiry, 3))

    threads = [threading.Thread(target=renew, args=(r,)) for r in registries]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    for engine in engines:
        engine.dispose()
    assert sorted(r.already_done for r in results) == [False, True]
    assert sum(len(r.history) for r in registries) == 1
    assert SHARED.info(world.d_c2.name).expiry_date == old_expiry + relativedelta(years=3)


@simulated_backend
def test_a_renewal_with_a_stale_date_is_2306_and_changes_nothing(app, world):
    expiry = world.d_r1.expiry_date
    SHARED.renew(world.d_r1.name, expiry, 1)
    with pytest.raises(RegistrarError) as stale:
        SHARED.renew(world.d_r1.name, expiry - dt.timedelta(days=1), 1)
    assert stale.value.code == 2306
    assert SHARED.info(world.d_r1.name).expiry_date == expiry + relativedelta(years=1)


@simulated_backend
def test_reactivate_takes_the_hold_off(app, world):
    SHARED.deactivate(world.d_r1.name)
    assert SHARED.info(world.d_r1.name).on_hold
    SHARED.reactivate(world.d_r1.name)
    SHARED.reactivate(world.d_r1.name)  # not on hold: not an error
    assert not SHARED.info(world.d_r1.name).on_hold


# --- failing on demand -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "rule"),
    [
        ("never", None),
        ("", None),
        (None, None),
        ("always", FailRule("*", 2400)),
        ("2303", FailRule("*", 2303)),
        ("*.fail.example", FailRule("*.fail.example", 2400)),
        ("Flaky*.COM:2306", FailRule("flaky*.com", 2306)),
    ],
)
def test_the_fail_setting(setting, rule):
    assert parse_fail_setting(setting) == rule


@pytest.mark.parametrize("setting", ["sometimes:99", "*.example:abc", ":2400", "a b"])
def test_a_bad_fail_setting_stops_start_up(setting, app_config):
    with pytest.raises(ValueError):
        parse_fail_setting(setting)
    config = {"REGISTRAR_BACKEND": "simulated", "SIMULATED_REGISTRAR_FAIL": setting}
    with pytest.raises(ValueError, match="SIMULATED_REGISTRAR_FAIL"):
        get_backend(config)
    bad = {
        **app_config,
        "RENEWALS_REGISTRAR_BACKEND": "simulated",
        "RENEWALS_SIMULATED_REGISTRAR_FAIL": setting,
    }
    with pytest.raises(AddonStartupError, match="SIMULATED_REGISTRAR_FAIL"):
        create_app(bad)


@pytest.mark.app_config(
    RENEWALS_REGISTRAR_BACKEND="simulated",
    RENEWALS_SIMULATED_REGISTRAR_FAIL="client-*.com:2400",
)
def test_the_fail_setting_fails_matching_names_for_every_command(app, world):
    for call, args in (
        (SHARED.info, ()),
        (SHARED.renew, (world.d_c1.expiry_date, 1)),
        (SHARED.delete, ()),
        (SHARED.deactivate, ()),
    ):
        with pytest.raises(RegistrarError) as failed:
            call(world.d_c1.name, *args)
        assert failed.value.code == 2400
        assert "SIMULATED_REGISTRAR_FAIL" in str(failed.value)
    assert SHARED.info(world.d_r1.name).expiry_date == world.d_r1.expiry_date
    app.config["RENEWALS_SIMULATED_REGISTRAR_FAIL"] = "never"  # read per command
    assert SHARED.info(world.d_c1.name).expiry_date == world.d_c1.expiry_date


@pytest.mark.app_config(
    RENEWALS_REGISTRAR_BACKEND="simulated", RENEWALS_SIMULATED_REGISTRAR_FAIL="always"
)
def test_a_failing_registry_leaves_the_renewal_failed_and_retryable(app, world, session):
    from renewal_reminder.renewals import processing

    decision = queue_renewal(session, world.d_c2)
    outcome = processing.execute(session, SHARED, decision.id, processed_by_id=None)
    assert not outcome.ok and "2400" in outcome.message
    assert fresh(session, RenewalDecision, decision.id).state is ProcessingState.failed
    app.config["RENEWALS_SIMULATED_REGISTRAR_FAIL"] = "never"
    assert processing.execute(session, SHARED, decision.id, processed_by_id=None).ok
