"""Closing the renewal loop safely: only periods the registry accepts (10 years ahead at most,
counted from today), a decision that failed at the registrar can be replaced, and the
processing job's dry run reports only what it would change."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from dateutil.relativedelta import relativedelta
from sqlalchemy import func, select

from renewal_reminder.jobs import run_processing
from renewal_reminder.models import (
    ConfirmationRequest,
    Decision,
    DecisionChannel,
    Domain,
    DomainStatus,
    ProcessingState,
    RenewalDecision,
)
from renewal_reminder.models.base import utcnow
from renewal_reminder.renewals import decisions
from renewal_reminder.renewals.email_templates import ensure_default_templates
from renewal_reminder.renewals.registrars import RegistrarError, max_renewal_years
from renewal_reminder.renewals.registrars.base import check_term_cap, renewed_expiry
from tests.conftest import client_in, login, logout
from tests.test_confirmation import decide, emailed_code, enter, send_request

TODAY = dt.date.today()
HINT_9 = "at most 9 year(s): registries allow at most 10 years ahead"


@pytest.fixture
def templates(session):
    ensure_default_templates(session)


def all_decisions(session, domain) -> list[RenewalDecision]:
    session.expire_all()
    return list(
        session.scalars(
            select(RenewalDecision)
            .where(RenewalDecision.domain_id == domain.id)
            .order_by(RenewalDecision.id)
        )
    )


def decision_count(session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(RenewalDecision))


def years_input(html: str, domain: Domain) -> str:
    match = re.search(rf'<input type="number" name="years-{domain.id}"[^>]*>', html)
    assert match, f"no period control for {domain.name}"
    return match.group(0)


def failed_decision(session, domain, decision=Decision.renew, years=2) -> RenewalDecision:
    """A decision the sales contact executed and the registrar refused."""
    row = RenewalDecision(
        domain=domain,
        decision=decision,
        years=years if decision is Decision.renew else None,
        expiry_date=domain.expiry_date,
        channel=DecisionChannel.selection_page,
        state=ProcessingState.failed,
        processed_at=utcnow(),
        message="simulated: 2306 Parameter value policy error",
    )
    session.add(row)
    domain.status = (
        DomainStatus.renewal_confirmed
        if decision is Decision.renew
        else DomainStatus.renewal_declined
    )
    session.commit()
    return row


# --- the rule ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expiry", "today", "expected"),
    [
        (dt.date(2027, 3, 1), dt.date(2027, 1, 1), 9),  # expires in 2 months
        (dt.date(2027, 1, 1), dt.date(2027, 1, 1), 10),  # expires today
        (dt.date(2026, 12, 31), dt.date(2027, 1, 1), 10),  # expired yesterday
        (dt.date(2019, 5, 1), dt.date(2027, 1, 1), 10),  # expired long ago: never more than 10
        (dt.date(2036, 1, 1), dt.date(2027, 1, 1), 1),  # already 9 years ahead
        (dt.date(2036, 1, 2), dt.date(2027, 1, 1), 0),  # more than 9 years ahead: none
        (dt.date(2028, 2, 29), dt.date(2028, 2, 29), 10),  # leap day: 2038-02-28 both ways
        (dt.date(2028, 3, 1), dt.date(2028, 2, 29), 9),
        (dt.date.max, dt.date(2027, 1, 1), 0),  # a far date stays refused, no overflow
    ],
)
def test_max_renewal_years(expiry, today, expected):
    assert max_renewal_years(expiry, today) == expected


@pytest.mark.parametrize("days_ahead", [-800, -1, 0, 1, 59, 365, 3000, 3287, 3288, 3300, 4000])
def test_max_renewal_years_is_exactly_what_the_term_cap_accepts(days_ahead):
    expiry = TODAY + dt.timedelta(days=days_ahead)
    allowed = max_renewal_years(expiry, TODAY)
    for years in range(1, allowed + 1):
        check_term_cap(renewed_expiry(expiry, years), TODAY)
    if allowed < 10:
        with pytest.raises(RegistrarError):
            check_term_cap(renewed_expiry(expiry, allowed + 1), TODAY)


# --- the selection page -----------------------------------------------------------------------


def test_selection_page_offers_only_periods_within_the_cap(client, world, session):
    lapsed = Domain(name="lapsed.com", relation=world.c1, expiry_date=TODAY - dt.timedelta(3))
    session.add(lapsed)
    session.commit()
    login(client, world.client1_login.username)
    html = client.get("/renewals/").get_data(as_text=True)
    control = years_input(html, world.d_c1)  # expires in 20 days
    assert 'max="9"' in control and f'aria-describedby="rr-hint-{world.d_c1.id}"' in control
    assert f'<small class="rr-period-hint" id="rr-hint-{world.d_c1.id}">{HINT_9}</small>' in html
    control = years_input(html, lapsed)  # expired: all 10 years, nothing to explain
    assert 'max="10"' in control and "aria-describedby" not in control
    assert f'id="rr-hint-{lapsed.id}"' not in html


def test_selection_page_explains_the_limit_in_dutch(app, world):
    client = client_in(app, "nl")
    login(client, world.client1_login.username)
    html = client.get("/renewals/").get_data(as_text=True)
    assert "maximaal 9 jaar: domeinregisters staan niet meer dan 10 jaar vooruit toe" in html


def test_ten_years_for_a_domain_not_yet_expired_is_refused_when_posted(
    client, world, session, smtp
):
    login(client, world.client1_login.username)
    response = client.post(
        "/renewals/",
        data={f"decision-{world.d_c1.id}": "renew", f"years-{world.d_c1.id}": "10"},
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Nothing was saved: please correct the marked lines." in html
    assert (
        "client-one.com can be renewed for at most 9 year(s): registries allow at most 10 "
        "years ahead." in html
    )
    assert decision_count(session) == 0 and smtp.messages == []
    assert session.get(Domain, world.d_c1.id).status is DomainStatus.active
    assert session.get(Domain, world.d_c1.id).renewal_years is None
    # The longest period on offer is accepted.
    response = client.post(
        "/renewals/",
        data={f"decision-{world.d_c1.id}": "renew", f"years-{world.d_c1.id}": "9"},
    )
    assert response.status_code == 302
    [decision] = all_decisions(session, world.d_c1)
    assert decision.years == 9


def test_a_bad_period_in_one_line_saves_no_line(client, world, session, smtp):
    login(client, world.reseller_login.username)
    response = client.post(
        "/renewals/",
        data={
            f"decision-{world.d_r1.id}": "decline",
            f"decision-{world.d_c1.id}": "renew",
            f"years-{world.d_c1.id}": "10",
        },
    )
    assert response.status_code == 422
    assert decision_count(session) == 0 and smtp.messages == []


def test_record_decisions_refuses_a_domain_already_ten_years_ahead(world, session):
    far = Domain(
        name="far.com", relation=world.c1, expiry_date=TODAY + relativedelta(years=9, months=6)
    )
    session.add(far)
    session.commit()
    with pytest.raises(decisions.PeriodTooLong, match="far.com cannot be renewed now") as caught:
        decisions.record_decisions(
            session,
            relation=world.c1,
            choices=[decisions.Choice(far.id, Decision.renew, 1)],
            channel=DecisionChannel.sales,
            decided_by_id=None,
            remote_addr=None,
        )
    assert caught.value.max_years == 0 and caught.value.domain_id == far.id
    assert decision_count(session) == 0
    # Declining is still possible.
    recorded = decisions.record_decisions(
        session,
        relation=world.c1,
        choices=[decisions.Choice(far.id, Decision.decline)],
        channel=DecisionChannel.sales,
        decided_by_id=None,
        remote_addr=None,
    )
    assert recorded.decline == [far]


# --- the confirmation page --------------------------------------------------------------------


def test_confirmation_page_offers_only_periods_within_the_cap(
    client, world, session, smtp, templates
):
    send_request(client, world, world.d_c2)
    code = emailed_code(smtp, "c2@example.com")
    html = enter(client, code).get_data(as_text=True)
    assert re.search(r'<input type="number" id="years" name="years" min="1" max="9"', html)
    assert HINT_9 in html

    response = decide(client, code, "renew", "10")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert (
        "client-two.com can be renewed for at most 9 year(s): registries allow at most 10 "
        "years ahead." in html
    )
    assert 'max="9"' in html  # the same form again, to choose another period
    assert decision_count(session) == 0
    session.expire_all()
    assert session.scalar(select(ConfirmationRequest)).state == "open"  # not consumed

    assert decide(client, code, "renew", "9").status_code == 200
    [decision] = all_decisions(session, world.d_c2)
    assert (decision.years, decision.channel) == (9, DecisionChannel.confirmation_code)


def test_confirmation_page_without_a_renew_option_says_why(
    app, client, world, session, smtp, templates
):
    world.d_c2.expiry_date = TODAY + relativedelta(years=9, months=6)
    session.commit()
    send_request(client, world, world.d_c2)
    code = emailed_code(smtp, "c2@example.com")
    client = client_in(app, "nl")  # the holder's browser speaks Dutch
    html = enter(client, code).get_data(as_text=True)
    assert 'value="renew"' not in html and 'name="years"' not in html
    assert "kan nu niet worden verlengd: domeinregisters staan niet meer dan 10 jaar" in html
    response = decide(client, code, "renew", "1")
    assert response.status_code == 422
    assert "client-two.com kan nu niet worden verlengd" in response.get_data(as_text=True)
    assert decision_count(session) == 0


# --- staff forms ------------------------------------------------------------------------------


def domain_form(domain: Domain, years: str) -> dict:
    return {
        "name": domain.name,
        "relation": str(domain.relation_id),
        "expiry_date": domain.expiry_date.isoformat(),
        "status": domain.status.value,
        "renewal_years": years,
        "notes": "",
    }


def test_admin_domain_form_refuses_a_period_past_the_cap(client, world, session):
    login(client, world.admin.username)
    html = client.get(f"/domains/edit/{world.d_c1.id}").get_data(as_text=True)
    assert "at most 10 years ahead from today" in html  # the field's description
    response = client.post(f"/domains/edit/{world.d_c1.id}", data=domain_form(world.d_c1, "10"))
    assert response.status_code == 200  # the form again, with the error
    assert (
        f"at most 9 year(s) for a domain expiring {world.d_c1.expiry_date.isoformat()}: "
        "registries allow at most 10 years ahead" in response.get_data(as_text=True)
    )
    session.expire_all()
    assert session.get(Domain, world.d_c1.id).renewal_years is None
    response = client.post(f"/domains/edit/{world.d_c1.id}", data=domain_form(world.d_c1, "9"))
    assert response.status_code == 302
    session.expire_all()
    assert session.get(Domain, world.d_c1.id).renewal_years == 9


# --- a failed decision can be replaced ----------------------------------------------------------


def test_customer_replaces_a_failed_decision_on_the_selection_page(client, world, session, smtp):
    failed = failed_decision(session, world.d_c1)
    login(client, world.client1_login.username)
    html = client.get("/renewals/").get_data(as_text=True)
    assert "could not carry this out at the registrar; you can choose again" in html
    assert f'name="decision-{world.d_c1.id}" value="decline"' in html
    assert "Processed by your sales contact" not in html

    response = client.post("/renewals/", data={f"decision-{world.d_c1.id}": "decline"})
    assert response.status_code == 302
    old, new = all_decisions(session, world.d_c1)
    assert old.id == failed.id and old.state is ProcessingState.superseded
    assert (new.decision, new.state, new.expiry_date) == (
        Decision.decline,
        ProcessingState.queued,
        world.d_c1.expiry_date,
    )
    assert session.get(Domain, world.d_c1.id).status is DomainStatus.renewal_declined
    assert len(smtp.to("sales-a@example.com")) == 1  # the sales contact is told
    # The queue holds the new decision only.
    logout(client)
    login(client, world.sales_a.username)
    queue = client.get("/queue/").get_data(as_text=True)
    assert f'name="rowid" value="{new.id}"' in queue
    assert f'name="rowid" value="{old.id}"' not in queue


def test_resubmitting_the_failed_choice_leaves_it_for_a_retry(client, world, session, smtp):
    failed = failed_decision(session, world.d_c1, years=2)
    login(client, world.client1_login.username)
    response = client.post(
        "/renewals/", data={f"decision-{world.d_c1.id}": "renew", f"years-{world.d_c1.id}": "2"}
    )
    assert response.status_code == 302
    [only] = all_decisions(session, world.d_c1)
    assert only.id == failed.id and only.state is ProcessingState.failed
    assert smtp.messages == []


def test_sales_replace_a_failed_decision_for_the_customer(client, world, session, smtp):
    failed_decision(session, world.d_c1, decision=Decision.decline)
    login(client, world.sales_a.username)
    response = client.post(
        "/renewals/?relation=101",
        data={f"decision-{world.d_c1.id}": "renew", f"years-{world.d_c1.id}": "3"},
    )
    assert response.status_code == 302
    old, new = all_decisions(session, world.d_c1)
    assert old.state is ProcessingState.superseded
    assert (new.decision, new.years, new.channel) == (Decision.renew, 3, DecisionChannel.sales)
    assert new.decided_by_id == world.sales_a.id


def test_a_failed_decision_being_retried_right_now_cannot_be_replaced(client, world, session, smtp):
    failed = failed_decision(session, world.d_c1)
    failed.claimed_at = utcnow()  # a sales contact or the job is executing it at the registrar
    session.commit()
    login(client, world.client1_login.username)
    response = client.post("/renewals/", data={f"decision-{world.d_c1.id}": "decline"})
    assert response.status_code == 422
    assert "is being processed by your sales contact right now" in response.get_data(as_text=True)
    [only] = all_decisions(session, world.d_c1)
    assert only.state is ProcessingState.failed and smtp.messages == []


def test_customer_replaces_a_failed_decision_with_a_confirmation_code(
    client, world, session, smtp, templates
):
    failed = failed_decision(session, world.d_c2, years=1)
    send_request(client, world, world.d_c2)  # the sales contact sends a new code
    code = emailed_code(smtp, "c2@example.com")
    html = enter(client, code).get_data(as_text=True)
    assert "could not carry this out at the registrar; you can choose again" in html
    response = decide(client, code, "decline", None)
    assert response.status_code == 200
    old, new = all_decisions(session, world.d_c2)
    assert old.id == failed.id and old.state is ProcessingState.superseded
    assert (new.decision, new.channel, new.state) == (
        Decision.decline,
        DecisionChannel.confirmation_code,
        ProcessingState.queued,
    )
    assert session.get(Domain, world.d_c2.id).status is DomainStatus.renewal_declined
    assert session.scalar(select(ConfirmationRequest)).state == "used"


def test_a_decision_carried_out_still_cannot_be_changed(client, world, session):
    done = failed_decision(session, world.d_c1)
    done.state = ProcessingState.done
    session.commit()
    login(client, world.client1_login.username)
    response = client.post("/renewals/", data={f"decision-{world.d_c1.id}": "decline"})
    assert response.status_code == 422
    assert "already processed" in response.get_data(as_text=True)


# --- the processing job's dry run ---------------------------------------------------------------


@pytest.fixture
def lapsed(world, session):
    """Expired domains with the manual backend: one declined whose decline is already queued,
    one undecided past the grace period, one with a renewal waiting for the sales contact."""

    def add(name, status, decision=None):
        domain = Domain(
            name=name, relation=world.c1, expiry_date=TODAY - dt.timedelta(40), status=status
        )
        session.add(domain)
        if decision is not None:
            session.add(
                RenewalDecision(
                    domain=domain,
                    decision=decision,
                    years=1 if decision is Decision.renew else None,
                    expiry_date=domain.expiry_date,
                    channel=DecisionChannel.selection_page,
                )
            )
        return domain

    made = {
        "queued": add("already-queued.com", DomainStatus.renewal_declined, Decision.decline),
        "undecided": add("undecided.com", DomainStatus.active),
    }
    session.commit()
    return made


def test_dry_run_reports_only_what_it_would_change(app, session, lapsed):
    result = app.test_cli_runner().invoke(
        args=["renewals", "process", "--date", TODAY.isoformat(), "--dry-run"]
    )
    assert result.exit_code == 0, result.output
    assert "would queue undecided.com" in result.output
    assert "already-queued.com" not in result.output  # its decline is queued already
    assert "queued for sales 1," in result.output
    before = decision_count(session)
    # The real run does exactly that.
    real = run_processing(app, TODAY)
    assert real.queued == 1
    assert decision_count(session) == before + 1


@pytest.mark.app_config(RENEWALS_REGISTRAR_BACKEND="simulated")
def test_dry_run_with_an_executing_backend_counts_the_queueing_too(app, session, lapsed):
    from renewal_reminder.renewals.registrars import simulated

    simulated.SHARED.reset()
    for domain in lapsed.values():
        simulated.SHARED.register(domain.name, domain.expiry_date)
    lines: list[str] = []
    dry = run_processing(app, TODAY, dry_run=True, echo=lines.append)
    assert any(
        "would deactivate already-queued.com" in line and "queue it for deletion" in line
        for line in lines
    )
    real = run_processing(app, TODAY)
    simulated.SHARED.reset()
    assert (dry.deactivated, dry.queued) == (real.deactivated, real.queued) == (2, 2)
