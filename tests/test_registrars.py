"""Registrar backends as plain objects (no app): the manual backend's checks of an entered
date, the simulated registry's EPP-like answers (on a SQLite database of its own), and
REGISTRAR_BACKEND selection."""

from __future__ import annotations

import datetime as dt
import sys
import threading
import types

import pytest
from sqlalchemy import create_engine

from renewal_reminder.models import Base
from renewal_reminder.renewals.registrars import (
    InvalidBackend,
    ManualRegistrar,
    RegistrarBackend,
    RegistrarError,
    SimulatedRegistrar,
    get_backend,
)
from renewal_reminder.renewals.registrars.base import DomainInfo, RenewResult
from renewal_reminder.renewals.registrars.simulated import SHARED

D = dt.date
TODAY = D(2026, 5, 1)


def today() -> dt.date:
    return TODAY


@pytest.fixture
def manual() -> ManualRegistrar:
    return ManualRegistrar(today=today)


@pytest.fixture
def engine(tmp_path):
    """A database with the product's tables (the simulated registry's among them); a file, so
    that threads get connections of their own."""
    engine = create_engine(f"sqlite:///{tmp_path / 'registry.db'}")
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def registry(engine) -> SimulatedRegistrar:
    return SimulatedRegistrar(today=today, engine=engine)


def error_of(call, *args, **kwargs) -> RegistrarError:
    with pytest.raises(RegistrarError) as info:
        call(*args, **kwargs)
    return info.value


# --- RegistrarError --------------------------------------------------------------------------


def test_error_message_reads_code_summary_and_detail():
    err = RegistrarError("curExpDate 2026-01-01 does not match 2027-01-01", 2306)
    assert str(err) == (
        "2306 Parameter value policy error: curExpDate 2026-01-01 does not match 2027-01-01"
    )
    assert err.code == 2306
    assert str(RegistrarError("no answer from the registry")) == "no answer from the registry"
    server = RegistrarError("term too long", 2306, summary="Policy error")
    assert str(server) == "2306 Policy error: term too long"
    assert str(RegistrarError("", 2303)) == "2303 Object does not exist"


# --- manual ----------------------------------------------------------------------------------


def test_manual_renew_returns_the_entered_date(manual):
    result = manual.renew("example.com", D(2026, 6, 1), 1, new_expiry=D(2027, 6, 1))
    assert result == RenewResult("example.com", D(2027, 6, 1), already_done=False)
    assert manual.can_execute is False
    assert manual.name == "manual"


def test_manual_renew_requires_the_new_date(manual):
    err = error_of(manual.renew, "example.com", D(2026, 6, 1), 1)
    assert err.code is None
    assert "enter the new expiry date" in str(err)


@pytest.mark.parametrize("entered", [D(2026, 6, 1), D(2026, 5, 31), D(2025, 6, 1)])
def test_manual_new_date_must_be_later_than_the_current_one(manual, entered):
    err = error_of(manual.renew, "example.com", D(2026, 6, 1), 1, new_expiry=entered)
    assert "must be later than the current one, 2026-06-01" in str(err)


def test_manual_new_date_may_not_exceed_the_period(manual):
    # A typo: 2028 for a 1-year renewal.
    err = error_of(manual.renew, "example.com", D(2026, 6, 1), 1, new_expiry=D(2028, 6, 1))
    assert "more than 1 year after 2026-06-01" in str(err)
    # Month-end rounding by the registrar is accepted.
    result = manual.renew("example.com", D(2026, 6, 1), 1, new_expiry=D(2027, 6, 30))
    assert result.new_expiry == D(2027, 6, 30)
    # A longer period allows a later date.
    assert manual.renew("example.com", D(2026, 6, 1), 2, new_expiry=D(2028, 6, 1))


def test_manual_expired_domain_may_be_renewed_from_today(manual):
    # Expired 2026-03-01; some registrars count the year from the renewal day.
    result = manual.renew("example.com", D(2026, 3, 1), 1, new_expiry=D(2027, 5, 1))
    assert result.new_expiry == D(2027, 5, 1)


def test_manual_new_date_within_the_ten_year_cap(manual):
    # 10 years from 2026-06-01 passes today (2026-05-01) + 10 years.
    err = error_of(manual.renew, "example.com", D(2026, 6, 1), 10, new_expiry=D(2036, 6, 1))
    assert err.code == 2306
    assert "more than 10 years from today (at most 2036-05-01)" in str(err)
    assert manual.renew("example.com", D(2026, 4, 1), 10, new_expiry=D(2036, 4, 1))


@pytest.mark.parametrize("years", [0, 11, -1, True, "2", 1.5])
def test_years_out_of_range_is_2004(manual, registry, years):
    registry.register("example.com", D(2026, 6, 1))
    for backend in (manual, registry):
        err = error_of(backend.renew, "example.com", D(2026, 6, 1), years, new_expiry=D(2027, 6, 1))
        assert err.code == 2004
        assert "Parameter value range error" in str(err)


def test_manual_delete_deactivate_are_confirmations_and_info_is_unavailable(manual):
    assert manual.delete("example.com") is None
    assert manual.deactivate("example.com") is None
    err = error_of(manual.info, "example.com")
    assert "check it at the registrar" in str(err)


# --- simulated: renew ------------------------------------------------------------------------


def test_simulated_renew_moves_the_expiry_on(registry):
    registry.register("example.com", D(2026, 6, 1))
    result = registry.renew("example.com", D(2026, 6, 1), 2)
    assert result == RenewResult("example.com", D(2028, 6, 1), already_done=False)
    assert registry.info("example.com") == DomainInfo("example.com", D(2028, 6, 1))
    assert registry.history == [("renew", "example.com")]
    assert registry.can_execute is True


def test_simulated_renew_clamps_29_february(engine):
    registry = SimulatedRegistrar(today=lambda: D(2028, 1, 1), engine=engine)
    registry.register("leap.nl", D(2028, 2, 29))
    assert registry.renew("leap.nl", D(2028, 2, 29), 1).new_expiry == D(2029, 2, 28)


def test_simulated_renew_ignores_an_entered_date(registry):
    registry.register("example.com", D(2026, 6, 1))
    result = registry.renew("example.com", D(2026, 6, 1), 1, new_expiry=D(2030, 1, 1))
    assert result.new_expiry == D(2027, 6, 1)


def test_simulated_cur_exp_date_mismatch_is_2306(registry):
    registry.register("example.com", D(2027, 1, 1))
    err = error_of(registry.renew, "example.com", D(2026, 1, 1), 2)
    assert err.code == 2306
    assert str(err) == (
        "2306 Parameter value policy error: curExpDate 2026-01-01 does not match 2027-01-01"
    )
    assert registry.info("example.com").expiry_date == D(2027, 1, 1)
    assert registry.history == []


def test_simulated_repeat_of_a_done_renewal_reports_already_done(registry):
    registry.register("example.com", D(2026, 6, 1))
    first = registry.renew("example.com", D(2026, 6, 1), 1)
    again = registry.renew("example.com", D(2026, 6, 1), 1)
    assert again == RenewResult("example.com", first.new_expiry, already_done=True)
    assert registry.info("example.com").expiry_date == D(2027, 6, 1)
    assert registry.history == [("renew", "example.com")]


def test_simulated_retry_after_a_lost_answer_renews_once(registry):
    registry.register("example.com", D(2026, 6, 1))
    registry.fail_next("renew", None, "no answer from the registry", after_applying=True)
    err = error_of(registry.renew, "example.com", D(2026, 6, 1), 1)
    assert err.code is None
    assert str(err) == "no answer from the registry"
    assert registry.info("example.com").expiry_date == D(2027, 6, 1)  # it did happen
    retry = registry.renew("example.com", D(2026, 6, 1), 1)
    assert retry.already_done is True
    assert retry.new_expiry == D(2027, 6, 1)
    assert registry.history == [("renew", "example.com")]


def test_simulated_unknown_name_is_2303(registry):
    err = error_of(registry.renew, "nowhere.com", D(2026, 6, 1), 1)
    assert err.code == 2303
    assert str(err) == "2303 Object does not exist: nowhere.com is not in the registry"
    for call in (registry.delete, registry.deactivate, registry.info):
        assert error_of(call, "nowhere.com").code == 2303


def test_simulated_deleted_domain_cannot_be_renewed(registry):
    registry.register("example.com", D(2026, 6, 1))
    registry.delete("example.com")
    err = error_of(registry.renew, "example.com", D(2026, 6, 1), 1)
    assert err.code == 2304
    assert "pendingDelete" in str(err)
    assert error_of(registry.deactivate, "example.com").code == 2304


def test_simulated_renew_prohibited_status_is_2304(registry):
    registry.register("locked.com", D(2026, 6, 1), "clientRenewProhibited")
    assert error_of(registry.renew, "locked.com", D(2026, 6, 1), 1).code == 2304


def test_simulated_ten_year_cap_is_2306(registry):
    registry.register("example.com", D(2035, 6, 1))
    err = error_of(registry.renew, "example.com", D(2035, 6, 1), 1)
    assert err.code == 2306
    assert "at most 2036-05-01" in str(err)
    assert registry.info("example.com").expiry_date == D(2035, 6, 1)


# --- simulated: delete, deactivate, info, failures --------------------------------------------


def test_simulated_delete_and_deactivate_are_idempotent(registry):
    registry.register("gone.com", D(2026, 6, 1))
    registry.register("held.com", D(2026, 6, 1))
    registry.delete("gone.com")
    registry.delete("gone.com")
    registry.deactivate("held.com")
    registry.deactivate("held.com")
    gone, held = registry.info("gone.com"), registry.info("held.com")
    assert gone.deleted and not gone.on_hold
    assert held.on_hold and not held.deleted
    assert held.statuses == frozenset({"clientHold"})
    assert registry.history == [("delete", "gone.com"), ("deactivate", "held.com")]
    # A deactivated domain can still be deleted.
    registry.delete("held.com")
    assert registry.info("held.com").deleted


def test_simulated_delete_prohibited_status_is_2304(registry):
    registry.register("locked.com", D(2026, 6, 1), "serverDeleteProhibited")
    assert error_of(registry.delete, "locked.com").code == 2304


def test_simulated_names_are_case_insensitive(registry):
    registry.register("Example.COM.", D(2026, 6, 1))
    assert registry.info("example.com") == DomainInfo("example.com", D(2026, 6, 1))
    assert registry.info("example.com").statuses == frozenset({"ok"})


def test_simulated_fail_next_fails_that_many_times_before_the_change(registry):
    registry.register("example.com", D(2026, 6, 1))
    registry.fail_next("renew", 2400, "registry busy", times=2)
    for _ in range(2):
        err = error_of(registry.renew, "example.com", D(2026, 6, 1), 1)
        assert str(err) == "2400 Command failed: registry busy"
    assert registry.info("example.com").expiry_date == D(2026, 6, 1)
    assert registry.renew("example.com", D(2026, 6, 1), 1).already_done is False


def test_simulated_fail_always_until_cleared(registry):
    registry.register("example.com", D(2026, 6, 1))
    registry.fail_always("delete", 2304, "clientDeleteProhibited")
    for _ in range(3):
        assert error_of(registry.delete, "example.com").code == 2304
    registry.info("example.com")  # other operations are unaffected
    registry.clear_failures()
    registry.delete("example.com")
    assert registry.info("example.com").deleted


def test_simulated_fail_next_rejects_unknown_operations(registry):
    with pytest.raises(ValueError, match="unknown operation 'transfer'"):
        registry.fail_next("transfer")


def test_simulated_reset_forgets_everything(registry):
    registry.register("example.com", D(2026, 6, 1))
    registry.renew("example.com", D(2026, 6, 1), 1)
    registry.fail_always("info")
    registry.reset()
    assert registry.history == []
    assert error_of(registry.info, "example.com").code == 2303


def test_concurrent_executions_of_one_renewal_renew_once(engine):
    registry = SimulatedRegistrar(today=today, delay=0.005, engine=engine)
    registry.register("example.com", D(2026, 6, 1))
    start = threading.Barrier(12)
    results: list[RenewResult] = []

    def execute() -> None:
        start.wait()
        results.append(registry.renew("example.com", D(2026, 6, 1), 1))

    threads = [threading.Thread(target=execute) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 12
    assert [r.already_done for r in results].count(False) == 1
    assert {r.new_expiry for r in results} == {D(2027, 6, 1)}
    assert registry.history == [("renew", "example.com")]
    assert registry.info("example.com").expiry_date == D(2027, 6, 1)


# --- REGISTRAR_BACKEND -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "setting", [None, "manual", " Manual ", {}, {"REGISTRAR_BACKEND": None}, {"X": 1}]
)
def test_manual_is_the_default(setting):
    assert isinstance(get_backend(setting), ManualRegistrar)


def test_simulated_is_one_registry_per_process():
    backend = get_backend({"REGISTRAR_BACKEND": "simulated"})
    assert backend is SHARED
    assert get_backend("simulated") is backend


class _FakeEpp(RegistrarBackend):
    name = "epp"

    def __init__(self, config):
        self.host = config.get("EPP_HOST")

    def renew(self, name, current_expiry, years, *, new_expiry=None):
        raise RegistrarError("not connected", 2400)

    def delete(self, name):
        pass

    def deactivate(self, name):
        pass

    def info(self, name):
        raise RegistrarError("not connected", 2400)


@pytest.fixture
def fake_module(monkeypatch):
    module = types.ModuleType("fake_epp_backend")
    module.EppRegistrar = _FakeEpp
    module.not_a_backend = lambda config: object()
    module.NOT_CALLABLE = "epp"
    monkeypatch.setitem(sys.modules, "fake_epp_backend", module)
    return module


def test_dotted_path_is_called_with_the_config(fake_module):
    config = {"REGISTRAR_BACKEND": "fake_epp_backend:EppRegistrar", "EPP_HOST": "epp.test"}
    backend = get_backend(config)
    assert isinstance(backend, _FakeEpp)
    assert backend.host == "epp.test"


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("registry9", "'registry9' is unknown: use manual, simulated, epp, or package"),
        ("no_such_module_xyz:Backend", "cannot import no_such_module_xyz"),
        ("fake_epp_backend:Missing", "fake_epp_backend has no backend class or factory 'Missing'"),
        ("fake_epp_backend:NOT_CALLABLE", "has no backend class or factory 'NOT_CALLABLE'"),
        ("fake_epp_backend:not_a_backend", "gave a object, not a RegistrarBackend"),
    ],
)
def test_bad_settings_fail_with_a_clear_message(fake_module, setting, message):
    with pytest.raises(InvalidBackend, match=message):
        get_backend({"REGISTRAR_BACKEND": setting})
    assert issubclass(InvalidBackend, ValueError)
