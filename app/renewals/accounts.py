"""Logins: creating FAB users for staff and for relations."""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from renewal_reminder.models import Relation, RelationKind, RelationUser
from renewal_reminder.renewals.access import current_roles
from renewal_reminder.renewals.passwords import check_password
from renewal_reminder.renewals.validation import InvalidValue, normalize_email


def staff_role_name(role: str) -> str:
    """The host's name of a staff role given as ``sales`` or ``admin`` (or by that name)."""
    roles = current_roles()
    by_kind = {"sales": roles.sales, "admin": roles.admin}
    by_kind.update({name.lower(): name for name in roles.staff})
    role_name = by_kind.get(role.strip().lower())
    if role_name is None:
        raise InvalidValue(f"unknown staff role {role!r}: choose Sales or Admin")
    return role_name


def customer_role_for(relation: Relation) -> str:
    roles = current_roles()
    return roles.reseller if relation.kind is RelationKind.reseller else roles.client


def create_login(
    session: Session,
    security_manager,
    *,
    email: str,
    password: str,
    relation_number: int | None = None,
    role: str | None = None,
    first_name: str = "",
    last_name: str = "",
):
    """Create a login and return the FAB user, or raise ``InvalidValue`` having created nothing.

    Flushes; the caller commits (one command may create several logins in one transaction).

    Exactly one of ``relation_number`` (a customer login: Reseller or Client by the relation's
    kind, linked to it) and ``role`` (a staff login: Sales or Admin) must be given. The email is
    also the login name.
    """
    if (relation_number is None) == (role is None):
        raise InvalidValue("give either a relation number or a staff role (Sales or Admin)")
    email = normalize_email(email)
    check_password(password, [email, first_name, last_name])
    if login_taken(session, security_manager, username=email, email=email):
        raise InvalidValue(f"a login with the email {email} already exists")

    relation = None
    if relation_number is not None:
        relation = session.scalar(select(Relation).where(Relation.number == relation_number))
        if relation is None:
            raise InvalidValue(f"there is no relation with number {relation_number}")
        role_name = customer_role_for(relation)
    else:
        role_name = staff_role_name(role)
    role_row = security_manager.find_role(role_name)
    if role_row is None:
        raise InvalidValue(
            f"the role {role_name} does not exist yet: run `flask renewals db upgrade`"
        )

    user = security_manager.add_user(
        username=email,
        first_name=first_name or (relation.name if relation else email.split("@")[0]),
        last_name=last_name or (f"#{relation.number}" if relation else role_name),
        email=email,
        role=role_row,
        password=password,
        commit=False,
    )
    if not user:
        raise InvalidValue("the login could not be created (see the log for the database error)")
    if relation is not None:
        session.add(RelationUser(user_id=user.id, relation_id=relation.id))
    session.flush()
    return user


def login_taken(
    session: Session, security_manager, *, username: str | None = None, email: str | None = None
) -> bool:
    """Whether a login already has this login name, or this email address (FAB keeps both
    unique; compared without case, as people type them).

    Both sides go through the database's ``lower``: SQLite's lowers ASCII letters only, and
    Python's ``str.lower`` on one side would miss ``MÜLLER@…`` typed exactly as stored."""
    users = security_manager.user_model
    conditions = []
    if username:
        conditions.append(func.lower(users.username) == func.lower(username.strip()))
    if email:
        conditions.append(func.lower(users.email) == func.lower(email.strip()))
    if not conditions:
        return False
    return bool(session.scalar(select(func.count()).select_from(users).where(or_(*conditions))))


def add_customer_login(
    session: Session,
    security_manager,
    relation: Relation,
    *,
    username: str,
    email: str,
    password: str,
):
    """A login for ``relation`` (Reseller or Client by its kind) with the given name, email
    address and password (the policy applies), linked to it. Raises ``InvalidValue`` having
    created nothing; flushes, the caller commits."""
    username = username.strip()
    if not username or len(username) > 128:
        raise InvalidValue("a login name of 1 to 128 characters is required")
    email = normalize_email(email)
    check_password(password, [username, email, relation.name])
    if login_taken(session, security_manager, username=username):
        raise InvalidValue(f"the login name {username} is taken")
    if login_taken(session, security_manager, email=email):
        raise InvalidValue(f"a login with the email {email} already exists")
    role_name = customer_role_for(relation)
    role_row = security_manager.find_role(role_name)
    if role_row is None:
        raise InvalidValue(
            f"the role {role_name} does not exist yet: run `flask renewals db upgrade`"
        )
    user = security_manager.add_user(
        username=username,
        first_name=relation.name[:64],
        last_name=f"#{relation.number}",
        email=email,
        role=role_row,
        password=password,
        commit=False,
    )
    if not user:
        raise InvalidValue("the login could not be created (see the log for the database error)")
    session.add(RelationUser(user_id=user.id, relation_id=relation.id))
    session.flush()
    return user


def set_password(session: Session, user, password: str) -> None:
    """Give ``user`` a new password (the policy applies; ``InvalidValue`` if refused), hashed
    as FAB hashes it. Flushes, the caller commits; the change ends the login's other sessions
    (``renewals.sessions``: the user model's update event)."""
    from flask import current_app
    from werkzeug.security import generate_password_hash

    check_password(password, [user.username, user.email, user.first_name, user.last_name])
    user.password = generate_password_hash(
        password=password,
        method=current_app.config.get("FAB_PASSWORD_HASH_METHOD", "scrypt"),
        salt_length=current_app.config.get("FAB_PASSWORD_HASH_SALT_LENGTH", 16),
    )
    session.flush()


def forget_user(connection, user_id: int) -> None:
    """What the foreign keys to ``ab_user`` say happens when a login is deleted, done by hand
    for databases that do not enforce them (SQLite without ``PRAGMA foreign_keys``, FAB's
    default): the link to a relation and the sales digest log go; the sales contact and who
    decided, processed or sent what are forgotten. Without this a new login that gets the old
    id (SQLite reuses ids) would act for the deleted one's relation."""
    from sqlalchemy import delete, update

    from renewal_reminder.models import (
        ConfirmationRequest,
        Invitation,
        RenewalDecision,
        SalesDigestLog,
        UserSession,
    )

    connection.execute(delete(RelationUser).where(RelationUser.user_id == user_id))
    connection.execute(delete(UserSession).where(UserSession.user_id == user_id))
    for column in (Invitation.invited_by_id, Invitation.user_id):
        connection.execute(update(Invitation).where(column == user_id).values({column: None}))
    connection.execute(delete(SalesDigestLog).where(SalesDigestLog.user_id == user_id))
    connection.execute(
        update(Relation).where(Relation.sales_contact_id == user_id).values(sales_contact_id=None)
    )
    for column in (RenewalDecision.decided_by_id, RenewalDecision.processed_by_id):
        connection.execute(update(RenewalDecision).where(column == user_id).values({column: None}))
    connection.execute(
        update(ConfirmationRequest)
        .where(ConfirmationRequest.sent_by_id == user_id)
        .values(sent_by_id=None)
    )
