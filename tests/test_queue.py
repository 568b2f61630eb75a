"""The renewal queue: executing renewals and declines at the registrar, once, with failures
visible for a retry; deactivating and deleting from the domain page."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from dateutil.relativedelta import relativedelta
from sqlalchemy import select

from renewal_reminder.models import (
    Decision,
    DecisionChannel,
    Domain,
    DomainStatus,
    ProcessingState,
    RenewalDecision,
)
from renewal_reminder.renewals import processing
from renewal_reminder.renewals.registrars import SimulatedRegistrar, simulated
from tests.conftest import login

simulated_backend = pytest.mark.app_config(RENEWALS_REGISTRAR_BACKEND="simulated")


@pytest.fixture
def registry(world):
    """The simulated registry, knowing the world's domains with their expiry dates."""
    simulated.SHARED.reset()
    for domain in (world.d_r1, world.d_c1, world.d_c2):
        simulated.SHARED.register(domain.name, domain.expiry_date)
    yield simulated.SHARED
    simulated.SHARED.reset()


def decide(
    session, domain, decision=Decision.renew, years=2, channel=DecisionChannel.selection_page
):
    row = RenewalDecision(
        domain=domain,
        decision=decision,
        years=years if decision is Decision.renew else None,
        expiry_date=domain.expiry_date,
        channel=channel,
    )
    domain.status = (
        DomainStatus.renewal_confirmed
        if decision is Decision.renew
        else DomainStatus.renewal_declined
    )
    session.add(row)
    session.commit()
    return row


def execute(client, *decisions, **extra):
    data = {"rowid": [str(d.id) for d in decisions], **extra}
    return client.post("/queue/execute", data=data)


def fresh(session, model, pk):
    session.expire_all()
    return session.get(model, pk)


def test_sales_sees_only_their_relations_in_the_queue(client, world, session):
    mine = decide(session, world.d_c1)
    theirs = decide(session, world.d_c2)
    login(client, world.sales_a.username)
    html = client.get("/queue/").get_data(as_text=True)
    assert "client-one.com" in html and "client-two.com" not in html
    assert execute(client, theirs).status_code == 404
    assert fresh(session, RenewalDecision, theirs.id).state is ProcessingState.queued
    assert mine.state is ProcessingState.queued


def test_customers_have_no_queue(client, world):
    login(client, world.reseller_login.username)
    assert client.get("/queue/").status_code in (302, 403)
    assert client.post("/queue/execute", data={"rowid": "1"}).status_code in (302, 403)


@simulated_backend
def test_executing_a_renewal_moves_the_expiry_date_on(client, world, session, registry):
    decision = decide(session, world.d_c1, years=2)
    old_expiry = world.d_c1.expiry_date
    login(client, world.sales_a.username)
    assert execute(client, decision).status_code == 302
    decision = fresh(session, RenewalDecision, decision.id)
    domain = fresh(session, Domain, world.d_c1.id)
    assert decision.state is ProcessingState.done
    assert decision.processed_by_id == world.sales_a.id and decision.claimed_at is None
    assert domain.expiry_date == old_expiry + relativedelta(years=2)
    assert domain.status is DomainStatus.renewed  # a new cycle, needing its own decision
    assert registry.info(domain.name).expiry_date == domain.expiry_date
    # Executing it again renews nothing.
    execute(client, decision)
    assert fresh(session, Domain, world.d_c1.id).expiry_date == old_expiry + relativedelta(years=2)
    assert [h for h in registry.history if h[0] == "renew"] == [("renew", domain.name)]


@simulated_backend
def test_a_backend_failure_is_recorded_and_retried(client, world, session, registry):
    decision = decide(session, world.d_c1)
    old_expiry = world.d_c1.expiry_date
    registry.fail_next("renew", 2400, "Command failed")
    login(client, world.sales_a.username)
    execute(client, decision)
    decision = fresh(session, RenewalDecision, decision.id)
    assert decision.state is ProcessingState.failed
    assert "2400" in decision.message and "Command failed" in decision.message
    domain = fresh(session, Domain, world.d_c1.id)
    assert (domain.expiry_date, domain.status) == (old_expiry, DomainStatus.renewal_confirmed)
    assert "failed" in client.get("/queue/").get_data(as_text=True)  # still visible
    execute(client, decision)
    assert fresh(session, RenewalDecision, decision.id).state is ProcessingState.done


@simulated_backend
def test_a_retry_after_a_lost_answer_renews_once(client, world, session, registry):
    decision = decide(session, world.d_c1, years=1)
    old_expiry = world.d_c1.expiry_date
    registry.fail_next("renew", None, "timed out", after_applying=True)
    login(client, world.sales_a.username)
    execute(client, decision)
    assert fresh(session, RenewalDecision, decision.id).state is ProcessingState.failed
    execute(client, decision)
    decision = fresh(session, RenewalDecision, decision.id)
    assert decision.state is ProcessingState.done and "already done" in decision.message
    assert fresh(session, Domain, world.d_c1.id).expiry_date == old_expiry + relativedelta(years=1)
    assert registry.info(world.d_c1.name).expiry_date == old_expiry + relativedelta(years=1)


@simulated_backend
def test_two_sales_contacts_at_once_renew_once(app, world, session, registry):
    decision = decide(session, world.d_c1, years=1)
    old_expiry = world.d_c1.expiry_date
    slow = SimulatedRegistrar(delay=0.3)
    slow.register(world.d_c1.name, old_expiry)
    barrier, results = threading.Barrier(2), []
    decision_id = decision.id

    def attempt():
        with app.app_context():
            session_ = app.extensions["appbuilder"].session
            barrier.wait()
            try:
                results.append(
                    processing.execute(session_, slow, decision_id, processed_by_id=None).ok
                )
            except processing.NotExecutable as exc:
                results.append(str(exc))
            finally:
                session_.remove()

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert True in results
    assert any("being processed" in str(r) or "already done" in str(r) for r in results)
    assert len([h for h in slow.history if h[0] == "renew"]) == 1
    assert fresh(session, Domain, world.d_c1.id).expiry_date == old_expiry + relativedelta(years=1)


@simulated_backend
@pytest.mark.parametrize(
    ("action", "status"),
    [("deactivate", DomainStatus.deactivated), ("delete", DomainStatus.deleted)],
)
def test_executing_a_decline(client, world, session, registry, action, status):
    decision = decide(session, world.d_c1, Decision.decline)
    login(client, world.sales_a.username)
    execute(client, decision, decline_action=action)
    assert fresh(session, RenewalDecision, decision.id).state is ProcessingState.done
    assert fresh(session, Domain, world.d_c1.id).status is status


def test_manual_backend_needs_a_valid_new_expiry_date(client, world, session):
    decision = decide(session, world.d_c1, years=1)
    old_expiry = world.d_c1.expiry_date
    login(client, world.sales_a.username)
    html = client.get("/queue/").get_data(as_text=True)
    proposed = (old_expiry + relativedelta(years=1)).isoformat()
    assert f'value="{proposed}"' in html  # prefilled, to confirm or correct
    # No date: skipped, still queued.
    execute(client, decision)
    assert fresh(session, RenewalDecision, decision.id).state is ProcessingState.queued
    # Not a date: nothing executed.
    execute(client, decision, **{f"new_expiry-{decision.id}": "next year"})
    assert fresh(session, RenewalDecision, decision.id).state is ProcessingState.queued
    # Earlier than the current expiry: refused by the backend, recorded as failed.
    execute(client, decision, **{f"new_expiry-{decision.id}": old_expiry.isoformat()})
    failed = fresh(session, RenewalDecision, decision.id)
    assert failed.state is ProcessingState.failed and "manual" in failed.message
    # A valid date: done, and the domain moves to it.
    execute(client, decision, **{f"new_expiry-{decision.id}": proposed})
    assert fresh(session, RenewalDecision, decision.id).state is ProcessingState.done
    assert fresh(session, Domain, world.d_c1.id).expiry_date.isoformat() == proposed


@simulated_backend
def test_delete_from_the_domain_page_keeps_history_and_hides_it_from_customers(
    client, world, session, registry
):
    login(client, world.sales_a.username)
    response = client.post(f"/domains/action/delete_domain/{world.d_c1.id}")
    assert response.status_code == 302
    domain = fresh(session, Domain, world.d_c1.id)
    assert domain.status is DomainStatus.deleted
    [history] = session.scalars(select(RenewalDecision)).all()
    assert (history.decision, history.channel, history.state, history.decided_by_id) == (
        Decision.decline,
        DecisionChannel.sales,
        ProcessingState.done,
        world.sales_a.id,
    )
    # Staff still see it; the customer no longer does.
    assert "client-one.com" in client.get("/domains/list/").get_data(as_text=True)
    client.post("/logout/")
    login(client, world.client1_login.username)
    assert "client-one.com" not in client.get("/domains/list/").get_data(as_text=True)
    assert client.get(f"/domains/show/{world.d_c1.id}").status_code == 404


@simulated_backend
def test_sales_cannot_delete_another_sales_contacts_domain(client, world, session, registry):
    login(client, world.sales_a.username)
    assert client.post(f"/domains/action/delete_domain/{world.d_c2.id}").status_code == 404
    assert fresh(session, Domain, world.d_c2.id).status is DomainStatus.active


def test_customers_cannot_deactivate(client, world, session):
    login(client, world.client1_login.username)
    response = client.post(f"/domains/action/deactivate_domain/{world.d_c1.id}")
    assert response.status_code in (302, 403)
    assert fresh(session, Domain, world.d_c1.id).status is DomainStatus.active


def test_staff_on_behalf_of_a_customer_records_channel_sales(client, world, session):
    login(client, world.sales_a.username)
    client.post(
        "/renewals/?relation=101",
        data={f"decision-{world.d_c1.id}": "renew", f"years-{world.d_c1.id}": "1"},
    )
    session.expire_all()
    assert session.scalar(select(RenewalDecision)).channel is DecisionChannel.sales


@simulated_backend
def test_renewed_domain_starts_a_new_cycle(client, world, session, registry):
    """After execution the domain awaits a decision for its new date: the selection page
    offers it again once the new date comes within the window."""
    decision = decide(session, world.d_c1, years=1)
    login(client, world.sales_a.username)
    execute(client, decision)
    domain = fresh(session, Domain, world.d_c1.id)
    from renewal_reminder.renewals.decisions import selection_rows

    later = domain.expiry_date - dt.timedelta(days=30)
    rows = selection_rows(session, world.c1, later, 92)
    assert [(r.name, r.decision) for r in rows] == [("client-one.com", None)]
