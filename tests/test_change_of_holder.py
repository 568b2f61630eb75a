"""A change of holder starts clean: moving a domain (import, Admin edit) or changing where its
customer emails go revokes its open codes and supersedes its open decisions, and the new
holder sees nothing of the old holder's."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from renewal_reminder.models import (
    ConfirmationRequest,
    Domain,
    DomainStatus,
    ProcessingState,
    RenewalDecision,
)
from renewal_reminder.renewals.email_templates import ensure_default_templates
from renewal_reminder.renewals.portfolio import import_portfolio
from tests.conftest import login, logout
from tests.test_confirmation import GENERIC, emailed_code, enter, send_request


@pytest.fixture
def templates(session):
    ensure_default_templates(session)


@pytest.fixture
def started(client, world, session, smtp, templates):
    """Client Two has an open code for client-two.com and a queued renewal, from its login."""
    send_request(client, world, world.d_c2)
    code = emailed_code(smtp, "c2@example.com")
    login(client, world.client2_login.username)
    response = client.post(
        "/renewals/", data={f"decision-{world.d_c2.id}": "renew", f"years-{world.d_c2.id}": "2"}
    )
    assert response.status_code == 302
    logout(client)
    return code


def import_csv(session, text: str):
    return import_portfolio(session, io.StringIO(text, newline=""))


def assert_started_clean(client, world, session, code: str, reason: str):
    response = enter(client, code)
    assert response.status_code == 400 and GENERIC in response.get_data(as_text=True)
    session.expire_all()
    [request] = session.scalars(select(ConfirmationRequest)).all()
    assert request.state == "revoked" and reason in request.note
    [decision] = session.scalars(select(RenewalDecision)).all()
    assert decision.state is ProcessingState.superseded and reason in decision.message
    domain = session.get(Domain, world.d_c2.id)
    assert domain.status is DomainStatus.active and domain.renewal_years is None


def assert_new_holder_sees_nothing_of_the_old(client, world):
    """Client One (the new holder) and Sales A (its contact)."""
    login(client, world.client1_login.username)
    pages = [
        client.get("/renewals/").get_data(as_text=True),
        client.get("/decisions/list/").get_data(as_text=True),
        client.get(f"/domains/show/{world.d_c2.id}").get_data(as_text=True),
    ]
    assert "client-two.com" in pages[0]  # offered, undecided
    for page in pages:
        assert world.client2_login.username not in page
        assert "127.0.0.1" not in page
    assert "client-two.com" not in pages[1]  # no decision of the old holder's listed
    logout(client)
    login(client, "sales-a@example.com")
    assert "client-two.com" not in client.get("/queue/").get_data(as_text=True)
    logout(client)
    # Staff keep the whole history.
    login(client, "admin@example.com")
    history = client.get("/decisions/list/").get_data(as_text=True)
    assert "client-two.com" in history and world.client2_login.username in history
    logout(client)


def test_an_import_moving_a_domain_starts_clean(client, world, session, smtp, started):
    expiry = world.d_c2.expiry_date.isoformat()
    summary = import_csv(
        session,
        "domain,expiry_date,relation_number,relation_name,relation_email\n"
        f"client-two.com,{expiry},101,Client One,c1@example.com\n",
    )
    assert summary.domains_updated == 1
    reason = "the portfolio import moved the domain to relation #101"
    assert_started_clean(client, world, session, started, reason)
    assert_new_holder_sees_nothing_of_the_old(client, world)


def test_an_admin_moving_a_domain_starts_clean(client, world, session, smtp, started):
    login(client, "admin@example.com")
    domain = session.get(Domain, world.d_c2.id)
    response = client.post(
        f"/domains/edit/{domain.id}",
        data={
            "name": domain.name,
            "relation": str(world.c1.id),
            "expiry_date": domain.expiry_date.isoformat(),
            "status": domain.status.value,
            "renewal_years": str(domain.renewal_years or ""),
            "notes": "",
        },
    )
    assert response.status_code == 302
    logout(client)
    session.expire_all()
    assert session.get(Domain, world.d_c2.id).relation_id == world.c1.id
    assert_started_clean(client, world, session, started, "moved to relation #101")
    assert_new_holder_sees_nothing_of_the_old(client, world)


def relation_form(relation, **changes) -> dict:
    form = {
        "number": str(relation.number),
        "name": relation.name,
        "billing_email": relation.billing_email,
        "kind": relation.kind.value,
        "parent": str(relation.parent_id or ""),
        "sales_contact": str(relation.sales_contact_id or ""),
        "language": relation.language,
    }
    if relation.reminders_to_reseller:
        form["reminders_to_reseller"] = "y"
    form.update(changes)
    return {key: value for key, value in form.items() if value is not None}


def test_an_admin_changing_the_billing_email_starts_clean(client, world, session, smtp, started):
    login(client, "admin@example.com")
    response = client.post(
        f"/relations/edit/{world.c2.id}",
        data=relation_form(world.c2, billing_email="new-owner@example.com"),
    )
    assert response.status_code == 302
    logout(client)
    assert_started_clean(client, world, session, started, "relation #200 was edited")
    # Same holder: its own history stays visible to it.
    login(client, world.client2_login.username)
    assert "client-two.com" in client.get("/decisions/list/").get_data(as_text=True)


def test_an_admin_changing_the_reseller_routing_revokes_the_resellers_code(
    client, world, session, smtp, templates
):
    send_request(client, world, world.d_c1)  # goes to the reseller
    code = emailed_code(smtp, "r1@example.com")
    login(client, "admin@example.com")
    response = client.post(
        f"/relations/edit/{world.c1.id}",
        data=relation_form(world.c1, reminders_to_reseller=None),
    )
    assert response.status_code == 302
    logout(client)
    assert enter(client, code).status_code == 400


def test_an_import_changing_a_resellers_address_revokes_its_clients_codes(
    client, world, session, smtp, templates
):
    send_request(client, world, world.d_c1)
    code = emailed_code(smtp, "r1@example.com")
    send_request(client, world, world.d_c2)
    other = emailed_code(smtp, "c2@example.com")
    import_csv(
        session,
        "domain,expiry_date,relation_number,relation_name,relation_email,relation_kind\n"
        f"reseller-one.com,{world.d_r1.expiry_date},100,Reseller One,new@reseller.example,"
        "reseller\n",
    )
    assert enter(client, code).status_code == 400
    assert enter(client, other).status_code == 200  # untouched


def test_an_unchanged_import_revokes_nothing(client, world, session, smtp, started):
    import_csv(
        session,
        "domain,expiry_date,relation_number,relation_name,relation_email\n"
        f"client-two.com,{world.d_c2.expiry_date},200,Client Two,C2@example.com\n",
    )
    assert enter(client, started).status_code == 200
    session.expire_all()
    [decision] = session.scalars(select(RenewalDecision)).all()
    assert decision.state is ProcessingState.queued


def test_the_old_holders_decisions_stay_theirs_whatever_their_message(
    client, world, session, smtp, started
):
    """Decisions remember the relation they were made for: a later change of their message
    (an execution finishing, a note) cannot show them to the new holder."""
    expiry = world.d_c2.expiry_date.isoformat()
    import_csv(
        session,
        "domain,expiry_date,relation_number,relation_name,relation_email\n"
        f"client-two.com,{expiry},101,Client One,c1@example.com\n",
    )
    session.commit()
    [decision] = session.scalars(select(RenewalDecision)).all()
    assert decision.relation_id == world.c2.id
    decision.message = "renewed at the registrar"
    session.commit()
    assert_new_holder_sees_nothing_of_the_old(client, world)


def test_a_new_decision_belongs_to_the_domains_holder(client, world, session, smtp, started):
    [decision] = session.scalars(select(RenewalDecision)).all()
    assert decision.relation_id == world.c2.id
