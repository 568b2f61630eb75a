"""The personal link in every customer email: it opens that relation's renewal page without a
password, and nothing else; a tampered, expired or revoked link gets one generic page that
offers a fresh link; the link session ends after an hour idle or when the links are revoked.

Emails go through the real SMTP server on loopback (``smtp``)."""

from __future__ import annotations

import datetime as dt
import io
import re
import time

import pytest
from flask import g
from itsdangerous import TimestampSigner
from sqlalchemy import select

from renewal_reminder import settings
from renewal_reminder.jobs import run_reminders
from renewal_reminder.models import (
    Decision,
    DecisionChannel,
    Domain,
    Receipt,
    ReceiptStatus,
    Relation,
    RenewalDecision,
)
from renewal_reminder.renewals import access, codes, customer_links, mailer, signed_tokens
from renewal_reminder.renewals.email_templates import ensure_default_templates
from renewal_reminder.renewals.portfolio import import_portfolio
from renewal_reminder.session import current_mail
from tests.conftest import login
from tests.test_accounts import finished

LINK = re.compile(r"(http://renewals\.test/renewals/link/#t=([A-Za-z0-9._-]+))")
TODAY = dt.date.today()


def text_of(message) -> str:
    return message.get_body(("plain",)).get_content()


def html_of(message) -> str:
    return message.get_body(("html",)).get_content()


def token_in(message) -> str:
    match = LINK.search(text_of(message))
    assert match, text_of(message)
    return match.group(2)


def open_link(client, token: str):
    """What the landing page's script does: post the token from the fragment."""
    return client.post("/renewals/link/", data={"token": token})


def answer(response) -> str:
    """The generic page's message, without what differs per request (the CSRF token)."""
    html = response.get_data(as_text=True)
    return html.split('id="rr-link-answer"', 1)[1].split("</div>\n</div>", 1)[0].split("<form")[0]


@pytest.fixture
def reminded(app, world, session, smtp):
    """Today's reminder run: Client Two (#200) gets its own digest; Reseller One (#100) gets
    one for its domain (and its client's reminders go to it)."""
    ensure_default_templates(session)
    summary = run_reminders(app, TODAY)
    assert summary.ok and summary.sent >= 1, summary
    return smtp


def token_for(session, relation: Relation) -> str:
    session.refresh(relation)
    return customer_links.token_for(relation.id, relation.link_version)


# --- the link in the emails ---------------------------------------------------------------------


def test_a_reminder_link_opens_the_page_and_decisions_say_email_link(
    app, client, world, session, reminded
):
    [message] = reminded.to("c2@example.com")
    assert "/renewals/link/#t=" in html_of(message)  # both parts carry it
    token = token_in(message)

    landing = client.get("/renewals/link/")
    assert landing.status_code == 200
    assert landing.headers["Referrer-Policy"] == "no-referrer"
    assert 'id="rr-token-exchange"' in landing.get_data(as_text=True)

    opened = open_link(client, token)
    assert opened.status_code == 302
    assert opened.headers["Location"].endswith("/renewals/")  # the clean URL
    assert opened.headers["Referrer-Policy"] == "no-referrer"

    page = client.get("/renewals/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "client-two.com" in html and "Client Two" in html
    assert "client-one.com" not in html and "reseller-one.com" not in html

    reminded.clear()
    saved = client.post(
        "/renewals/",
        data={f"decision-{world.d_c2.id}": "renew", f"years-{world.d_c2.id}": "2"},
        environ_base={"REMOTE_ADDR": "203.0.113.7"},
    )
    assert saved.status_code == 302 and "/renewals/summary" in saved.headers["Location"]
    summary = client.get(saved.headers["Location"])
    assert summary.status_code == 200 and "client-two.com" in summary.get_data(as_text=True)

    session.expire_all()
    decision = session.scalar(select(RenewalDecision))
    assert (decision.decision, decision.years, decision.channel) == (
        Decision.renew,
        2,
        DecisionChannel.email_link,
    )
    assert decision.remote_addr == "203.0.113.7"
    assert decision.decided_by_id is None
    assert decision.decided_by_label == "emailed link"
    [to_sales] = reminded.to("sales-b@example.com")
    assert "through the personal link in an email" in text_of(to_sales)
    assert "#200 Client Two" in text_of(to_sales)
    # The receipt carries the link too, and it still works (nothing was revoked).
    [receipt] = reminded.to("c2@example.com")
    assert token_in(receipt)


def test_a_clients_reminders_to_its_reseller_carry_the_resellers_link(
    app, client, world, session, smtp
):
    """Client One's reminders go to Reseller One: the link is the reseller's, and opens the
    reseller's page with its clients (as ``?relation`` and ``?client`` allow), nothing more."""
    ensure_default_templates(session)
    world.d_c1.expiry_date = TODAY + dt.timedelta(days=5)
    session.commit()
    run_reminders(app, TODAY)
    [message] = smtp.to("r1@example.com")
    assert "client-one.com (Client One)" in text_of(message)
    assert open_link(client, token_in(message)).status_code == 302
    html = client.get("/renewals/").get_data(as_text=True)
    assert "client-one.com" in html and "#100 Reseller One" in html
    assert client.get("/renewals/?relation=101").status_code == 200
    assert client.get("/renewals/?client=101").status_code == 200
    assert client.get("/renewals/?relation=200").status_code == 404


def test_confirmation_requests_and_receipts_carry_the_link(app, world, session, smtp):
    ensure_default_templates(session)
    mail = mailer.MailSettings.from_config({"BASE_URL": "http://renewals.test"})
    with app.test_request_context():
        outcome = codes.send_confirmation_request(
            session,
            current_mail(),
            mail,
            codes.CodeSettings.from_config(settings.read(app.config)),
            world.d_c2,
            sent_by_id=None,
        )
        assert outcome.ok, outcome.error
        [message] = smtp.to("c2@example.com")
        token = token_in(message)
        assert customer_links.relation_for_token(session, token).id == world.c2.id
        assert "your personal renewal page" in html_of(message)


def test_dutch_emails_carry_the_link(app, world, session, smtp):
    ensure_default_templates(session)
    world.c2.language = "nl"
    session.commit()
    run_reminders(app, TODAY)
    [message] = smtp.to("c2@example.com")
    assert "persoonlijke verlengingspagina" in text_of(message)
    assert "uw persoonlijke verlengingspagina" in html_of(message)
    assert customer_links.relation_for_token(session, token_in(message)).number == 200


# --- what a link session may do -----------------------------------------------------------------


@pytest.fixture
def link_client(client, world, session):
    """A browser with Client Two's link session (no login)."""
    assert open_link(client, token_for(session, world.c2)).status_code == 302
    return client


@pytest.mark.parametrize(
    "url",
    [
        "/renewals/?relation=100",
        "/renewals/?relation=101",
        "/renewals/summary?relation=100",
    ],
)
def test_a_link_session_cannot_open_another_relation(link_client, url):
    assert link_client.get(url).status_code == 404


@pytest.mark.parametrize(
    "url",
    [
        "/domains/list/",
        "/domains/export.csv",
        f"/domains/show/{1}",
        "/relations/list/",
        "/decisions/list/",
        "/queue/",
        "/expirations/",
        "/email-templates/list/",
    ],
)
def test_a_link_session_opens_no_fab_screen_export_or_queue(link_client, url):
    response = link_client.get(url)
    assert response.status_code in (302, 403, 404), response.status_code
    if response.status_code == 302:
        assert "/login" in response.headers["Location"]
    assert link_client.get("/renewals/").status_code == 200  # and it is still alive


def test_the_link_session_is_no_login(link_client):
    """FAB sees an anonymous visitor: its menu offers the login page."""
    html = link_client.get("/renewals/").get_data(as_text=True)
    assert 'href="/login/' in html


def test_a_decision_for_another_relations_domain_is_refused(link_client, world, session):
    response = link_client.post("/renewals/", data={f"decision-{world.d_c1.id}": "decline"})
    assert response.status_code == 422
    session.expire_all()
    assert session.scalar(select(RenewalDecision)) is None


def test_the_session_cookie_is_not_permanent(link_client):
    cookie = link_client.get_cookie("session")
    assert cookie is not None and cookie.expires is None  # gone when the browser closes


def test_an_hour_idle_ends_the_link_session(link_client):
    assert link_client.get("/renewals/").status_code == 200
    with link_client.session_transaction() as flask_session:
        data = flask_session[customer_links.SESSION_KEY]
        data["seen"] = int(time.time()) - 3600 - 5
        flask_session[customer_links.SESSION_KEY] = data
    response = link_client.get("/renewals/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    with link_client.session_transaction() as flask_session:
        assert customer_links.SESSION_KEY not in flask_session


def test_activity_keeps_the_link_session_alive(link_client):
    with link_client.session_transaction() as flask_session:
        data = flask_session[customer_links.SESSION_KEY]
        data["seen"] = int(time.time()) - 3000
        flask_session[customer_links.SESSION_KEY] = data
    assert link_client.get("/renewals/").status_code == 200
    with link_client.session_transaction() as flask_session:
        assert flask_session[customer_links.SESSION_KEY]["seen"] >= int(time.time()) - 5


def test_revoking_ends_a_live_link_session(link_client, world, session):
    customer_links.rotate(session, world.c2)
    session.commit()
    response = link_client.get("/renewals/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_signed_in_login_wins_over_the_link(client, world, session):
    """Client Two's login opens Reseller One's link: it sees what its login may (not #100),
    and no link session starts."""
    login(client, world.client2_login.username)
    response = open_link(client, token_for(session, world.r1))
    assert response.status_code == 302 and "relation=100" in response.headers["Location"]
    assert client.get(response.headers["Location"]).status_code == 404
    with client.session_transaction() as flask_session:
        assert customer_links.SESSION_KEY not in flask_session


# --- links that do not work ---------------------------------------------------------------------


def _expired_token(relation: Relation, days: int) -> str:
    """A genuine token made ``days`` days ago (itsdangerous puts the time in the signature)."""

    class Then(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - days * 24 * 3600

    serializer = signed_tokens._serializer(signed_tokens.Purpose.customer_link)
    serializer.signer = Then
    return serializer.dumps({"r": relation.id, "v": relation.link_version})


def test_tampered_expired_and_revoked_links_get_one_generic_page(app, client, world, session):
    with app.test_request_context():
        good = token_for(session, world.c2)
        expired = _expired_token(world.c2, 46)
        almost = _expired_token(world.c2, 44)
        other_purpose = signed_tokens.make_token(
            signed_tokens.Purpose.invitation, {"r": world.c2.id, "v": 1}
        )
    tampered = good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB")
    answers = {}
    for name, token in [
        ("tampered", tampered),
        ("expired", expired),
        ("other purpose", other_purpose),
        ("empty", ""),
        ("garbage", "x" * 600),
    ]:
        response = open_link(client, token)
        assert response.status_code == 400, name
        assert response.headers["Referrer-Policy"] == "no-referrer"
        answers[name] = answer(response)
    customer_links.rotate(session, world.c2)
    session.commit()
    revoked = open_link(client, good)
    assert revoked.status_code == 400
    answers["revoked"] = answer(revoked)
    assert len(set(answers.values())) == 1, answers
    assert "This link does not work" in revoked.get_data(as_text=True)
    assert 'name="email"' in revoked.get_data(as_text=True)
    assert client.get("/renewals/").status_code == 302  # no session from any of them
    # A link 44 days old (of the current version) still works: the default is 45 days.
    with app.test_request_context():
        almost = _expired_token(world.c2, 44)
    assert open_link(client, almost).status_code == 302


@pytest.mark.app_config(RENEWALS_CUSTOMER_LINK_DAYS=2)
def test_the_lifetime_is_a_setting(app, client, world, session):
    with app.test_request_context():
        three_days = _expired_token(world.c2, 3)
        one_day = _expired_token(world.c2, 1)
    assert open_link(client, three_days).status_code == 400
    assert open_link(client, one_day).status_code == 302


def test_a_bad_lifetime_stops_start_up(app_config):
    from renewal_reminder.addon import AddonStartupError
    from renewal_reminder.standalone import create_app

    with pytest.raises(AddonStartupError, match="CUSTOMER_LINK_DAYS"):
        create_app(dict(app_config, RENEWALS_CUSTOMER_LINK_DAYS="0"))


# --- rotation -----------------------------------------------------------------------------------


def test_a_new_billing_email_revokes_the_links(app, client, world, session):
    token = token_for(session, world.c2)
    world.c2.name = "Client Two B.V."  # other changes leave the links alone
    session.commit()
    assert customer_links.relation_for_token(session, token).id == world.c2.id
    world.c2.billing_email = "C2@EXAMPLE.COM"  # only the case: the same mailbox
    session.commit()
    assert customer_links.relation_for_token(session, token).id == world.c2.id
    world.c2.billing_email = "new-owner@example.com"
    session.commit()
    with pytest.raises(customer_links.LinkRefused):
        customer_links.relation_for_token(session, token)
    assert open_link(client, token).status_code == 400
    assert open_link(client, token_for(session, world.c2)).status_code == 302


def test_an_admin_changing_the_billing_email_revokes_the_links(app, client, world, session):
    from tests.test_change_of_holder import relation_form

    token = token_for(session, world.c2)
    assert open_link(client, token).status_code == 302  # the customer's live link session
    admin = app.test_client()
    login(admin, world.admin.username)
    saved = admin.post(
        f"/relations/edit/{world.c2.id}",
        data=relation_form(world.c2, billing_email="new-owner@example.com"),
    )
    assert saved.status_code == 302
    # The test's app context (and so ``g``) is shared by both clients' requests: forget the
    # admin that Flask-Login cached there, as a real request would never have seen it.
    g.pop("_login_user", None)
    session.expire_all()
    with pytest.raises(customer_links.LinkRefused):
        customer_links.relation_for_token(session, token)
    assert client.get("/renewals/").status_code == 302  # the link session has ended too


def test_an_import_that_changes_the_billing_email_revokes_the_links(app, world, session):
    header = "domain,expiry_date,relation_number,relation_name,relation_email"
    before = {r.number: token_for(session, r) for r in (world.r1, world.c2)}
    rows = [
        header,
        f"client-two.com,{world.d_c2.expiry_date},200,Client Two,someone-else@example.com",
        f"reseller-one.com,{world.d_r1.expiry_date},100,Reseller One,r1@example.com",
    ]
    import_portfolio(session, io.StringIO("\n".join(rows) + "\n", newline=""))
    session.commit()
    session.expire_all()
    with pytest.raises(customer_links.LinkRefused):
        customer_links.relation_for_token(session, before[200])
    assert customer_links.relation_for_token(session, before[100]).number == 100


def test_a_new_billing_email_on_an_expired_relation_revokes_the_links(app, world, session):
    """Set without loading the old value first (the instance expired after a commit): the
    old value is loaded for the comparison (``active_history``), and the links go."""
    token = token_for(session, world.c2)
    session.commit()
    session.expire(world.c2)
    world.c2.billing_email = "other@example.com"
    session.commit()
    with pytest.raises(customer_links.LinkRefused):
        customer_links.relation_for_token(session, token)


@pytest.mark.parametrize("synchronize", ["auto", "evaluate", "fetch", False])
def test_an_update_statement_that_changes_the_billing_email_revokes_the_links(
    app, world, session, synchronize
):
    from sqlalchemy import func, update

    before = {r.number: token_for(session, r) for r in (world.r1, world.c1, world.c2)}
    session.execute(
        update(Relation)
        .where(Relation.number.in_([100, 200]))
        .values(billing_email=func.upper(Relation.billing_email))  # only the case
        .execution_options(synchronize_session=synchronize)
    )
    session.execute(
        update(Relation)
        .where(Relation.number.in_([101, 200]))
        .values(billing_email="new-owner@example.com", name=Relation.name + " B.V.")
        .execution_options(synchronize_session=synchronize)
    )
    session.commit()
    session.expire_all()
    assert customer_links.relation_for_token(session, before[100]).number == 100
    for number in (101, 200):
        with pytest.raises(customer_links.LinkRefused):
            customer_links.relation_for_token(session, before[number])
    assert session.get(Relation, world.c2.id).name == "Client Two B.V."


def test_a_core_update_of_the_table_revokes_the_links_too(app, world, session):
    from sqlalchemy import update

    token = token_for(session, world.c2)
    table = Relation.__table__
    session.execute(
        update(table).where(table.c.id == world.c2.id).values(billing_email="x@example.com")
    )
    session.commit()
    with pytest.raises(customer_links.LinkRefused):
        customer_links.relation_for_token(session, token)


def test_a_link_of_a_deleted_relation_does_not_open_a_new_one_with_its_id(
    app, client, world, session
):
    """SQLite gives a new row the highest id plus one, so deleting the newest relation and
    adding another reuses its id; the new relation starts at a random link version."""
    gone = Relation(number=900, name="Gone", billing_email="gone@example.com")
    session.add(gone)
    session.commit()
    old_id, token = gone.id, token_for(session, gone)
    session.delete(gone)
    session.commit()
    fresh = Relation(number=901, name="New Owner", billing_email="new@example.com")
    session.add(fresh)
    session.commit()
    if session.get_bind().dialect.name == "sqlite":
        assert fresh.id == old_id  # the case this is about
    with pytest.raises(customer_links.LinkRefused):
        customer_links.relation_for_token(session, token)
    assert open_link(client, token).status_code == 400
    assert open_link(client, token_for(session, fresh)).status_code == 302


def test_admin_revokes_a_relations_links_from_its_page(client, world, session):
    token = token_for(session, world.c2)
    login(client, world.admin.username)
    response = client.post(
        f"/relations/action/revoke_customer_links/{world.c2.id}", follow_redirects=True
    )
    assert response.status_code == 200
    assert "Customer links revoked for #200 Client Two" in response.get_data(as_text=True)
    session.expire_all()
    with pytest.raises(customer_links.LinkRefused):
        customer_links.relation_for_token(session, token)


def test_sales_revokes_only_the_relations_it_may_see(client, world, session):
    own, other = token_for(session, world.r1), token_for(session, world.c2)
    login(client, world.sales_a.username)
    # Another contact's relation among the selected: nothing happens (as for a missing row).
    both = client.post(
        "/relations/action_post",
        data={"action": "revoke_customer_links", "rowid": [world.r1.id, world.c2.id]},
    )
    assert both.status_code == 404
    assert client.post(f"/relations/action/revoke_customer_links/{world.c2.id}").status_code == 404
    session.expire_all()
    assert customer_links.relation_for_token(session, own).number == 100
    assert customer_links.relation_for_token(session, other).number == 200
    # Its own relation (from the list, as from the relation's page).
    mine = client.post(
        "/relations/action_post",
        data={"action": "revoke_customer_links", "rowid": [world.r1.id]},
        follow_redirects=True,
    )
    assert "Customer links revoked for #100 Reseller One" in mine.get_data(as_text=True)
    session.expire_all()
    with pytest.raises(customer_links.LinkRefused):
        customer_links.relation_for_token(session, own)


def test_customers_cannot_revoke(client, world, session):
    token = token_for(session, world.c2)
    login(client, world.client2_login.username)
    client.post(f"/relations/action/revoke_customer_links/{world.c2.id}")
    session.expire_all()
    assert customer_links.relation_for_token(session, token).number == 200


# --- a fresh link -------------------------------------------------------------------------------


def test_a_fresh_link_goes_to_every_relation_with_the_address(app, client, world, session, smtp):
    world.c1.billing_email = "shared@example.com"
    world.c2.billing_email = "Shared@Example.com"
    session.commit()
    known = finished(client.post("/renewals/link/fresh", data={"email": "SHARED@example.com"}))
    unknown = finished(client.post("/renewals/link/fresh", data={"email": "nobody@example.com"}))
    assert known.status_code == unknown.status_code == 200
    assert answer(known) == answer(unknown)
    assert known.headers["Referrer-Policy"] == "no-referrer"
    messages = smtp.messages  # to each relation's own spelling of the address
    assert len(messages) == 2
    assert {to for _sender, [to] in smtp.envelopes} == {"shared@example.com", "Shared@example.com"}
    numbers = set()
    for message in messages:
        relation = customer_links.relation_for_token(session, token_in(message))
        numbers.add(relation.number)
        assert f"relation #{relation.number}" in message["Subject"]
    assert numbers == {101, 200}
    assert not smtp.to("nobody@example.com")
    # The fresh link works like any other.
    assert open_link(client, token_in(messages[0])).status_code == 302


def test_a_fresh_link_form_without_an_address(client, world, smtp):
    response = finished(client.post("/renewals/link/fresh", data={"email": ""}))
    assert response.status_code == 400
    assert not smtp.messages


@pytest.mark.app_config(RATELIMIT_ENABLED=True, RENEWALS_CONFIRMATION_RATE_LIMIT="3 per minute")
def test_the_link_pages_are_rate_limited_like_the_confirmation_page(client, world, smtp):
    for _ in range(3):
        fresh = finished(client.post("/renewals/link/fresh", data={"email": "c2@example.com"}))
        assert fresh.status_code == 200
    limited = finished(client.post("/renewals/link/fresh", data={"email": "c2@example.com"}))
    assert limited.status_code == 429
    assert "Too many attempts" in limited.get_data(as_text=True)
    assert open_link(client, "anything").status_code == 429  # one limit for the door
    assert len(smtp.to("c2@example.com")) == 3
    # The confirmation page's own counter is separate.
    assert client.post("/confirm/", data={"code": "nope"}).status_code == 400


# --- the module ---------------------------------------------------------------------------------


def test_link_url_is_absolute_with_the_prefix(app, world, session):
    mail = mailer.MailSettings("https://host.example.com/auth", "x@example.com", "/rr")
    with app.test_request_context():
        url = customer_links.link_url(world.c2, mail)
        assert url.startswith("https://host.example.com/auth/rr/renewals/link/#t=")
        token = url.split("#t=", 1)[1]
        assert customer_links.relation_for_token(session, token).id == world.c2.id


def test_a_link_visitor_sees_its_relation_and_clients(session, world):
    visitor = access.LinkVisitor(world.r1.id)
    visible = set(session.scalars(access.visible_relation_ids(visitor)))
    assert visible == {world.r1.id, world.c1.id}
    assert not access.is_staff(visitor) and not access.is_admin(visitor)
    assert access.linked_relation(session, visitor).id == world.r1.id
    domains = set(
        session.scalars(
            select(Domain.name).where(Domain.id.in_(access.visible_domain_ids(visitor)))
        )
    )
    assert domains == {"reseller-one.com", "client-one.com"}


def test_receipts_made_before_a_rotation_carry_the_new_link(app, world, session, smtp):
    """The link in a receipt is made when it is sent, with the version of that moment."""
    from renewal_reminder.renewals import receipts

    payload = receipts.decisions_payload({"number": 200, "name": "Client Two"}, [], [], None)
    session.add(
        Receipt(
            kind="receipt_decisions",
            event_key="test-1",
            relation_id=world.c2.id,
            recipient="c2@example.com",
            language="en",
            payload=payload,
            status=ReceiptStatus.pending,
            attempts=0,
            created_at=dt.datetime.now(),
        )
    )
    session.commit()
    customer_links.rotate(session, world.c2)
    session.commit()
    ensure_default_templates(session)
    with app.app_context():
        receipts.send_receipts(
            session,
            current_mail(),
            mailer.MailSettings.from_config({"BASE_URL": "http://renewals.test"}),
        )
    [message] = smtp.to("c2@example.com")
    assert customer_links.relation_for_token(session, token_in(message)).number == 200


def test_a_receipt_to_a_former_billing_address_carries_no_personal_link(app, world, session, smtp):
    """A receipt keeps the address of its event; if the relation's billing address changed
    since, the old mailbox gets the receipt with the plain page URL, not a working link."""
    from renewal_reminder.renewals import receipts

    payload = receipts.decisions_payload({"number": 200, "name": "Client Two"}, [], [], None)
    for key, recipient in (("old", "c2@example.com"), ("new", " New-Owner@Example.com")):
        session.add(
            Receipt(
                kind="receipt_decisions",
                event_key=f"test-{key}",
                relation_id=world.c2.id,
                recipient=recipient,
                language="en",
                payload=payload,
                status=ReceiptStatus.pending,
                attempts=0,
                created_at=dt.datetime.now(),
            )
        )
    session.commit()
    world.c2.billing_email = "new-owner@example.com"
    session.commit()
    ensure_default_templates(session)
    receipts.send_receipts(
        session,
        current_mail(),
        mailer.MailSettings.from_config({"BASE_URL": "http://renewals.test"}),
    )
    [old] = smtp.to("c2@example.com")
    assert LINK.search(text_of(old)) is None and "#t=" not in html_of(old)
    assert "http://renewals.test/renewals/" in text_of(old)
    # The current address (compared without case and blanks) gets the working link.
    [new] = smtp.to("New-Owner@example.com")
    assert customer_links.relation_for_token(session, token_in(new)).number == 200


# --- existing installations get the link --------------------------------------------------------


def test_untouched_old_defaults_are_brought_up_to_date_and_customised_ones_kept(
    session, monkeypatch
):
    """An installation whose reminder template is still the earlier version's default gets
    the one with the link at start-up; a template someone edited stays as it is."""
    from renewal_reminder.models import EmailTemplate
    from renewal_reminder.renewals import email_templates as et

    old = ("Old subject", "Old text {{ renewal_url }}", "<p>{{ renewal_url }}</p>")
    edited = ("Ours", "Our text {{ renewal_url }}", "<p>ours</p>")
    session.add_all(
        [
            EmailTemplate(
                name=et.RENEWAL_REMINDER,
                language="en",
                subject=old[0],
                text_body=old[1],
                html_body=old[2],
            ),
            EmailTemplate(
                name=et.RENEWAL_REMINDER,
                language="nl",
                subject=edited[0],
                text_body=edited[1],
                html_body=edited[2],
            ),
        ]
    )
    session.commit()
    monkeypatch.setitem(
        et.RETIRED_DEFAULTS, (et.RENEWAL_REMINDER, "en"), frozenset({et.fingerprint(*old)})
    )
    ensure_default_templates(session)
    session.expire_all()
    rows = {
        row.language: row
        for row in session.scalars(
            select(EmailTemplate).where(EmailTemplate.name == et.RENEWAL_REMINDER)
        )
    }
    assert rows["en"].text_body == et.DEFAULTS[(et.RENEWAL_REMINDER, "en")].text_body
    assert "renewal_link" in rows["en"].text_body
    assert (rows["nl"].subject, rows["nl"].text_body, rows["nl"].html_body) == edited


def test_retired_defaults_name_shipped_templates_and_are_not_the_current_ones():
    from renewal_reminder.renewals import email_templates as et

    for key, prints in et.RETIRED_DEFAULTS.items():
        current = et.DEFAULTS[key]
        assert et.fingerprint(current.subject, current.text_body, current.html_body) not in prints
