"""Invitations: set a password once through an emailed link; re-inviting revokes; expired
links are refused; inviting many relations sends one email each, exactly once, even when
run twice or concurrently; the Admin/Sales action; linking and unlinking logins."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import func, select, update

from renewal_reminder.models import (
    Invitation,
    InvitationStatus,
    Relation,
    RelationKind,
    RelationUser,
)
from tests.conftest import client_in, run_in_parallel
from tests.test_sessions import client_of, login

PASSWORD = "meadow-copper-violin"
LINK = re.compile(r"http://renewals\.test/invitation/#t=([A-Za-z0-9._-]+)")


def invite(app, *args):
    return app.test_cli_runner().invoke(args=["users", "invite", *args])


def token_in(message) -> str:
    text = message.get_body(("plain",)).get_content()
    match = LINK.search(text)
    assert match, text
    return match.group(1)


def accept(client, token: str, password: str = PASSWORD, **fields):
    exchanged = client.post("/invitation/", data={"token": token})
    if exchanged.status_code != 302:
        return exchanged
    assert exchanged.headers["Location"].endswith("/invitation/accept")
    page = client.get("/invitation/accept")
    assert page.status_code == 200
    return client.post(
        "/invitation/accept", data={"password": password, "again": password, **fields}
    )


@pytest.fixture
def fresh_relation(session):
    """A client relation without a login, in Dutch."""
    relation = Relation(
        number=300,
        name="Bakkerij Jansen",
        billing_email="info@bakkerij-jansen.example",
        kind=RelationKind.client,
        language="nl",
    )
    session.add(relation)
    session.commit()
    return relation


def test_invitation_sets_a_password_once(
    app, world, session, smtp, fresh_relation, security_manager
):
    result = invite(app, "--relation", "300")
    assert result.exit_code == 0, result.output
    messages = smtp.to("info@bakkerij-jansen.example")
    assert len(messages) == 1
    assert "wachtwoord" in messages[0]["Subject"]  # the relation's language
    token = token_in(messages[0])
    client = client_of(app)
    landing = client.get("/invitation/")
    assert landing.headers["Referrer-Policy"] == "no-referrer"
    done = accept(client, token)
    assert done.status_code == 302 and done.headers["Location"].endswith("/renewals/")
    assert client.get("/renewals/").status_code == 200  # signed in, on the renewal page
    user = security_manager.find_user(username="info@bakkerij-jansen.example")
    assert [r.name for r in user.roles] == ["Client"]
    session.expire_all()
    assert session.get(RelationUser, user.id).relation_id == fresh_relation.id
    row = session.scalar(select(Invitation))
    assert row.accepted_at is not None and row.user_id == user.id
    # Used: the same link no longer works, in any browser.
    again = accept(client_of(app), token, "another-copper-meadow")
    assert again.status_code == 400
    assert "does not work" in again.get_data(as_text=True)


def test_a_reseller_invitation_gives_the_reseller_role(app, world, session, smtp, security_manager):
    session.execute(
        update(Relation).where(Relation.id == world.r1.id).values(billing_email="boss@r1.example")
    )
    session.commit()
    assert invite(app, "--relation", "100").exit_code == 0
    client = client_of(app)
    assert accept(client, token_in(smtp.to("boss@r1.example")[0])).status_code == 302
    user = security_manager.find_user(username="boss@r1.example")
    assert [r.name for r in user.roles] == ["Reseller"]


def test_reinviting_revokes_the_previous_invitation(app, world, session, smtp, fresh_relation):
    invite(app, "--relation", "300")
    invite(app, "--relation", "300")
    first, second = (token_in(m) for m in smtp.to("info@bakkerij-jansen.example"))
    assert accept(client_of(app), first).status_code == 400
    assert accept(client_of(app), second).status_code == 302
    rows = session.scalars(select(Invitation).order_by(Invitation.id)).all()
    assert rows[0].revoked_at is not None and rows[1].accepted_at is not None


def test_an_expired_invitation_is_refused(app, world, session, smtp, fresh_relation):
    invite(app, "--relation", "300")
    token = token_in(smtp.to("info@bakkerij-jansen.example")[0])
    session.execute(update(Invitation).values(expires_at=dt.datetime(2020, 1, 1)))
    session.commit()
    refused = accept(client_of(app), token)
    assert refused.status_code == 400


def test_a_new_billing_address_ends_the_invitation_to_the_old_one(
    app, world, session, smtp, fresh_relation
):
    """Whoever reads the old mailbox must not get a login for the relation: the invitation
    it received is refused once the address changes (however it changes)."""
    result = invite(app, "--relation", "300")
    assert result.exit_code == 0, result.output
    token = token_in(smtp.to("info@bakkerij-jansen.example")[-1])
    session.execute(
        update(Relation)
        .where(Relation.id == fresh_relation.id)
        .values(billing_email=" INFO@Bakkerij-Jansen.example")  # the same mailbox
    )
    session.commit()
    # (Sending let the relation's row go from the session: load it again.)
    session.get(Relation, fresh_relation.id).billing_email = "new-owner@example.com"
    session.commit()
    assert accept(client_of(app), token).status_code == 400
    assert session.scalar(select(func.count()).select_from(RelationUser)) == 3  # the world's


def test_an_unsent_invitation_never_goes_to_a_former_address(
    app, world, session, smtp, fresh_relation
):
    from renewal_reminder.renewals import invitations

    invitations.create_invitations(session, [fresh_relation.id], reinvite=False)
    session.get(Relation, fresh_relation.id).billing_email = "new-owner@example.com"
    session.commit()
    result = invite(app, "--all-relations", "--only-without-login")
    assert result.exit_code == 0, result.output
    assert smtp.to("info@bakkerij-jansen.example") == []
    # The bulk run invites the new address instead (the old invitation is no longer open).
    [message] = smtp.to("new-owner@example.com")
    assert accept(client_of(app), token_in(message)).status_code == 302


def test_an_abandoned_invitation_form_stops_working_after_15_minutes(
    app, world, session, smtp, fresh_relation, monkeypatch
):
    import time

    assert invite(app, "--relation", "300").exit_code == 0
    token = token_in(smtp.to("info@bakkerij-jansen.example")[-1])
    client = client_of(app)
    assert client.post("/invitation/", data={"token": token}).status_code == 302
    now = time.time()
    monkeypatch.setattr("renewal_reminder.views.account.time.time", lambda: now + 16 * 60)
    assert client.get("/invitation/accept").status_code == 400
    monkeypatch.undo()
    assert accept(client, token).status_code == 302  # the link still works, exchanged again


def test_a_tampered_invitation_is_refused(app, world, smtp, fresh_relation):
    invite(app, "--relation", "300")
    token = token_in(smtp.to("info@bakkerij-jansen.example")[0])
    assert accept(client_of(app), token.replace(".", "x", 1)).status_code == 400


@pytest.mark.parametrize("weak", ["Password2026", "1234512345", "a"])
def test_accepting_refuses_weak_passwords(app, world, session, smtp, fresh_relation, weak):
    invite(app, "--relation", "300")
    client = client_in(app, "nl")  # a Dutch browser: the page speaks the viewer's language
    refused = accept(client, token_in(smtp.to("info@bakkerij-jansen.example")[0]), weak)
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert "makkelijk te raden" in html or "10 tekens" in html
    session.expire_all()
    assert session.scalar(select(Invitation)).accepted_at is None  # still usable
    good = client.post("/invitation/accept", data={"password": PASSWORD, "again": PASSWORD})
    assert good.status_code == 302


def test_a_taken_address_lets_the_person_choose(app, world, session, smtp, security_manager):
    """The billing address is already a login's (another relation's): choose a name and an
    address for this one."""
    session.execute(
        update(Relation)
        .where(Relation.id == world.c2.id)
        .values(billing_email="client1@example.com")
    )
    session.commit()
    invite(app, "--relation", "200")
    client = client_of(app)
    token = token_in(smtp.to("client1@example.com")[-1])
    client.post("/invitation/", data={"token": token})
    page = client.get("/invitation/accept").get_data(as_text=True)
    assert "Another login already uses client1@example.com" in page
    done = client.post(
        "/invitation/accept",
        data={
            "username": "client-two",
            "email": "two@example.com",
            "password": PASSWORD,
            "again": PASSWORD,
        },
    )
    assert done.status_code == 302
    user = security_manager.find_user(username="client-two")
    assert user.email == "two@example.com"


def relations(session, count: int, start: int = 1000) -> None:
    session.add_all(
        Relation(number=start + i, name=f"Relation {i}", billing_email=f"r{i}@bulk.example")
        for i in range(count)
    )
    session.commit()


def bulk_emails(smtp) -> list[str]:
    return sorted(r for _, recipients in smtp.envelopes for r in recipients if "@bulk." in r)


def test_inviting_all_relations_is_exactly_once(app, world, session, smtp):
    relations(session, 30)
    first = invite(app, "--all-relations", "--only-without-login")
    assert first.exit_code == 0, first.output
    assert "sent 30" in first.output
    again = invite(app, "--all-relations", "--only-without-login")
    assert "0 created; sent 0" in again.output
    emails = bulk_emails(smtp)
    assert len(emails) == 30 and len(set(emails)) == 30
    # The relations with a login were left out.
    assert smtp.to("c1@example.com") == []


def test_a_crashed_run_is_resumed(app, world, session, smtp):
    """A run that died after claiming (rows left 'sending'), and one that failed some emails:
    the next run sends exactly what is missing."""
    relations(session, 10)
    from renewal_reminder.renewals import invitations

    ids = session.scalars(select(Relation.id).where(Relation.number >= 1000)).all()
    invitations.create_invitations(session, ids, reinvite=False)
    rows = session.scalars(select(Invitation.id).order_by(Invitation.id)).all()
    stale = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(hours=1)
    session.execute(
        update(Invitation)
        .where(Invitation.id.in_(rows[:3]))
        .values(status=InvitationStatus.sending, claimed_at=stale, claim_token="dead")
    )
    session.execute(
        update(Invitation).where(Invitation.id.in_(rows[3:5])).values(status=InvitationStatus.sent)
    )
    session.commit()
    smtp.refuse.add("r9@bulk.example")
    first = invite(app, "--all-relations")
    assert first.exit_code == 1  # one failed
    assert len(bulk_emails(smtp)) == 7  # 10 minus 2 already sent minus the refused one
    smtp.refuse.clear()
    second = invite(app, "--all-relations")
    assert second.exit_code == 0, second.output
    assert bulk_emails(smtp).count("r9@bulk.example") == 1
    assert len(bulk_emails(smtp)) == 8
    session.expire_all()
    statuses = session.scalars(select(Invitation.status)).all()
    assert statuses.count(InvitationStatus.sent) == len(statuses) == 13  # the world's 3 too


def test_concurrent_runs_send_each_invitation_once(app, app_config, world, session, smtp):
    relations(session, 60)

    def job(application):
        with application.app_context():
            runner = application.test_cli_runner()
            return runner.invoke(args=["users", "invite", "--all-relations"]).exit_code

    assert run_in_parallel(app_config, 3, job) == [0, 0, 0]
    emails = bulk_emails(smtp)
    assert len(emails) == 60 and len(set(emails)) == 60
    session.expire_all()
    per_relation = session.execute(
        select(Invitation.relation_id, func.count()).group_by(Invitation.relation_id)
    ).all()
    assert all(count == 1 for _, count in per_relation)


def test_a_long_run_keeps_its_claims_from_a_second_run(app, world, session, smtp, monkeypatch):
    """A run that has been sending for longer than ``STALE_CLAIM`` stamps each new claim with
    the time it is made, so a second run started then does not take those claims for
    abandoned ones and send them again."""
    from renewal_reminder import settings
    from renewal_reminder.renewals import invitations, mailer
    from renewal_reminder.session import current_mail

    relations(session, 3)
    ids = session.scalars(select(Relation.id).where(Relation.number >= 1000)).all()
    invitations.create_invitations(session, ids, reinvite=False)
    clock = [dt.datetime.now(dt.UTC).replace(tzinfo=None)]
    monkeypatch.setattr(invitations, "utcnow", lambda: clock[0])
    monkeypatch.setattr(invitations, "CHUNK_SIZE", 1)
    mail = mailer.MailSettings.from_config(settings.current())
    real_send = mailer.Outbox.send
    calls = []

    def slow_send(self, outgoing):
        calls.append(len(outgoing))
        if len(calls) == 1:
            clock[0] += invitations.STALE_CLAIM + dt.timedelta(minutes=1)  # a long first chunk
        elif len(calls) == 2:
            # The first run has just claimed its second chunk: a second run starts now.
            second = invitations.send_invitations(session, current_mail(), mail)
            assert second.sent == 1  # the third invitation, not yet claimed by the first run
        yield from real_send(self, outgoing)

    monkeypatch.setattr(mailer.Outbox, "send", slow_send)
    first = invitations.send_invitations(session, current_mail(), mail)
    emails = bulk_emails(smtp)
    assert emails == ["r0@bulk.example", "r1@bulk.example", "r2@bulk.example"], emails
    assert first.sent == 2


def test_admin_action_invites_the_selected_relations(app, world, session, smtp):
    client = client_of(app)
    login(client, world.admin.username)
    response = client.post(
        "/relations/action_post",
        data={"action": "invite_to_set_password", "rowid": [str(world.c2.id)]},
    )
    assert response.status_code == 302
    assert len(smtp.to("c2@example.com")) == 1
    row = session.scalar(select(Invitation))
    assert row.invited_by_id == world.admin.id


def test_sales_invites_only_their_own_relations(app, world, session, smtp):
    client = client_of(app)
    login(client, world.sales_a.username)
    mine = client.post(
        "/relations/action_post",
        data={"action": "invite_to_set_password", "rowid": [str(world.c1.id)]},
    )
    assert mine.status_code == 302 and len(smtp.to("c1@example.com")) == 1
    theirs = client.post(
        "/relations/action_post",
        data={"action": "invite_to_set_password", "rowid": [str(world.c2.id)]},
    )
    assert theirs.status_code == 404
    assert smtp.to("c2@example.com") == []


def test_customers_cannot_invite(app, world, smtp):
    client = client_of(app)
    login(client, world.reseller_login.username)
    client.post(
        "/relations/action_post",
        data={"action": "invite_to_set_password", "rowid": [str(world.c1.id)]},
    )
    assert smtp.to("c1@example.com") == []


def test_admin_links_an_existing_login_to_a_relation(
    app, world, session, make_user, security_manager
):
    loose = make_user("loose@example.com", "Client")
    client = client_of(app)
    login(client, loose.username)
    assert client.get("/renewals/").status_code == 403  # the clear page: no relation yet
    admin = client_of(app)
    login(admin, world.admin.username)
    added = admin.post(
        "/relationlogins/add", data={"user": str(loose.id), "relation": str(world.c2.id)}
    )
    assert added.status_code == 302
    session.expire_all()
    assert session.get(RelationUser, loose.id).relation_id == world.c2.id
    assert client.get("/renewals/").status_code == 200
    # A staff login cannot be linked.
    admin.post(
        "/relationlogins/add", data={"user": str(world.sales_b.id), "relation": str(world.c2.id)}
    )
    session.expire_all()
    assert session.get(RelationUser, world.sales_b.id) is None


def test_cli_needs_one_choice(app, world):
    assert invite(app).exit_code != 0
    assert invite(app, "--relation", "100", "--all-relations").exit_code != 0
    assert invite(app, "--relation", "100", "--only-without-login").exit_code != 0
    assert "no relation with number 999" in invite(app, "--relation", "999").output
    assert invite(app, "--relation", "100").exit_code == 0
    result = app.test_cli_runner().invoke(args=["renewals", "users", "invite", "--help"])
    assert "--all-relations" in result.output
