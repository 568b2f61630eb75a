"""What CLI commands, jobs and views take from the hosting app: its session, and the addon's
own state (registrar backend, mail settings, role names), kept under one extension key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask import current_app
from sqlalchemy.orm import Session

from renewal_reminder.renewals.access import RoleNames
from renewal_reminder.renewals.registrars import RegistrarBackend

if TYPE_CHECKING:
    from flask_mail import _Mail

#: ``app.extensions[EXTENSION]``: the addon's state in a host app.
EXTENSION = "renewal_reminder"


@dataclass
class AddonState:
    """Built once at start-up from the host's config (``renewal_reminder.settings``)."""

    registrar: RegistrarBackend
    #: Flask-Mail's settings object for the product's emails (its own: the addon does not
    #: register Flask-Mail on the host, whose ``MAIL_*`` settings it reads).
    mail: _Mail
    roles: RoleNames


def current_state() -> AddonState:
    return current_app.extensions[EXTENSION]


def current_session() -> Session:
    """The host's scoped session (FAB's ``appbuilder.session``), for CLI commands and jobs."""
    return current_app.extensions["appbuilder"].session


def current_registrar() -> RegistrarBackend:
    """The registrar backend chosen by ``REGISTRAR_BACKEND`` (built once, at start-up)."""
    return current_state().registrar


def current_mail() -> _Mail:
    """Flask-Mail's settings (server, port, TLS, suppression) for the product's emails."""
    return current_state().mail
