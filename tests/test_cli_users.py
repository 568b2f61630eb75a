"""`flask users create`: logins for relations and staff; bad input creates nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from renewal_reminder.models import RelationUser
from tests.conftest import PASSWORD


def count_users(session, security_manager) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(security_manager.user_model))


def run(app, *args):
    return app.test_cli_runner().invoke(args=["users", "create", *args])


def test_customer_login_gets_the_role_of_its_relation_kind(app, world, session, security_manager):
    result = run(
        app,
        "--email",
        "new-reseller@example.com",
        "--password",
        "a-good-password",
        "--relation",
        "100",
    )
    assert result.exit_code == 0, result.output
    assert "Reseller" in result.output
    user = security_manager.find_user(email="new-reseller@example.com")
    assert [role.name for role in user.roles] == ["Reseller"]
    link = session.get(RelationUser, user.id)
    assert link.relation_id == world.r1.id

    result = run(
        app,
        "--email",
        "new-client@example.com",
        "--password",
        "a-good-password",
        "--relation",
        "101",
    )
    assert result.exit_code == 0, result.output
    user = security_manager.find_user(email="new-client@example.com")
    assert [role.name for role in user.roles] == ["Client"]


@pytest.mark.parametrize("role", ["Sales", "Admin", "sales"])
def test_staff_login(app, world, security_manager, role):
    result = run(
        app, "--email", "staff@example.com", "--password", "a-good-password", "--role", role
    )
    assert result.exit_code == 0, result.output
    user = security_manager.find_user(email="staff@example.com")
    assert [r.name for r in user.roles] == [role.capitalize()]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--email", "x@example.com", "--password", "a-good-password", "--relation", "999"],
            "no relation with number 999",
        ),
        (
            ["--email", "x@example.com", "--password", "short", "--relation", "100"],
            "at least 10 characters",
        ),
        (
            ["--email", "x@example.com", "--password", "", "--relation", "100"],
            "password is required",
        ),
        (
            ["--email", "x@example.com", "--password", "aaaaaaaaaaaa", "--relation", "100"],
            "too easy",
        ),
        (
            ["--email", "sales-a@example.com", "--password", "a-good-password", "--role", "Sales"],
            "already exists",
        ),
        (
            ["--email", "SALES-A@example.com", "--password", "a-good-password", "--role", "Sales"],
            "already exists",
        ),
        (
            ["--email", "not-an-email", "--password", "a-good-password", "--role", "Sales"],
            "not a valid email",
        ),
        (
            ["--email", "x@example.com", "--password", "a-good-password"],
            "either a relation number or a staff role",
        ),
        (
            [
                "--email",
                "x@example.com",
                "--password",
                "a-good-password",
                "--role",
                "Sales",
                "--relation",
                "100",
            ],
            "either a relation number or a staff role",
        ),
        (
            ["--email", "x@example.com", "--password", "a-good-password", "--role", "Client"],
            "unknown staff role 'Client'",
        ),
    ],
)
def test_bad_input_gets_a_clear_error_and_creates_nothing(
    app, world, session, security_manager, args, message
):
    before = count_users(session, security_manager)
    result = run(app, *args)
    assert result.exit_code != 0
    assert message in result.output
    assert count_users(session, security_manager) == before


# --- FAB's own commands go past every form: the policy applies there too ----------------------

WEAK_PASSWORDS = ["a", "Password2026", "1234512345"]


def fab(app, *args):
    """``flask fab ...`` (FAB's group comes in by an entry point, which ``app.cli`` lacks)."""
    from flask_appbuilder.cli import fab as fab_group

    return app.test_cli_runner().invoke(fab_group, args=list(args))


@pytest.mark.parametrize("weak", WEAK_PASSWORDS)
def test_fab_reset_password_refuses_a_weak_password(app, world, session, weak):
    from tests.test_accounts import can_log_in

    username = world.client1_login.username
    result = fab(app, "reset-password", "--username", username, "--password", weak)
    assert result.exit_code != 0
    assert "password refused" in result.output and "reseted" not in result.output
    session.rollback()
    assert not can_log_in(app, username, weak)
    assert can_log_in(app, username, PASSWORD)


def test_fab_reset_password_takes_a_strong_one(app, world):
    from tests.test_accounts import can_log_in

    username = world.client1_login.username
    result = fab(app, "reset-password", "--username", username, "--password", "copper-lantern-81")
    assert result.exit_code == 0, result.output
    assert can_log_in(app, username, "copper-lantern-81")


@pytest.mark.parametrize("weak", WEAK_PASSWORDS)
@pytest.mark.parametrize("command", ["create-admin", "create-user"])
def test_fab_create_commands_refuse_a_weak_password(
    app, world, session, security_manager, command, weak
):
    before = count_users(session, security_manager)
    args = [command, "--username", "weakling", "--firstname", "W", "--lastname", "L"]
    args += ["--email", "weakling@example.com", "--password", weak]
    if command == "create-user":
        args += ["--role", "Sales"]
    result = fab(app, *args)
    assert result.exit_code != 0
    assert "password refused" in result.output
    assert count_users(session, security_manager) == before
    assert security_manager.find_user(username="weakling") is None


def test_fab_create_user_takes_a_strong_one(app, world, security_manager):
    result = fab(
        app,
        "create-user",
        *["--role", "Sales", "--username", "strong", "--firstname", "S", "--lastname", "L"],
        *["--email", "strong@example.com", "--password", "copper-lantern-81"],
    )
    assert result.exit_code == 0, result.output
    assert security_manager.find_user(username="strong") is not None


def test_add_user_outside_a_command_raises_the_policy_error(app, world, security_manager):
    from renewal_reminder.renewals.passwords import WeakPassword

    with pytest.raises(WeakPassword):
        security_manager.add_user("weak", "W", "L", "weak@example.com", [], password="Password2026")
    # No password (LDAP/OAuth sign-ups) is no weak password: FAB gives them a random one.
    assert security_manager.add_user("sso", "S", "O", "sso@example.com", [])
