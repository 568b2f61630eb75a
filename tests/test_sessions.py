"""Sessions that end: a copy of the session cookie stops working after logout, a password
change, deactivation and unlinking; logout is a POST; one password policy on FAB's forms and
the CLI."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from renewal_reminder.models import RelationUser, UserSession
from tests.conftest import PASSWORD, client_of
from tests.conftest import login as _login

PAGE = "/renewals/"


def login(client, username: str, password: str = PASSWORD):
    return _login(client, username, password)


def copy_cookie(source, target) -> None:
    """What someone who copied the cookie has: the same session, in another client."""
    cookie = source.get_cookie("session")
    assert cookie is not None
    target.set_cookie("session", cookie.value, domain=cookie.domain)


def signed_in(client) -> bool:
    response = client.get(PAGE)
    return response.status_code == 200


@pytest.fixture
def two_clients(app, world):
    """A Client login's browser, and an attacker's with a copy of its cookie."""
    own, copy = client_of(app), client_of(app)
    login(own, world.client1_login.username)
    copy_cookie(own, copy)
    assert signed_in(own) and signed_in(copy)
    return own, copy


def test_copied_cookie_stops_working_after_logout(two_clients, world, session):
    own, copy = two_clients
    before = copy.get_cookie("session").value
    assert own.post("/logout/").status_code == 302
    assert not signed_in(own)
    assert not signed_in(copy)
    # Even the exact cookie value from before, in a third client.
    third = client_of(own.application)
    third.set_cookie("session", before, domain="localhost")
    assert not signed_in(third)
    session.expire_all()
    assert session.get(UserSession, world.client1_login.id).version == 2
    # Logging in again works, and gives a session of the new version.
    login(own, world.client1_login.username)
    assert signed_in(own)


def test_logout_is_a_post(app, world):
    client = client_of(app)
    login(client, world.client1_login.username)
    page = client.get("/logout/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'method="post"' in html and 'action="/logout/"' in html
    assert signed_in(client), "GET /logout/ must not sign out"
    # The navbar's logout is a POST form with a CSRF token.
    selection = client.get(PAGE).get_data(as_text=True)
    assert 'class="rr-logout-form"' in selection
    assert 'href="/logout/"' not in selection
    assert client.post("/logout/").status_code == 302
    assert not signed_in(client)


def test_copied_cookie_stops_working_after_a_password_reset_by_admin(
    two_clients, world, security_manager
):
    own, copy = two_clients
    security_manager.reset_password(world.client1_login.id, "a-brand-new-passphrase")
    assert not signed_in(copy)
    assert not signed_in(own)
    login(own, world.client1_login.username, "a-brand-new-passphrase")
    assert signed_in(own)


def test_copied_cookie_stops_working_after_deactivation(two_clients, world, session):
    own, copy = two_clients
    user = session.get(type(world.client1_login), world.client1_login.id)
    user.active = False
    session.commit()
    assert not signed_in(copy)
    assert not signed_in(own)


def test_other_changes_to_the_user_keep_the_session(two_clients, world, session):
    own, copy = two_clients
    user = session.get(type(world.client1_login), world.client1_login.id)
    user.first_name = "Renamed"
    session.commit()
    assert signed_in(copy) and signed_in(own)


def test_copied_cookie_stops_working_after_unlinking(two_clients, world, session):
    own, copy = two_clients
    link = session.get(RelationUser, world.client1_login.id)
    session.delete(link)
    session.commit()
    assert not signed_in(copy)


def test_unlinking_through_the_admin_screen_ends_the_session(app, two_clients, world):
    own, copy = two_clients
    admin = client_of(app)
    login(admin, world.admin.username)
    response = admin.post(f"/relationlogins/delete/{world.client1_login.id}")
    assert response.status_code == 302
    assert not signed_in(copy)


def test_a_session_without_a_version_is_signed_out(app, world):
    """Sessions from before the check (or forged without the stamp) end once."""
    client = client_of(app)
    login(client, world.client1_login.username)
    with client.session_transaction() as stored:
        del stored["rr_session"]
    assert not signed_in(client)


def test_a_reused_user_id_does_not_inherit_a_session(app, world, session, security_manager):
    """SQLite reuses the id of a deleted login: the old cookie is not the new login."""
    client = client_of(app)
    login(client, world.client2_login.username)
    user = security_manager.get_user_by_id(world.client2_login.id)
    user.password = "pbkdf2:sha256:1000$other$0123"  # as a new login with that id would have
    session.commit()
    assert not signed_in(client)


def test_version_bump_without_row_starts_at_two(app, world, session):
    from renewal_reminder.renewals import sessions

    with app.test_request_context():
        assert sessions.current_version(session, world.sales_a.id) == 1
        sessions.bump(session, world.sales_a.id)
        sessions.bump(session, world.sales_a.id)
        session.commit()
        assert sessions.current_version(session, world.sales_a.id) == 3
        sessions.bump(session, 999_999)  # no such login: nothing
        session.commit()
    assert session.scalar(select(UserSession).where(UserSession.user_id == 999_999)) is None


# --- one password policy ----------------------------------------------------------------------

WEAK = ["Password2026", "1234512345", "a"]


@pytest.mark.parametrize("weak", WEAK)
def test_policy_refuses_weak_passwords_with_a_reason(weak):
    from renewal_reminder.renewals.passwords import WeakPassword, check_password

    with pytest.raises(WeakPassword) as refused:
        check_password(weak)
    message = str(refused.value)
    assert "10 characters" in message or "too easy to guess" in message
    assert len(message) > 30


def test_policy_counts_the_persons_own_details_as_easy():
    from renewal_reminder.renewals.passwords import WeakPassword, check_password

    check_password("jansen-tulip-garden")
    with pytest.raises(WeakPassword):
        check_password("jan.jansen@firma.nl", ["jan.jansen@firma.nl", "Jan", "Jansen"])


def test_policy_speaks_dutch(app):
    from renewal_reminder.i18n import in_language
    from renewal_reminder.renewals.passwords import WeakPassword, check_password

    with app.test_request_context(), in_language("nl"), pytest.raises(WeakPassword) as refused:
        check_password("Password2026")
    assert "makkelijk te raden" in str(refused.value)


@pytest.mark.parametrize("weak", WEAK)
def test_cli_refuses_weak_passwords(app, world, weak):
    result = app.test_cli_runner().invoke(
        args=[
            "users",
            "create",
            "--email",
            "new@example.com",
            "--password",
            weak,
            "--role",
            "sales",
        ]
    )
    assert result.exit_code != 0
    assert "10 characters" in result.output or "too easy to guess" in result.output


@pytest.mark.parametrize("weak", WEAK)
def test_fab_user_add_form_refuses_weak_passwords(app, world, session, security_manager, weak):
    client = client_of(app)
    login(client, world.admin.username)
    role = security_manager.find_role("Sales")
    form = {
        "first_name": "New",
        "last_name": "Person",
        "username": "new-person",
        "active": "y",
        "email": "new-person@example.com",
        "roles": str(role.id),
        "password": weak,
        "conf_password": weak,
    }
    response = client.post("/users/add", data=form)
    assert response.status_code == 200  # the form again, with the error
    html = response.get_data(as_text=True)
    assert "too easy to guess" in html or "10 characters" in html
    assert security_manager.find_user(username="new-person") is None
    form.update(password="a-good-long-passphrase", conf_password="a-good-long-passphrase")
    assert client.post("/users/add", data=form).status_code == 302
    assert security_manager.find_user(username="new-person") is not None


def test_fab_reset_password_form_refuses_weak_passwords(app, world, security_manager):
    client = client_of(app)
    login(client, world.admin.username)
    url = f"/users/action/resetpasswords/{world.client1_login.id}"
    form_url = client.post(url).headers.get("Location", "")
    assert "resetpassword" in form_url
    response = client.post(
        form_url, data={"password": "Password2026", "conf_password": "Password2026"}
    )
    assert "too easy to guess" in response.get_data(as_text=True)
    login(client_of(app), world.client1_login.username, PASSWORD)
