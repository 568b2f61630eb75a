"""Self-service passwords: "forgot password" with a single-use, one-hour reset link, and
"change my password", for a Client, a Reseller and a Sales login; the same answer for an
unknown address; the one password policy on both."""

from __future__ import annotations

import re
import time

import pytest

from renewal_reminder.models import UserSession
from tests.test_sessions import client_of, copy_cookie, login, signed_in

NEW_PASSWORD = "lantern-orchard-pebble"
RESET_LINK = re.compile(r"http://renewals\.test/account/reset-password#t=([A-Za-z0-9._-]+)")
ROLES = ["client1_login", "reseller_login", "sales_a"]


def reset_token(smtp, address: str) -> str:
    messages = smtp.to(address)
    assert messages, f"no email to {address}"
    text = messages[-1].get_body(("plain",)).get_content()
    match = RESET_LINK.search(text)
    assert match, text
    return match.group(1)


def finished(response):
    """What a WSGI server does once it has sent the response: close it, which runs the work
    left for after the response (``views.base.after_the_response``: the emails of forgot
    password and a fresh link). Flask's test client leaves that to the test."""
    response.get_data()
    response.close()
    return response


def ask_for_reset(client, address: str):
    return finished(client.post("/account/forgot-password", data={"email": address}))


def use_reset(client, token: str, password: str = NEW_PASSWORD, again: str | None = None):
    exchanged = client.post("/account/reset-password", data={"token": token})
    if exchanged.status_code != 302:
        return exchanged
    assert exchanged.headers["Location"].endswith("/account/new-password")
    return client.post(
        "/account/new-password", data={"password": password, "again": again or password}
    )


def can_log_in(app, username: str, password: str) -> bool:
    client = client_of(app)
    login(client, username, password)
    with client.session_transaction() as stored:
        return "_user_id" in stored


@pytest.mark.parametrize("who", ROLES)
def test_forgot_password_sets_a_new_one(app, world, smtp, who):
    user = getattr(world, who)
    client = client_of(app)
    assert "Forgot password?" in client.get("/login/").get_data(as_text=True)
    page = client.get("/account/forgot-password")
    assert page.status_code == 200
    answer = ask_for_reset(client, user.email)
    assert answer.status_code == 200
    token = reset_token(smtp, user.email)
    landing = client.get("/account/reset-password")
    assert landing.headers["Referrer-Policy"] == "no-referrer"
    done = use_reset(client, token)
    assert done.status_code == 302 and "/login/" in done.headers["Location"]
    assert can_log_in(app, user.username, NEW_PASSWORD)
    assert not can_log_in(app, user.username, "correct-horse-battery")


def test_reset_link_is_single_use(app, world, smtp):
    client = client_of(app)
    ask_for_reset(client, world.client1_login.email)
    token = reset_token(smtp, world.client1_login.email)
    assert use_reset(client, token).status_code == 302
    again = use_reset(client_of(app), token, "another-orchard-lantern")
    assert again.status_code == 400
    assert "does not work" in again.get_data(as_text=True)
    assert can_log_in(app, world.client1_login.username, NEW_PASSWORD)


def test_a_second_link_dies_with_the_first_use(app, world, smtp):
    """Two links asked for; using one changes the password, which kills the other."""
    client = client_of(app)
    ask_for_reset(client, world.client1_login.email)
    first = reset_token(smtp, world.client1_login.email)
    ask_for_reset(client, world.client1_login.email)
    second = reset_token(smtp, world.client1_login.email)
    assert use_reset(client, second).status_code == 302
    assert use_reset(client_of(app), first).status_code == 400


def test_reset_link_expires_after_an_hour(app, world, smtp, monkeypatch):
    client = client_of(app)
    ask_for_reset(client, world.client1_login.email)
    token = reset_token(smtp, world.client1_login.email)
    now = time.time()
    monkeypatch.setattr("itsdangerous.timed.time.time", lambda: now + 59 * 60)
    assert client.post("/account/reset-password", data={"token": token}).status_code == 302
    monkeypatch.setattr("itsdangerous.timed.time.time", lambda: now + 61 * 60)
    refused = client.post(
        "/account/new-password", data={"password": NEW_PASSWORD, "again": NEW_PASSWORD}
    )
    assert refused.status_code == 400
    assert client_of(app).post("/account/reset-password", data={"token": token}).status_code == 400
    assert not can_log_in(app, world.client1_login.username, NEW_PASSWORD)


def test_an_abandoned_reset_form_stops_working_after_15_minutes(app, world, smtp, monkeypatch):
    """The exchanged token waits in the session cookie for a quarter of an hour, not for the
    link's whole hour: a form left open on a shared computer does not stay usable."""
    client = client_of(app)
    ask_for_reset(client, world.client1_login.email)
    token = reset_token(smtp, world.client1_login.email)
    assert client.post("/account/reset-password", data={"token": token}).status_code == 302
    now = time.time()
    monkeypatch.setattr("renewal_reminder.views.account.time.time", lambda: now + 16 * 60)
    refused = client.post(
        "/account/new-password", data={"password": NEW_PASSWORD, "again": NEW_PASSWORD}
    )
    assert refused.status_code == 400
    assert not can_log_in(app, world.client1_login.username, NEW_PASSWORD)
    # The link itself still works (within its hour): exchanged again, it sets the password.
    assert use_reset(client, token).status_code == 302


def test_tampered_reset_link_is_refused(app, world, smtp):
    client = client_of(app)
    ask_for_reset(client, world.client1_login.email)
    token = reset_token(smtp, world.client1_login.email)
    assert use_reset(client, token[:-2] + ("AA" if token[-2:] != "AA" else "BB")).status_code == 400


def test_unknown_address_gets_the_same_answer(app, world, smtp):
    known = ask_for_reset(client_of(app), world.client1_login.email).get_data(as_text=True)
    unknown = ask_for_reset(client_of(app), "nobody@example.com").get_data(as_text=True)

    def message(html: str) -> str:
        found = re.search(r'id="rr-account-message">(.*?)</p>', html, re.S)
        return (
            found.group(1)
            .replace(world.client1_login.email, "X")
            .replace("nobody@example.com", "X")
        )

    assert message(known) == message(unknown)
    assert smtp.to("nobody@example.com") == []
    assert len(smtp.to(world.client1_login.email)) == 1


@pytest.mark.parametrize(
    "path,known",
    [
        ("/account/forgot-password", "client1@example.com"),
        ("/renewals/link/fresh", "c2@example.com"),
    ],
)
def test_the_email_goes_out_after_the_answer(app, world, smtp, monkeypatch, path, known):
    """The answer must not take longer for a known address than for an unknown one: the
    address is looked up and the email sent only once the response has been sent (closed)."""
    from renewal_reminder.renewals import mailer

    lookups = []
    real = mailer.send_all
    monkeypatch.setattr(mailer, "send_all", lambda *a, **k: lookups.append(1) or real(*a, **k))
    client = client_of(app)
    answers = []
    for address in (known, "nobody@example.com"):
        before = (len(smtp.messages), len(lookups))
        response = client.post(path, data={"email": address})
        assert response.status_code == 200
        html = response.get_data(as_text=True).replace(address, "X")
        # Less what differs per request anyway: the CSP nonce and the CSRF token.
        answers.append(re.sub(r'(nonce|value)="[A-Za-z0-9._\-]{16,}"', "", html))
        # Nothing yet: the answer comes first.
        assert (len(smtp.messages), len(lookups)) == before
        response.close()  # the server has sent it
    assert answers[0] == answers[1]
    assert len(smtp.to(known)) == 1 and lookups == [1]
    assert smtp.to("nobody@example.com") == []


@pytest.mark.app_config(MAIL_PORT=1, TESTING=False, PROPAGATE_EXCEPTIONS=False)
def test_a_mail_server_that_is_down_changes_nothing_in_the_answer(app, world):
    client = client_of(app)
    for path, address in [
        ("/account/forgot-password", "client1@example.com"),
        ("/account/forgot-password", "nobody@example.com"),
        ("/renewals/link/fresh", "c2@example.com"),
        ("/renewals/link/fresh", "nobody@example.com"),
    ]:
        assert finished(client.post(path, data={"email": address})).status_code == 200


def test_making_the_reset_email_leaves_the_transaction_to_the_caller(app, world, session):
    """Domain functions flush; entry points commit. Making the email commits nothing the
    caller had pending."""
    from renewal_reminder.renewals import mailer, password_resets

    world.c2.name = "Not committed"
    mail = mailer.MailSettings.from_config({"BASE_URL": "http://renewals.test"})
    sm = app.extensions["appbuilder"].sm
    outgoing = password_resets.reset_email(session, sm, mail, world.client1_login.email)
    assert outgoing is not None and outgoing.to == world.client1_login.email
    session.rollback()
    session.expire_all()
    assert world.c2.name == "Client Two"


def test_an_inactive_login_gets_no_reset_link(app, world, session, smtp):
    user = session.get(type(world.client1_login), world.client1_login.id)
    user.active = False
    session.commit()
    assert ask_for_reset(client_of(app), world.client1_login.email).status_code == 200
    assert smtp.to(world.client1_login.email) == []


@pytest.mark.parametrize("weak", ["Password2026", "1234512345", "a"])
def test_reset_refuses_weak_passwords(app, world, smtp, weak):
    client = client_of(app)
    ask_for_reset(client, world.client1_login.email)
    token = reset_token(smtp, world.client1_login.email)
    refused = use_reset(client, token, weak)
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert "too easy to guess" in html or "10 characters" in html
    # The link still works for a good password.
    assert (
        client.post(
            "/account/new-password", data={"password": NEW_PASSWORD, "again": NEW_PASSWORD}
        ).status_code
        == 302
    )


@pytest.mark.app_config(RATELIMIT_ENABLED=True, RENEWALS_ACCOUNT_RATE_LIMIT="3 per minute")
def test_forgot_password_is_rate_limited(app, world, smtp):
    client = client_of(app)
    answers = [ask_for_reset(client, f"x{i}@example.com").status_code for i in range(4)]
    assert answers == [200, 200, 200, 429]


@pytest.mark.fresh_app
@pytest.mark.app_config(
    RATELIMIT_ENABLED=True,
    TESTING=False,
    PROPAGATE_EXCEPTIONS=False,
    RENEWALS_ACCOUNT_RATE_LIMIT="2 per minute",
    RENEWALS_CONFIRMATION_RATE_LIMIT="2 per minute",
)
@pytest.mark.parametrize(
    "path", ["/account/password", "/account/forgot-password", "/renewals/link/fresh", "/confirm/"]
)
def test_a_signed_in_visitor_over_the_limit_gets_the_429_page(app, world, path):
    """The limiter refuses before FAB has set ``g.user``, which the page's navbar reads for a
    signed-in visitor: the 429 page, not a server error."""
    client = client_of(app)
    login(client, world.client1_login.username)
    form = {"current": "x", "password": "x", "again": "x", "email": "a@b.cd", "code": "x"}
    statuses = [client.post(path, data=form).status_code for _ in range(3)]
    assert statuses[-1] == 429, statuses
    page = client.post(path, data=form)
    assert page.status_code == 429
    html = page.get_data(as_text=True)
    assert "Too many attempts" in html and "rr-logout" in html  # the signed-in navbar


# --- change my password -------------------------------------------------------------------------


@pytest.mark.parametrize("who", ROLES)
def test_change_my_password(app, world, session, who):
    user = getattr(world, who)
    client = client_of(app)
    login(client, user.username)
    page = client.get("/renewals/").get_data(as_text=True) if who != "sales_a" else ""
    if page:
        assert 'id="rr-change-password"' in page  # in the user menu
    assert client.get("/account/password").status_code == 200
    copy = client_of(app)
    copy_cookie(client, copy)
    changed = client.post(
        "/account/password",
        data={"current": "correct-horse-battery", "password": NEW_PASSWORD, "again": NEW_PASSWORD},
    )
    assert changed.status_code == 302
    # This browser stays signed in; the copy of its old cookie does not.
    assert client.get("/account/password").status_code == 200
    assert client.get("/account/password").get_data(as_text=True).count(user.username)
    assert copy.get("/account/password").status_code == 302
    assert can_log_in(app, user.username, NEW_PASSWORD)
    session.expire_all()
    assert session.get(UserSession, user.id).version == 2


def test_copied_cookie_stops_working_after_a_password_change(app, world):
    own = client_of(app)
    login(own, world.client1_login.username)
    copy = client_of(app)
    copy_cookie(own, copy)
    assert signed_in(copy)
    own.post(
        "/account/password",
        data={"current": "correct-horse-battery", "password": NEW_PASSWORD, "again": NEW_PASSWORD},
    )
    assert signed_in(own)
    assert not signed_in(copy)


def test_change_needs_the_current_password(app, world):
    client = client_of(app)
    login(client, world.client1_login.username)
    refused = client.post(
        "/account/password",
        data={"current": "not-my-password-at-all", "password": NEW_PASSWORD, "again": NEW_PASSWORD},
    )
    assert refused.status_code == 422
    assert "current password is not right" in refused.get_data(as_text=True)
    assert can_log_in(app, world.client1_login.username, "correct-horse-battery")


@pytest.mark.parametrize("weak", ["Password2026", "1234512345", "a"])
def test_change_refuses_weak_passwords(app, world, weak):
    client = client_of(app)
    login(client, world.reseller_login.username)
    refused = client.post(
        "/account/password",
        data={"current": "correct-horse-battery", "password": weak, "again": weak},
    )
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert "too easy to guess" in html or "10 characters" in html


def test_change_password_asks_anonymous_to_sign_in(app):
    response = client_of(app).get("/account/password")
    assert response.status_code == 302 and "/login/" in response.headers["Location"]


def test_a_customer_login_without_a_relation_gets_a_clear_page(app, world, make_user):
    make_user("loose@example.com", "Client")
    client = client_of(app)
    login(client, "loose@example.com")
    response = client.get("/renewals/")
    assert response.status_code == 403
    assert "not linked to a relation" in response.get_data(as_text=True)


def test_a_non_ascii_address_is_found_as_typed(app, world, session, make_user):
    """SQLite's ``lower`` leaves non-ASCII letters alone: both sides of the comparison go
    through it, so an address typed exactly as stored is found."""
    from renewal_reminder.renewals import mailer, password_resets
    from renewal_reminder.renewals.accounts import create_login
    from renewal_reminder.renewals.validation import InvalidValue

    make_user("MÜLLER@example.com", "Sales")
    sm = app.extensions["appbuilder"].sm
    mail = mailer.MailSettings.from_config({"BASE_URL": "http://renewals.test"})
    assert password_resets.reset_email(session, sm, mail, "MÜLLER@example.com") is not None
    with pytest.raises(InvalidValue, match="already exists"):
        create_login(session, sm, email="MÜLLER@example.com", password=NEW_PASSWORD, role="Sales")
    session.rollback()
