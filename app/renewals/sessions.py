"""Sessions that end: logging out, a password change or reset, deactivating a login, or
unlinking it from its relation ends every session of that login, copies of the cookie
included.

The choice: **server-side versions, not server-side sessions.** Flask's session is a signed
cookie; a copy of it stays valid until it expires (31 days), whatever the server does,
because nothing on the server remembers it. Server-side sessions (Flask-Session with a store)
would fix that by keeping every session on the server, but they replace the host's session
interface: an addon must not change how its host keeps sessions (a host such as Superset or
Airflow configures its own), and they need a shared store in production. Instead each login
has a version (``UserSession``, a row per login; no row is version 1). At login the session
stores ``{"u": user id, "v": version, "p": fingerprint of the password hash}``; every request
of a signed-in session compares it with the login's current version and password hash, and a
session that is older is signed out (``flask_login.logout_user`` and the session cleared).
Raising the version (``bump``) thus ends every session of that login at once, and costs one
indexed read per signed-in request. The password fingerprint also ends sessions when a
password changes outside the product's code, and a session whose login id was deleted and
reused by a new login (SQLite reuses ids).

Where the check runs: the addon registers it on its own blueprint with
``before_app_request``, the one hook of the product that runs on the host's requests too:
a session check that covered only the product's pages would let a copied cookie keep using
the host's. It changes nothing else: a session without a signed-in login is not looked at.
A session from before the check existed (no version in it) is signed out once.

What raises the version:

- logout (flask_login's ``user_logged_out`` signal, whoever's logout view sends it);
- a password change or reset, and deactivation (``active`` set to false): a mapper event on
  the host's user model, so FAB's Admin screens, ``flask fab reset-password``, the product's
  own pages and any code of the host are all covered, in the transaction of the change;
- unlinking a login from its relation, or moving it to another (``RelationUser`` deleted or
  changed through the ORM).

A page that changes the password of the person using it keeps that person signed in
(``stamp`` again after the commit): only the other sessions end.
"""

from __future__ import annotations

import hashlib
import hmac
import logging

from flask import Blueprint, current_app, g, session
from flask_login import current_user, logout_user, user_logged_in, user_logged_out
from sqlalchemy import Connection, event, insert, inspect, select, update
from sqlalchemy.orm import Session

from renewal_reminder.models import RelationUser, UserSession
from renewal_reminder.models.base import USER_TABLE

log = logging.getLogger(__name__)

#: The session's key for the stamp.
SESSION_KEY = "rr_session"

#: The blueprint that carries the check (``before_app_request``): registered by the addon.
blueprint = Blueprint("RenewalsSessionCheck", __name__)


def current_version(db: Session | Connection, user_id: int) -> int:
    """The login's session version (1 until first raised)."""
    table = UserSession.__table__
    version = db.execute(select(table.c.version).where(table.c.user_id == user_id)).scalar()
    return version or 1


def bump(db: Session | Connection, user_id: int | None) -> None:
    """Raise the login's session version: every session it has ends at its next request.

    Runs in the caller's transaction (the caller commits). Does nothing for a login that does
    not exist (any more)."""
    if user_id is None:
        return
    table = UserSession.__table__
    raised = db.execute(
        update(table).where(table.c.user_id == user_id).values(version=table.c.version + 1)
    )
    if raised.rowcount:
        return
    if db.execute(select(USER_TABLE.c.id).where(USER_TABLE.c.id == user_id)).first() is None:
        return
    db.execute(_insert_or_raise(db, table, user_id))


def _insert_or_raise(db: Session | Connection, table, user_id: int):
    """INSERT version 2, or raise the existing row's version if a concurrent bump inserted
    it first (PostgreSQL and SQLite; elsewhere a plain INSERT)."""
    dialect = db.dialect if isinstance(db, Connection) else db.get_bind().dialect
    if dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    elif dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    else:
        return insert(table).values(user_id=user_id, version=2)
    return (
        dialect_insert(table)
        .values(user_id=user_id, version=2)
        .on_conflict_do_update(index_elements=["user_id"], set_={"version": table.c.version + 1})
    )


def password_fingerprint(password_hash: str | None) -> str:
    """A short keyed digest of a login's password hash: it changes whenever the password does,
    and tells nothing about the hash (used by sessions and password-reset links)."""
    key = str(current_app.config["SECRET_KEY"]).encode()
    digest = hmac.new(key, (password_hash or "").encode(), hashlib.sha256).hexdigest()
    return digest[:16]


def stamp(user) -> None:
    """Record in the current session which login it is and that login's current version."""
    db = current_app.extensions["appbuilder"].session
    session[SESSION_KEY] = {
        "u": user.id,
        "v": current_version(db, user.id),
        "p": password_fingerprint(getattr(user, "password", None)),
    }


def is_current(stored, user) -> bool:
    """Whether a session's stamp still holds for ``user``."""
    if not isinstance(stored, dict) or stored.get("u") != user.id:
        return False
    db = current_app.extensions["appbuilder"].session
    version = stored.get("v")
    if not isinstance(version, int) or version < current_version(db, user.id):
        return False
    return stored.get("p") == password_fingerprint(getattr(user, "password", None))


@blueprint.before_app_request
def check_session() -> None:
    """Sign out a session whose login's version has moved on (see the module docstring)."""
    if "_user_id" not in session:
        return  # not signed in with a session cookie: nothing to check
    if not current_user.is_authenticated:
        return
    if is_current(session.get(SESSION_KEY), current_user):
        return
    g.rr_session_ended = True  # the logout signal must not raise the version again
    logout_user()
    session.clear()


def _installed(app) -> bool:
    return blueprint.name in getattr(app, "blueprints", {})


def _on_login(app, user, **_extra) -> None:
    if _installed(app):
        stamp(user)


def _on_logout(app, user, **_extra) -> None:
    """Logout ends every session of the login (copies of the cookie too)."""
    if (
        not _installed(app)
        or g.get("rr_session_ended")
        or user is None
        or not getattr(user, "is_authenticated", False)
    ):
        return
    user_id = getattr(user, "id", None)
    if user_id is None:
        return
    # Its own transaction: the host's session may hold work of the host's that is not ours
    # to commit.
    engine = app.extensions["appbuilder"].session.get_bind()
    with engine.begin() as connection:
        bump(connection, user_id)


def install(app, user_model) -> None:
    """Connect the session versions to ``app`` and the host's user model (the addon calls
    this once per app)."""
    if blueprint.name not in app.blueprints:
        app.register_blueprint(blueprint)
    # Connected for every sender once (a process may serve several apps, e.g. in tests);
    # the receivers act only for apps the addon is installed in.
    user_logged_in.connect(_on_login, weak=False)
    user_logged_out.connect(_on_logout, weak=False)
    if not event.contains(user_model, "before_update", _user_changed):
        event.listen(user_model, "before_update", _user_changed, propagate=True)
    if not event.contains(RelationUser, "after_delete", _link_removed):
        event.listen(RelationUser, "after_delete", _link_removed)
        event.listen(RelationUser, "after_update", _link_changed)


def _user_changed(_mapper, connection, user) -> None:
    """A changed password, or a login deactivated: its sessions end (in the same flush)."""
    state = inspect(user)
    password = state.attrs.password.history if "password" in state.attrs else None
    active = state.attrs.active.history if "active" in state.attrs else None
    if (password is not None and password.has_changes()) or (
        active is not None and active.has_changes() and not user.active
    ):
        bump(connection, user.id)


def _link_removed(_mapper, connection, link) -> None:
    bump(connection, link.user_id)


def _link_changed(_mapper, connection, link) -> None:
    state = inspect(link)
    if state.attrs.relation_id.history.has_changes() or state.attrs.user_id.history.has_changes():
        for user_id in {*state.attrs.user_id.history.deleted, link.user_id}:
            bump(connection, user_id)
