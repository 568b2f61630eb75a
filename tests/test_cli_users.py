"""`flask users create`: logins for relations and staff; bad input creates nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from renewal_reminder.models import RelationUser


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
