"""The EPP backend against the test EPP registry (tests/epp_server) over mutual TLS: the same
behaviour as the other backends (renew once, retry after a lost answer, 2306 on a wrong
curExpDate, idempotent delete and hold), sessions (one login per batch), failures reported
clearly, and every frame it sends valid under the RFC 5730/5731 schemas."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from dateutil.relativedelta import relativedelta
from epptools import Client, Config

from renewal_reminder.jobs import run_processing
from renewal_reminder.models import (
    Decision,
    DecisionChannel,
    Domain,
    DomainStatus,
    ProcessingState,
    RenewalDecision,
)
from renewal_reminder.renewals import processing
from renewal_reminder.renewals.registrars import (
    InvalidBackend,
    RegistrarError,
    RegistrarUnavailable,
    get_backend,
)
from renewal_reminder.renewals.registrars.epp import EppRegistrar, EppSettings
from tests.epp_server import EppTestServer, make_certificates

TODAY = dt.date.today()
EXPIRY = TODAY + dt.timedelta(days=40)
CLIENT_ID, PASSWORD = "registrar1", "secret-pw1"
#: Short, so that the tests of unanswered commands take about a second (epptools' minimum).
TIMEOUT = 1.0


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    return make_certificates(tmp_path_factory.mktemp("epp-certificates"))


@pytest.fixture
def server(certificates):
    """A fresh registry per test. Afterwards: nothing the client sent broke the schemas (tests
    that send a broken frame on purpose clear the list) and the server answered valid EPP."""
    with EppTestServer(certificates, client_id=CLIENT_ID, password=PASSWORD) as registry:
        yield registry
        assert registry.invalid_frames == []
        assert registry.server_errors == []


def epp_settings(server, certificates, **changes) -> EppSettings:
    host, port = server.address
    values = {
        "host": host,
        "port": port,
        "client_id": CLIENT_ID,
        "password": PASSWORD,
        "cert_file": str(certificates.client_cert),
        "key_file": str(certificates.client_key),
        "ca_file": str(certificates.ca_file),
        "timeout": TIMEOUT,
    }
    values.update(changes)
    return EppSettings(**values)


@pytest.fixture
def backend(server, certificates):
    return EppRegistrar(epp_settings(server, certificates))


def renews(server) -> int:
    return [operation for operation, _ in server.history].count("renew")


# --- the commands ------------------------------------------------------------------------------


def test_info_reads_the_expiry_date_and_statuses(server, backend):
    server.register("example.com", EXPIRY, "clientTransferProhibited")
    info = backend.info("example.com")
    assert info.expiry_date == EXPIRY
    assert info.statuses == {"clientTransferProhibited"}
    assert not info.deleted and not info.on_hold
    server.register("plain.com", EXPIRY)
    assert backend.info("plain.com").statuses == {"ok"}


def test_renew_sends_cur_exp_date_and_returns_the_registry_date(server, backend):
    server.register("example.com", EXPIRY)
    result = backend.renew("example.com", EXPIRY, 2)
    assert result.new_expiry == EXPIRY + relativedelta(years=2)
    assert not result.already_done
    assert server.expiry("example.com") == result.new_expiry
    assert renews(server) == 1


def test_renewing_29_february_lands_on_28_february(server, backend):
    server.register("leap.com", dt.date(2028, 2, 29))
    assert backend.renew("leap.com", dt.date(2028, 2, 29), 1).new_expiry == dt.date(2029, 2, 28)


def test_a_retry_after_the_connection_dropped_renews_once(server, backend):
    """The registry renews, then the answer is lost: the backend reconnects, sends the same
    renewal, gets 2306 (the date moved on), sees the decided date and reports success once."""
    server.register("example.com", EXPIRY)
    server.drop_after_next("renew")
    result = backend.renew("example.com", EXPIRY, 1)
    assert result.already_done
    assert result.new_expiry == EXPIRY + relativedelta(years=1)
    assert renews(server) == 1
    assert server.expiry("example.com") == EXPIRY + relativedelta(years=1)
    assert server.logins == 2  # the reconnection logged in again


def test_an_unanswered_renewal_is_sent_again_on_a_new_connection(server, backend):
    server.register("example.com", EXPIRY)
    server.stall_next("renew")  # not executed, never answered: the client times out
    result = backend.renew("example.com", EXPIRY, 1)
    assert not result.already_done
    assert renews(server) == 1


def test_executing_a_done_renewal_again_reports_already_done(server, backend):
    server.register("example.com", EXPIRY)
    backend.renew("example.com", EXPIRY, 3)
    again = backend.renew("example.com", EXPIRY, 3)
    assert again.already_done and again.new_expiry == EXPIRY + relativedelta(years=3)
    assert renews(server) == 1


def test_two_threads_executing_one_renewal_renew_once(server, backend):
    """Sessions are per thread; the registry serialises the two renewals, and the second one's
    2306 shows the decided date, so both report success and the domain is renewed once."""
    server.register("example.com", EXPIRY)
    start = threading.Barrier(2)
    results = []

    def execute():
        start.wait()
        with backend.session():
            results.append(backend.renew("example.com", EXPIRY, 1))

    threads = [threading.Thread(target=execute) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(result.already_done for result in results) == [False, True]
    assert {result.new_expiry for result in results} == {EXPIRY + relativedelta(years=1)}
    assert renews(server) == 1
    assert server.logins == 2


def test_a_real_cur_exp_date_mismatch_is_2306_with_the_server_message(server, backend):
    server.register("example.com", EXPIRY + relativedelta(years=2))  # not what 1 year gives
    with pytest.raises(RegistrarError) as caught:
        backend.renew("example.com", EXPIRY, 1)
    assert caught.value.code == 2306
    assert caught.value.summary == "Parameter value policy error"
    assert f"curExpDate {EXPIRY} does not match" in str(caught.value)
    assert renews(server) == 0


def test_the_ten_year_cap_is_the_registry_s_2306(server, backend):
    server.register("example.com", EXPIRY)
    with pytest.raises(RegistrarError) as caught:
        backend.renew("example.com", EXPIRY, 10)
    assert caught.value.code == 2306 and "10 years" in str(caught.value)


def test_a_period_out_of_range_is_2004_before_anything_is_sent(server, backend):
    with pytest.raises(RegistrarError) as caught:
        backend.renew("example.com", EXPIRY, 11)
    assert caught.value.code == 2004
    assert server.connections == 0


@pytest.mark.parametrize("operation", ["info", "delete", "deactivate"])
def test_an_unknown_name_is_2303(server, backend, operation):
    with pytest.raises(RegistrarError) as caught:
        getattr(backend, operation)("nowhere.com")
    assert caught.value.code == 2303
    assert caught.value.summary == "Object does not exist"
    assert "nowhere.com" in str(caught.value)


def test_renewing_a_deleted_domain_is_2304(server, backend):
    server.register("example.com", EXPIRY, "pendingDelete")
    with pytest.raises(RegistrarError) as caught:
        backend.renew("example.com", EXPIRY, 1)
    assert caught.value.code == 2304


def test_delete_puts_the_name_in_redemption_and_is_idempotent(server, backend):
    server.register("example.com", EXPIRY)
    backend.delete("example.com")
    assert server.statuses("example.com") == {"pendingDelete"}
    backend.delete("example.com")  # the registry answers 2304; the name is already deleted
    assert backend.info("example.com").deleted
    assert [op for op, _ in server.history] == ["delete"]


def test_delete_prohibited_is_2304(server, backend):
    server.register("example.com", EXPIRY, "clientDeleteProhibited")
    with pytest.raises(RegistrarError) as caught:
        backend.delete("example.com")
    assert caught.value.code == 2304


def test_a_lost_delete_answer_at_a_registry_that_drops_names_at_once(server, backend):
    server.delete_removes = True
    server.register("example.com", EXPIRY)
    server.drop_after_next("delete")
    backend.delete("example.com")  # the retry's 2303 means the first attempt deleted it
    assert "example.com" not in server.domains
    assert [op for op, _ in server.history] == ["delete"]


def test_deactivate_adds_client_hold_and_reactivate_removes_it_both_idempotent(server, backend):
    server.register("example.com", EXPIRY, "clientTransferProhibited")
    backend.deactivate("example.com")
    assert server.statuses("example.com") == {"clientHold", "clientTransferProhibited"}
    backend.deactivate("example.com")  # 2306 "already has status": as wanted
    assert backend.info("example.com").on_hold
    backend.reactivate("example.com")
    assert server.statuses("example.com") == {"clientTransferProhibited"}
    backend.reactivate("example.com")
    assert [op for op, _ in server.history] == ["update", "update"]


def test_deactivating_a_deleted_domain_is_2304(server, backend):
    server.register("example.com", EXPIRY, "pendingDelete")
    with pytest.raises(RegistrarError) as caught:
        backend.deactivate("example.com")
    assert caught.value.code == 2304


def test_a_result_code_of_2000_or_more_carries_code_message_and_reason(server, backend):
    server.register("example.com", EXPIRY)
    server.fail_next("renew", 2400, "Command failed", reason="billing system unavailable")
    with pytest.raises(RegistrarError) as caught:
        backend.renew("example.com", EXPIRY, 1)
    error = caught.value
    assert (error.code, error.summary, error.detail) == (
        2400,
        "Command failed",
        "billing system unavailable",
    )
    assert str(error) == "2400 Command failed: billing system unavailable"
    assert renews(server) == 0


def test_a_connection_lost_twice_is_an_error_without_a_code(server, backend):
    server.register("example.com", EXPIRY)
    server.stall_next("info", times=2)
    with pytest.raises(RegistrarError) as caught:
        backend.info("example.com")
    assert caught.value.code is None
    assert "no answer from 127.0.0.1" in str(caught.value)


# --- sessions -----------------------------------------------------------------------------------


def test_a_batch_logs_in_once(server, backend):
    names = [f"batch{n}.com" for n in range(5)]
    for name in names:
        server.register(name, EXPIRY)
    with backend.session():
        for name in names:
            backend.renew(name, EXPIRY, 1)
            backend.info(name)
        assert server.executed["logout"] == 0
    assert server.logins == 1
    assert server.executed["logout"] == 1
    assert renews(server) == 5


def test_an_operation_outside_a_batch_has_a_session_of_its_own(server, backend):
    server.register("example.com", EXPIRY + relativedelta(years=2))
    with pytest.raises(RegistrarError):
        backend.renew("example.com", EXPIRY, 1)  # 2306, then info: one session for both
    backend.info("example.com")
    assert server.logins == 2
    assert server.executed["logout"] == 2


def test_the_manual_and_simulated_backends_accept_a_session():
    for name in ("manual", "simulated"):
        with get_backend(name).session():
            pass


# --- greeting, login, TLS ------------------------------------------------------------------------


def test_a_wrong_password_is_reported_as_a_refused_login(server, certificates):
    backend = EppRegistrar(epp_settings(server, certificates, password="wrong-password"))
    with pytest.raises(RegistrarError) as caught:
        backend.info("example.com")
    assert caught.value.code == 2200
    assert str(caught.value).startswith("2200 Authentication error: the registry at 127.0.0.1:")
    assert "refused the login as registrar1" in str(caught.value)
    assert server.executed["info"] == 0


@pytest.mark.parametrize("greeting", ["silent", "close", "garbage"])
def test_no_greeting_is_reported_clearly(server, backend, greeting):
    server.greeting = greeting
    with pytest.raises(RegistrarError) as caught:
        backend.info("example.com")
    assert caught.value.code is None
    assert str(caught.value).startswith("no EPP greeting from 127.0.0.1:")
    assert server.logins == 0


def test_a_client_certificate_from_another_ca_is_refused(server, certificates):
    backend = EppRegistrar(
        epp_settings(
            server,
            certificates,
            cert_file=str(certificates.stranger_cert),
            key_file=str(certificates.stranger_key),
        )
    )
    with pytest.raises(RegistrarError, match="no EPP greeting"):
        backend.info("example.com")
    assert server.logins == 0


def test_the_registry_certificate_must_be_signed_by_the_configured_ca(server, certificates):
    backend = EppRegistrar(epp_settings(server, certificates, ca_file=None))  # system CAs
    with pytest.raises(RegistrarError, match="the TLS handshake with 127.0.0.1:.* failed"):
        backend.info("example.com")


def test_a_refused_connection_is_not_reported_as_a_missing_greeting(server, certificates):
    import socket

    with socket.socket() as unused:  # a port nobody listens on
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    backend = EppRegistrar(epp_settings(server, certificates, port=port))
    with pytest.raises(RegistrarUnavailable) as caught:
        backend.info("example.com")
    assert str(caught.value).startswith(f"cannot connect to the EPP server at 127.0.0.1:{port}")
    assert "EPP_HOST and EPP_PORT" in str(caught.value)


def test_a_refused_login_is_not_tried_again_in_the_same_session(server, certificates):
    """Bad credentials: one login attempt per session, not one per domain (registries lock
    accounts that keep failing); the next session tries again."""
    backend = EppRegistrar(epp_settings(server, certificates, password="wrong-password"))
    with backend.session():
        for name in ("a.com", "b.com", "c.com"):
            with pytest.raises(RegistrarUnavailable, match="refused the login"):
                backend.info(name)
    assert server.connections == 1
    with pytest.raises(RegistrarUnavailable):
        backend.info("a.com")
    assert server.connections == 2


def test_a_silent_registry_is_waited_for_once_per_session(server, backend):
    server.greeting = "silent"
    with backend.session():
        for name in ("a.com", "b.com"):
            with pytest.raises(RegistrarUnavailable, match="no EPP greeting"):
                backend.info(name)
    assert server.connections == 1


@pytest.mark.parametrize(
    ("written", "day"),
    [
        ("2027-03-01T00:30:00+02:00", dt.date(2027, 2, 28)),
        ("2027-03-01T23:30:00-02:00", dt.date(2027, 3, 2)),
        ("2027-03-01T10:00:00.0Z", dt.date(2027, 3, 1)),
        ("2027-03-01T10:00:00", dt.date(2027, 3, 1)),
        ("2027-03-01", dt.date(2027, 3, 1)),
    ],
)
def test_an_expiry_date_with_a_time_zone_is_the_utc_day(written, day):
    from renewal_reminder.renewals.registrars.epp import _expiry_date

    class Answer:
        def expiry_date(self):
            return written

    assert _expiry_date(Answer(), "example.com") == day


@pytest.mark.parametrize("timeout", ["nan", "inf", "-inf", "1e400", "0", "601"])
def test_an_unusable_timeout_stops_start_up(timeout):
    config = {"EPP_HOST": "epp.example", "EPP_CLIENT_ID": "x", "EPP_PASSWORD": "secret-pw1"}
    with pytest.raises(ValueError, match="EPP_TIMEOUT must be more than 0 and at most 600"):
        EppSettings.from_config({**config, "EPP_TIMEOUT": timeout})


# --- the schema check of the test registry itself ------------------------------------------------


def test_the_registry_refuses_a_frame_that_breaks_the_schema(server, certificates):
    """The validator can fail: a renew without curExpDate, and a period in days, are 2001."""
    host, port = server.address
    client = Client(
        Config(
            host=host,
            port=port,
            clid=CLIENT_ID,
            password=PASSWORD,
            ca_file=str(certificates.ca_file),
            client_cert=str(certificates.client_cert),
            client_key=str(certificates.client_key),
            read_timeout=5,
        )
    )
    client.connect()
    client.login()
    client.throw_on_failure(False)
    domain = 'xmlns:domain="urn:ietf:params:xml:ns:domain-1.0"'
    broken = [
        f"<renew><domain:renew {domain}><domain:name>example.com</domain:name>"
        '<domain:period unit="y">1</domain:period></domain:renew></renew>',
        f"<renew><domain:renew {domain}><domain:name>example.com</domain:name>"
        '<domain:curExpDate>2030-01-01</domain:curExpDate><domain:period unit="d">1'
        "</domain:period></domain:renew></renew>",
    ]
    for body in broken:
        frame = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f'<epp xmlns="urn:ietf:params:xml:ns:epp-1.0"><command>{body}'
            "<clTRID>BROKEN-1</clTRID></command></epp>"
        )
        response = client.request(frame)
        assert response.code() == 2001
        assert response.message() == "Command syntax error"
    client.logout()
    client.disconnect()
    assert len(server.invalid_frames) == 2
    assert "curExpDate" in server.invalid_frames[0][0]
    assert "unit" in server.invalid_frames[1][0]
    server.invalid_frames.clear()  # expected here; the fixture checks the rest stay valid


# --- settings -------------------------------------------------------------------------------------


def test_registrar_backend_epp_reads_the_epp_settings(certificates):
    backend = get_backend(
        {
            "REGISTRAR_BACKEND": "epp",
            "EPP_HOST": "epp.registry.test",
            "EPP_PORT": "7000",
            "EPP_CLIENT_ID": CLIENT_ID,
            "EPP_PASSWORD": PASSWORD,
            "EPP_CERT_FILE": str(certificates.client_cert),
            "EPP_KEY_FILE": str(certificates.client_key),
            "EPP_CA_FILE": str(certificates.ca_file),
            "EPP_TIMEOUT": "12.5",
        }
    )
    assert isinstance(backend, EppRegistrar) and backend.can_execute
    assert backend.settings.where == "epp.registry.test:7000"
    assert backend.settings.timeout == 12.5
    assert PASSWORD not in repr(backend.settings)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"EPP_HOST": ""}, "REGISTRAR_BACKEND=epp needs EPP_HOST"),
        ({"EPP_PASSWORD": None, "EPP_CLIENT_ID": ""}, "needs EPP_CLIENT_ID, EPP_PASSWORD"),
        ({"EPP_PORT": "seven"}, "EPP_PORT and EPP_TIMEOUT must be numbers"),
        ({"EPP_PORT": "70000"}, "EPP_PORT must be 1 to 65535"),
        ({"EPP_TIMEOUT": "0"}, "EPP_TIMEOUT must be more than 0"),
        ({"EPP_CERT_FILE": "/nonexistent/client.pem"}, "EPP_CERT_FILE '/nonexistent/client.pem'"),
        ({"EPP_KEY_FILE": "/etc/hostname"}, "EPP_KEY_FILE is set but EPP_CERT_FILE is not"),
    ],
)
def test_bad_epp_settings_stop_start_up_with_the_reason(changes, message):
    config = {
        "REGISTRAR_BACKEND": "epp",
        "EPP_HOST": "epp.registry.test",
        "EPP_CLIENT_ID": CLIENT_ID,
        "EPP_PASSWORD": PASSWORD,
        **changes,
    }
    with pytest.raises(InvalidBackend, match=message):
        get_backend(config)


# --- end to end: the queue and the automated job through EPP -------------------------------------


@pytest.fixture
def app_config(app_config, server, certificates):
    """The test app with REGISTRAR_BACKEND=epp, pointed at this test's registry."""
    host, port = server.address
    return {
        **app_config,
        "RENEWALS_REGISTRAR_BACKEND": "epp",
        "RENEWALS_AUTO_EXECUTE_RENEWALS": True,
        "RENEWALS_EPP_HOST": host,
        "RENEWALS_EPP_PORT": port,
        "RENEWALS_EPP_CLIENT_ID": CLIENT_ID,
        "RENEWALS_EPP_PASSWORD": PASSWORD,
        "RENEWALS_EPP_CERT_FILE": str(certificates.client_cert),
        "RENEWALS_EPP_KEY_FILE": str(certificates.client_key),
        "RENEWALS_EPP_CA_FILE": str(certificates.ca_file),
        "RENEWALS_EPP_TIMEOUT": TIMEOUT,
    }


def _confirmed_renewal(session, world, server, name: str, expiry: dt.date, years: int):
    domain = Domain(
        name=name, relation=world.c1, expiry_date=expiry, status=DomainStatus.renewal_confirmed
    )
    decision = RenewalDecision(
        domain=domain,
        decision=Decision.renew,
        years=years,
        expiry_date=expiry,
        channel=DecisionChannel.selection_page,
    )
    session.add_all([domain, decision])
    server.register(name, expiry)
    return domain, decision


def test_the_automated_job_renews_and_deactivates_through_epp(app, session, world, server):
    expiry = TODAY + dt.timedelta(days=2)
    confirmed, _ = _confirmed_renewal(session, world, server, "confirmed.com", expiry, 2)
    lapsed = Domain(
        name="lapsed.com",
        relation=world.c1,
        expiry_date=TODAY - dt.timedelta(days=3),
        status=DomainStatus.renewal_declined,
    )
    session.add(lapsed)
    session.add(
        RenewalDecision(
            domain=lapsed,
            decision=Decision.decline,
            expiry_date=lapsed.expiry_date,
            channel=DecisionChannel.selection_page,
        )
    )
    server.register("lapsed.com", lapsed.expiry_date)
    session.commit()

    summary = run_processing(app, TODAY)

    assert (summary.renewed, summary.deactivated, summary.failed) == (1, 1, 0), str(summary)
    session.expire_all()
    renewed = session.get(Domain, confirmed.id)
    assert renewed.status is DomainStatus.renewed
    assert renewed.expiry_date == expiry + relativedelta(years=2)
    assert server.expiry("confirmed.com") == expiry + relativedelta(years=2)
    assert server.statuses("lapsed.com") == {"clientHold"}
    assert server.logins == 1  # one session for the whole run


def test_executing_from_the_queue_renews_through_epp_and_records_a_failure(
    app, session, world, server
):
    expiry = TODAY + dt.timedelta(days=30)
    _, good = _confirmed_renewal(session, world, server, "good.com", expiry, 1)
    _, moved = _confirmed_renewal(session, world, server, "moved.com", expiry, 1)
    session.commit()
    server.register("moved.com", expiry + relativedelta(months=6))  # changed elsewhere meanwhile

    result = processing.execute_many(
        session, app.extensions["renewal_reminder"].registrar, world.admin, [good.id, moved.id]
    )

    outcomes = {outcome.domain_name: outcome for outcome in result.outcomes}
    assert outcomes["good.com"].ok
    assert not outcomes["moved.com"].ok
    session.expire_all()
    assert session.get(RenewalDecision, good.id).state is ProcessingState.done
    failed = session.get(RenewalDecision, moved.id)
    assert failed.state is ProcessingState.failed
    assert failed.message.startswith("epp: 2306 Parameter value policy error: curExpDate")
    assert server.logins == 1


def test_the_automated_job_stops_at_a_refused_login(app_config, session, world, server):
    """Bad credentials: the run fails the first renewal, then stops trying further domains
    (each would fail the same way); one login attempt, and the others are left untouched."""
    expiry = TODAY + dt.timedelta(days=2)
    decisions = [
        _confirmed_renewal(session, world, server, f"confirmed{n}.com", expiry, 1)[1]
        for n in range(3)
    ]
    session.commit()
    from renewal_reminder.standalone import create_app

    wrong = create_app({**app_config, "RENEWALS_EPP_PASSWORD": "wrong-password"})
    try:
        summary = run_processing(wrong, TODAY)
    finally:
        with wrong.app_context():
            wrong.extensions["sqlalchemy"].engine.dispose()

    assert (summary.renewed, summary.failed) == (0, 1), str(summary)
    assert summary.unavailable and "refused the login" in summary.unavailable
    assert "stopped: the registry is unavailable" in str(summary)
    assert server.connections == 1
    session.expire_all()
    states = sorted(str(session.get(RenewalDecision, d.id).state) for d in decisions)
    assert states == ["failed", "queued", "queued"]
