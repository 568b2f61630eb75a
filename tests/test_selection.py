"""The renewal selection page: who sees what, recording decisions, and every way to get it wrong."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import func, select

from renewal_reminder.models import (
    Decision,
    DecisionChannel,
    Domain,
    DomainStatus,
    ProcessingState,
    RenewalDecision,
)
from tests.conftest import client_in, client_of, login

TODAY = dt.date.today()


def page(client, query: str = "") -> str:
    response = client.get(f"/renewals/{query}")
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def decisions_count(session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(RenewalDecision))


def post(client, data: dict, relation: int | None = None):
    query = f"?relation={relation}" if relation else ""
    return client.post(f"/renewals/{query}", data=data)


def test_anonymous_is_sent_to_login(client, world):
    response = client.get("/renewals/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_reseller_sees_its_own_and_its_clients_domains(client, world, session):
    session.add_all(
        [
            Domain(name="far-away.com", relation=world.r1, expiry_date=TODAY + dt.timedelta(200)),
            Domain(
                name="gone.com",
                relation=world.r1,
                expiry_date=TODAY + dt.timedelta(5),
                status=DomainStatus.deleted,
            ),
            Domain(
                name="off.com",
                relation=world.r1,
                expiry_date=TODAY + dt.timedelta(5),
                status=DomainStatus.deactivated,
            ),
            Domain(name="lapsed.com", relation=world.r1, expiry_date=TODAY - dt.timedelta(3)),
        ]
    )
    session.commit()
    login(client, world.reseller_login.username)
    html = page(client)
    assert "reseller-one.com" in html and "client-one.com" in html
    assert "Client One" in html  # the client of each domain is named
    assert "client-two.com" not in html  # another relation's
    assert "far-away.com" not in html  # outside the window
    assert "gone.com" not in html and "off.com" not in html  # left the cycle
    assert "lapsed.com" in html and "expired" in html  # expired, not yet deleted
    assert html.index("lapsed.com") < html.index("client-one.com") < html.index("reseller-one.com")


def test_client_sees_only_its_own(client, world):
    login(client, world.client1_login.username)
    html = page(client)
    assert "client-one.com" in html
    assert "reseller-one.com" not in html and "client-two.com" not in html


def test_filters_by_name_and_client(client, world):
    login(client, world.reseller_login.username)
    html = page(client, "?q=client")
    assert "client-one.com" in html and "reseller-one.com" not in html
    html = page(client, "?client=100")
    assert "reseller-one.com" in html and "client-one.com" not in html


def test_confirm_and_decline_in_bulk(client, world, session, smtp):
    login(client, world.reseller_login.username)
    response = post(
        client,
        {
            f"decision-{world.d_r1.id}": "renew",
            f"years-{world.d_r1.id}": "3",
            f"decision-{world.d_c1.id}": "decline",
            f"years-{world.d_c1.id}": "1",
        },
    )
    assert response.status_code == 302 and "/renewals/summary" in response.headers["Location"]
    summary = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "reseller-one.com" in summary and "3 year(s)" in summary
    assert "client-one.com" in summary

    session.expire_all()
    renew = session.scalar(select(RenewalDecision).filter_by(domain_id=world.d_r1.id))
    assert (renew.decision, renew.years, renew.channel, renew.state) == (
        Decision.renew,
        3,
        DecisionChannel.selection_page,
        ProcessingState.queued,
    )
    assert renew.decided_by_id == world.reseller_login.id
    assert renew.remote_addr == "127.0.0.1"
    assert renew.expiry_date == world.d_r1.expiry_date
    decline = session.scalar(select(RenewalDecision).filter_by(domain_id=world.d_c1.id))
    assert decline.decision is Decision.decline and decline.years is None
    assert session.get(Domain, world.d_r1.id).status is DomainStatus.renewal_confirmed
    assert session.get(Domain, world.d_r1.id).renewal_years == 3
    assert session.get(Domain, world.d_c1.id).status is DomainStatus.renewal_declined

    [email] = smtp.to("sales-a@example.com")  # and the customer's receipt: test_receipts
    assert email["To"] == "sales-a@example.com"
    text = email.get_body(("plain",)).get_content()
    assert "reseller-one.com - 3 years" in text
    assert "client-one.com (Client One) - expires" in text
    assert "http://renewals.test/queue/?relation=100" in text


def test_resubmitting_the_same_form_records_nothing_twice(client, world, session, smtp):
    login(client, world.client1_login.username)
    form = {f"decision-{world.d_c1.id}": "renew", f"years-{world.d_c1.id}": "2"}
    assert post(client, form).status_code == 302
    assert post(client, form).status_code == 302
    assert decisions_count(session) == 1
    assert len(smtp.to("sales-a@example.com")) == 1
    summary = client.get("/renewals/summary").get_data(as_text=True)
    assert "Nothing changed" in summary


def test_changing_your_mind_supersedes_the_queued_decision(client, world, session, smtp):
    login(client, world.client1_login.username)
    post(client, {f"decision-{world.d_c1.id}": "renew", f"years-{world.d_c1.id}": "2"})
    post(client, {f"decision-{world.d_c1.id}": "decline"})
    session.expire_all()
    rows = session.scalars(select(RenewalDecision).order_by(RenewalDecision.id)).all()
    assert [(r.decision, r.state) for r in rows] == [
        (Decision.renew, ProcessingState.superseded),
        (Decision.decline, ProcessingState.queued),
    ]
    assert session.get(Domain, world.d_c1.id).status is DomainStatus.renewal_declined
    assert len(smtp.to("sales-a@example.com")) == 2


@pytest.mark.parametrize("years", ["0", "11", "abc", "-1", "2.5", ""])
def test_bad_years_change_nothing(client, world, session, smtp, years):
    login(client, world.reseller_login.username)
    response = post(
        client,
        {
            f"decision-{world.d_r1.id}": "renew",
            f"years-{world.d_r1.id}": "1",
            f"decision-{world.d_c1.id}": "renew",
            f"years-{world.d_c1.id}": years,
        },
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Nothing was saved" in html
    assert f'value="{years}"' in html  # what the user typed is shown again, not lost
    assert decisions_count(session) == 0 and smtp.messages == []


def test_bad_decision_value_changes_nothing(client, world, session):
    login(client, world.client1_login.username)
    response = post(client, {f"decision-{world.d_c1.id}": "maybe"})
    assert response.status_code == 422
    assert decisions_count(session) == 0


def test_another_relations_domain_in_the_post_rejects_everything(client, world, session, smtp):
    login(client, world.reseller_login.username)
    response = post(
        client,
        {
            f"decision-{world.d_r1.id}": "renew",
            f"years-{world.d_r1.id}": "1",
            f"decision-{world.d_c2.id}": "decline",  # Client Two belongs to someone else
        },
    )
    assert response.status_code == 422
    assert "not yours to decide on" in response.get_data(as_text=True)
    assert decisions_count(session) == 0 and smtp.messages == []
    session.expire_all()
    assert session.get(Domain, world.d_c2.id).status is DomainStatus.active


def test_nonexistent_domain_id_is_rejected_like_a_foreign_one(client, world, session):
    login(client, world.client1_login.username)
    response = post(client, {"decision-987654": "renew", "years-987654": "1"})
    assert response.status_code == 422
    assert "not yours to decide on" in response.get_data(as_text=True)


def test_a_processed_decision_cannot_be_changed(client, world, session, smtp):
    session.add(
        RenewalDecision(
            domain=world.d_c1,
            decision=Decision.renew,
            years=1,
            expiry_date=world.d_c1.expiry_date,
            channel=DecisionChannel.sales,
            state=ProcessingState.done,
        )
    )
    world.d_c1.status = DomainStatus.renewal_confirmed
    session.commit()
    login(client, world.client1_login.username)
    html = page(client)
    assert "Processed by your sales contact" in html
    assert f'name="decision-{world.d_c1.id}"' not in html
    response = post(client, {f"decision-{world.d_c1.id}": "decline"})
    assert response.status_code == 422
    assert "already processed" in response.get_data(as_text=True)
    assert decisions_count(session) == 1 and smtp.messages == []


def test_a_client_cannot_open_another_relations_page(client, world):
    login(client, world.client1_login.username)
    assert client.get("/renewals/?relation=200").status_code == 404
    assert client.get("/renewals/?relation=100").status_code == 404  # its reseller
    assert client.get("/renewals/?relation=abc").status_code == 404


def test_reseller_can_open_a_clients_page(client, world):
    login(client, world.reseller_login.username)
    html = page(client, "?relation=101")
    assert "client-one.com" in html and "reseller-one.com" not in html


def test_sales_contact_decides_on_behalf_of_their_relation(client, world, session, smtp):
    login(client, world.sales_a.username)
    assert "Relation number" in page(client)  # asks which relation first
    assert client.get("/renewals/?relation=200").status_code == 404  # sales B's relation
    assert "reseller-one.com" in page(client, "?relation=100")
    response = post(
        client, {f"decision-{world.d_r1.id}": "renew", f"years-{world.d_r1.id}": "5"}, relation=100
    )
    assert response.status_code == 302
    session.expire_all()
    decision = session.scalar(select(RenewalDecision))
    assert decision.decided_by_id == world.sales_a.id and decision.years == 5


def test_admin_decides_on_behalf_of_any_relation(client, world, session):
    login(client, world.admin.username)
    response = post(client, {f"decision-{world.d_c2.id}": "decline"}, relation=200)
    assert response.status_code == 302
    session.expire_all()
    assert session.scalar(select(RenewalDecision)).decided_by_id == world.admin.id


def test_customer_login_without_a_relation_gets_a_page_saying_so(client, world, make_user):
    user = make_user("orphan@example.com", "Client")
    login(client, user.username)
    response = client.get("/renewals/")
    assert response.status_code == 403
    assert "not linked to a relation" in response.get_data(as_text=True)


def test_empty_page_says_so(client, world, session):
    for domain in (world.d_c1,):
        domain.status = DomainStatus.deleted
    session.commit()
    login(client, world.client1_login.username)
    assert "No domains need a decision" in page(client)


@pytest.mark.app_config(WTF_CSRF_ENABLED=True)
def test_post_without_csrf_token_is_refused(app, world, session):
    client = client_of(app)  # a context per request, as in a server (Flask-WTF keeps g)
    html = client.get("/login/").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)
    client.post(
        "/login/",
        data={
            "username": world.client1_login.username,
            "password": "correct-horse-battery",
            "csrf_token": token,
        },
    )
    response = post(client, {f"decision-{world.d_c1.id}": "renew", f"years-{world.d_c1.id}": "1"})
    assert response.status_code == 400
    assert decisions_count(session) == 0
    html = page(client)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)
    response = post(
        client,
        {f"decision-{world.d_c1.id}": "renew", f"years-{world.d_c1.id}": "1", "csrf_token": token},
    )
    assert response.status_code == 302
    assert decisions_count(session) == 1


def test_the_page_is_in_the_viewers_language_not_the_relations(app, world, session):
    """A Dutch viewer gets Dutch (FAB's menus too); staff with an English browser opening a
    Dutch client's page get English. (Emails follow the relation's language.)"""
    world.c1.language = "nl"
    session.commit()
    dutch = client_in(app, "nl-NL,nl;q=0.9")
    login(dutch, world.client1_login.username)
    html = dutch.get("/renewals/").get_data(as_text=True)
    assert '<html lang="nl">' in html
    assert "Verleng uw domeinnamen" in html and "Verlengen" in html
    staff = client_in(app, "en-GB")
    login(staff, world.sales_a.username)
    html = staff.get(f"/renewals/?relation={world.c1.number}").get_data(as_text=True)
    assert '<html lang="en">' in html and "Renew your domains" in html
    assert "Verleng uw domeinnamen" not in html


def test_a_rejected_choice_is_explained_in_the_viewers_language(app, world):
    dutch = client_in(app, "nl")
    login(dutch, world.client1_login.username)
    response = dutch.post(
        "/renewals/", data={f"decision-{world.d_c1.id}": "renew", f"years-{world.d_c1.id}": "x"}
    )
    assert response.status_code == 422
    assert "is geen aantal jaren" in response.get_data(as_text=True)


def test_a_double_click_records_once(app_config, world, session, smtp):
    """Two identical submissions at the same moment, from two app servers: one decision."""
    import threading

    from renewal_reminder.standalone import create_app

    apps = [create_app(dict(app_config)) for _ in range(2)]
    barrier = threading.Barrier(2)
    statuses = []
    username, domain_id = world.client1_login.username, world.d_c1.id

    def submit(application):
        client = application.test_client()
        client.post("/login/", data={"username": username, "password": "correct-horse-battery"})
        barrier.wait()
        response = client.post(
            "/renewals/", data={f"decision-{domain_id}": "renew", f"years-{domain_id}": "2"}
        )
        statuses.append(response.status_code)

    threads = [threading.Thread(target=submit, args=(a,)) for a in apps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for application in apps:
        with application.app_context():
            application.extensions["sqlalchemy"].engine.dispose()
    assert statuses == [302, 302]
    session.expire_all()
    queued = session.scalars(
        select(RenewalDecision).where(RenewalDecision.state == ProcessingState.queued)
    ).all()
    assert len(queued) == 1
    assert decisions_count(session) == 1
    assert len(smtp.to("sales-a@example.com")) == 1


def test_filters_stay_on_after_saving(client, world, session):
    login(client, world.reseller_login.username)
    response = client.post(
        "/renewals/?q=client&client=101",
        data={f"decision-{world.d_c1.id}": "renew", f"years-{world.d_c1.id}": "1"},
    )
    assert "q=client" in response.headers["Location"]
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    back = re.search(r'href="([^"]+)"[^>]*>Back to the renewal page', html).group(1)
    assert "q=client" in back and "client=101" in back


@pytest.mark.app_config(WTF_CSRF_ENABLED=True)
def test_an_expired_form_is_shown_again_as_typed_in_the_viewers_language(app, world, session):
    client = client_in(app, "nl")
    login(client, world.client1_login.username)
    response = client.post(
        "/renewals/",
        data={
            f"decision-{world.d_c1.id}": "renew",
            f"years-{world.d_c1.id}": "3",
            "csrf_token": "expired",
        },
    )
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Het formulier is verlopen" in html or "verlopen" in html
    assert 'value="3"' in html  # what was typed is still there
    assert decisions_count(session) == 0
