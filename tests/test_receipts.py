"""Receipts to customers: after a decision, an executed renewal, a deactivation or deletion.

Each arrives once (real SMTP on loopback), in the customer's language, at the customer address
(the holder, or its reseller); written with its event, so a rolled-back event sends nothing,
and a receipt that could not be sent is sent by the next job run, once, even by two runs."""

from __future__ import annotations

import datetime as dt

import pytest
from dateutil.relativedelta import relativedelta
from sqlalchemy import func, select

from renewal_reminder.jobs import run_processing
from renewal_reminder.models import (
    Decision,
    DecisionChannel,
    DomainStatus,
    Receipt,
    ReceiptStatus,
    RenewalDecision,
)
from renewal_reminder.renewals import decisions
from renewal_reminder.renewals.email_templates import ensure_default_templates
from renewal_reminder.renewals.registrars import simulated
from tests.conftest import login, run_in_parallel
from tests.test_confirmation import decide as decide_with_code
from tests.test_confirmation import emailed_code, send_request

simulated_backend = pytest.mark.app_config(RENEWALS_REGISTRAR_BACKEND="simulated")
executing = pytest.mark.app_config(
    RENEWALS_REGISTRAR_BACKEND="simulated", RENEWALS_AUTO_EXECUTE_RENEWALS=True
)
TODAY = dt.date.today()


@pytest.fixture
def registry(world):
    simulated.SHARED.reset()
    for domain in (world.d_r1, world.d_c1, world.d_c2):
        simulated.SHARED.register(domain.name, domain.expiry_date)
    yield simulated.SHARED
    simulated.SHARED.reset()


def text_of(message) -> str:
    return message.get_body(("plain",)).get_content()


def html_of(message) -> str:
    return message.get_body(("html",)).get_content()


def speaks(session, relation, language: str) -> None:
    relation.language = language
    session.commit()


def select_page(client, form: dict):
    response = client.post("/renewals/", data=form)
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return response


def receipts_in(session) -> list[Receipt]:
    session.expire_all()
    return session.scalars(select(Receipt).order_by(Receipt.id)).all()


def queue_decision(session, domain, decision=Decision.renew, years=2) -> RenewalDecision:
    """A decision recorded earlier (straight into the queue, without a receipt of its own)."""
    row = RenewalDecision(
        domain=domain,
        decision=decision,
        years=years if decision is Decision.renew else None,
        expiry_date=domain.expiry_date,
        channel=DecisionChannel.selection_page,
    )
    domain.status = (
        DomainStatus.renewal_confirmed
        if decision is Decision.renew
        else DomainStatus.renewal_declined
    )
    session.add(row)
    session.commit()
    return row


def record(session, relation, *choices) -> decisions.RecordedDecisions:
    """Decisions recorded by the domain function alone: receipts written, not yet sent."""
    return decisions.record_decisions(
        session,
        relation=relation,
        choices=list(choices),
        channel=DecisionChannel.selection_page,
        decided_by_id=None,
        remote_addr=None,
    )


# --- decisions --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        (
            "en",
            [
                "Your renewal decisions for relation #100: 1 to renew, 1 not to renew",
                "To be renewed:",
                "reseller-one.com - 3 years, expires",
                "Not to be renewed:",
                "client-one.com (Client One) - expires",
                "What happens next: we renew these domain names before they expire",
                "http://renewals.test/renewals/",
            ],
        ),
        (
            "nl",
            [
                "Uw verlengingsbesluiten voor relatie #100: 1 te verlengen, 1 niet te verlengen",
                "Te verlengen:",
                "reseller-one.com - 3 jaar, verloopt",
                "Niet te verlengen:",
                "client-one.com (Client One) - verloopt",
                "Wat er nu gebeurt: wij verlengen deze domeinnamen",
                "http://renewals.test/renewals/",
            ],
        ),
    ],
)
def test_a_bulk_decision_gives_one_receipt_listing_every_domain(
    app, client, world, session, smtp, language, expected
):
    speaks(session, world.r1, language)
    login(client, world.reseller_login.username)
    select_page(
        client,
        {
            f"decision-{world.d_r1.id}": "renew",
            f"years-{world.d_r1.id}": "3",
            f"decision-{world.d_c1.id}": "decline",
        },
    )
    # Client One routes its emails to its reseller: one receipt, to the reseller, for both.
    [receipt] = smtp.to("r1@example.com")
    assert smtp.to("c1@example.com") == []
    text = f"{receipt['Subject']}\n{text_of(receipt)}"
    for phrase in expected:
        assert phrase in text
    assert "client-one.com" in html_of(receipt)
    assert [(r.status, r.attempts, r.language) for r in receipts_in(session)] == [
        (ReceiptStatus.sent, 1, language)
    ]
    # Sent once: the next job run has nothing left to send.
    run_processing(app)
    assert len(smtp.to("r1@example.com")) == 1


def test_one_receipt_per_recipient_of_a_bulk_decision(client, world, session, smtp):
    world.c1.reminders_to_reseller = False  # Client One hears about its own domains itself
    session.commit()
    login(client, world.reseller_login.username)
    select_page(
        client,
        {
            f"decision-{world.d_r1.id}": "renew",
            f"years-{world.d_r1.id}": "1",
            f"decision-{world.d_c1.id}": "renew",
            f"years-{world.d_c1.id}": "2",
        },
    )
    [to_reseller] = smtp.to("r1@example.com")
    [to_client] = smtp.to("c1@example.com")
    assert "reseller-one.com" in text_of(to_reseller)
    assert "client-one.com" not in text_of(to_reseller)
    assert "client-one.com - 2 years" in text_of(to_client)
    assert "reseller-one.com" not in text_of(to_client)


def test_an_unchanged_resubmission_sends_no_second_receipt(client, world, session, smtp):
    login(client, world.client2_login.username)
    form = {f"decision-{world.d_c2.id}": "renew", f"years-{world.d_c2.id}": "1"}
    select_page(client, form)
    select_page(client, form)
    assert len(smtp.to("c2@example.com")) == 1
    select_page(client, {f"decision-{world.d_c2.id}": "decline"})  # a change: a new receipt
    assert len(smtp.to("c2@example.com")) == 2
    assert "Not to be renewed:" in text_of(smtp.to("c2@example.com")[-1])


@pytest.mark.parametrize(
    ("language", "phrase"),
    [("en", "client-two.com - 2 years, expires"), ("nl", "client-two.com - 2 jaar, verloopt")],
)
def test_a_confirmation_code_decision_gets_a_receipt(
    client, world, session, smtp, language, phrase
):
    ensure_default_templates(session)
    speaks(session, world.c2, language)
    send_request(client, world, world.d_c2)
    code = emailed_code(smtp, "c2@example.com")
    assert decide_with_code(client, code, "renew", "2").status_code == 200
    request, receipt = smtp.to("c2@example.com")
    assert phrase in text_of(receipt)
    assert receipt["Subject"].endswith(
        "1 to renew, 0 not to renew" if language == "en" else "1 te verlengen, 0 niet te verlengen"
    )
    assert [r.status for r in receipts_in(session)] == [ReceiptStatus.sent]


# --- executed decisions -----------------------------------------------------------------------


@simulated_backend
@pytest.mark.parametrize(("language", "phrase"), [("en", "renewed until"), ("nl", "verlengd tot")])
def test_an_executed_renewal_gets_a_receipt_with_the_new_expiry_date(
    client, world, session, smtp, registry, language, phrase
):
    speaks(session, world.r1, language)
    decision = queue_decision(session, world.d_c1, years=2)
    new_expiry = world.d_c1.expiry_date + relativedelta(years=2)
    login(client, world.sales_a.username)
    client.post("/queue/execute", data={"rowid": [str(decision.id)]})
    [receipt] = smtp.to("r1@example.com")  # Client One routes its emails to its reseller
    assert f"{phrase} {new_expiry.isoformat()}" in text_of(receipt)
    assert f"{phrase} {new_expiry.isoformat()}" in receipt["Subject"]
    assert "client-one.com (Client One)" in text_of(receipt)
    [row] = receipts_in(session)
    assert (row.kind, row.event_key, row.status) == (
        "receipt_renewed",
        f"decision-{decision.id}",
        ReceiptStatus.sent,
    )
    # Executing it again is refused and sends nothing.
    client.post("/queue/execute", data={"rowid": [str(decision.id)]})
    assert len(smtp.messages) == 1


@simulated_backend
@pytest.mark.parametrize(
    ("action", "language", "phrase"),
    [
        ("deactivate", "en", "has been deactivated at the registrar"),
        ("delete", "en", "has been deleted at the registrar"),
        ("deactivate", "nl", "is gedeactiveerd bij de registrar"),
        ("delete", "nl", "is verwijderd bij de registrar"),
    ],
)
def test_a_deactivation_or_deletion_gets_a_receipt(
    client, world, session, smtp, registry, action, language, phrase
):
    speaks(session, world.c2, language)
    decision = queue_decision(session, world.d_c2, Decision.decline)
    login(client, world.sales_b.username)
    client.post("/queue/execute", data={"rowid": [str(decision.id)], "decline_action": action})
    [receipt] = smtp.to("c2@example.com")
    assert "client-two.com" in receipt["Subject"]
    assert phrase in text_of(receipt).replace("\n", " ")
    assert [r.kind for r in receipts_in(session)] == ["receipt_removed"]


@simulated_backend
def test_a_failed_execution_sends_no_receipt(client, world, session, smtp, registry):
    registry.fail_next("renew")
    decision = queue_decision(session, world.d_c2)
    login(client, world.sales_b.username)
    client.post("/queue/execute", data={"rowid": [str(decision.id)]})
    assert smtp.messages == [] and receipts_in(session) == []


@executing
def test_the_job_sends_the_receipts_of_what_it_executed_once(app, world, session, smtp, registry):
    renewal = queue_decision(session, world.d_c2, years=1)
    lapsed = world.d_r1
    lapsed.expiry_date = TODAY - dt.timedelta(days=1)
    session.commit()  # the registry is in the database: it writes after this session has
    registry.register(lapsed.name, lapsed.expiry_date)
    queue_decision(session, lapsed, Decision.decline)
    run_processing(app)
    [renewed] = smtp.to("c2@example.com")
    new_expiry = renewal.expiry_date + relativedelta(years=1)
    assert f"renewed until {new_expiry.isoformat()}" in text_of(renewed)
    [removed] = smtp.to("r1@example.com")
    assert "reseller-one.com has been deactivated" in removed["Subject"]
    run_processing(app)
    assert len(smtp.messages) == 2


# --- exactly once -----------------------------------------------------------------------------


def test_a_failed_send_is_retried_by_the_next_job_run_once(app, client, world, session, smtp):
    smtp.refuse.add("c2@example.com")
    login(client, world.client2_login.username)
    select_page(client, {f"decision-{world.d_c2.id}": "renew", f"years-{world.d_c2.id}": "1"})
    assert smtp.to("c2@example.com") == []
    [row] = receipts_in(session)
    assert (row.status, row.attempts) == (ReceiptStatus.failed, 1)
    assert "refused" in row.error
    # Still refused: the job tries it once per run, and says the run did not go well.
    refused_run = run_processing(app)
    assert not refused_run.ok and "receipts: 0 sent, 1 failed" in str(refused_run)
    assert receipts_in(session)[0].attempts == 2
    smtp.refuse.discard("c2@example.com")
    assert "receipts: 1 sent" in str(run_processing(app))
    run_processing(app)
    [receipt] = smtp.to("c2@example.com")
    assert "client-two.com - 1 year, expires" in text_of(receipt)
    [row] = receipts_in(session)
    assert (row.status, row.attempts, row.error) == (ReceiptStatus.sent, 3, None)
    assert row.claim_token is None and row.sent_at is not None


def test_two_job_runs_at_once_send_each_pending_receipt_once(app_config, app, world, session, smtp):
    record(session, world.c2, decisions.Choice(world.d_c2.id, Decision.renew, 1))
    record(session, world.r1, decisions.Choice(world.d_r1.id, Decision.decline))
    record(session, world.r1, decisions.Choice(world.d_c1.id, Decision.renew, 2))
    assert [r.status for r in receipts_in(session)] == [ReceiptStatus.pending] * 3
    assert smtp.messages == []
    session.commit()
    run_in_parallel(app_config, 2, run_processing)
    assert sorted(m["To"] for m in smtp.messages) == [
        "c2@example.com",
        "r1@example.com",
        "r1@example.com",
    ]
    assert [r.status for r in receipts_in(session)] == [ReceiptStatus.sent] * 3


def test_a_rolled_back_event_sends_nothing(app, world, session, smtp, monkeypatch):
    def disk_full():
        raise RuntimeError("disk full")

    monkeypatch.setattr(session, "commit", disk_full)
    with pytest.raises(RuntimeError):
        record(session, world.c2, decisions.Choice(world.d_c2.id, Decision.renew, 1))
    monkeypatch.undo()
    assert session.scalar(select(func.count()).select_from(Receipt)) == 0
    assert session.scalar(select(func.count()).select_from(RenewalDecision)) == 0
    run_processing(app)
    assert smtp.messages == []
