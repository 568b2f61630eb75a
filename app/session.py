"""What CLI commands, jobs and views take from the hosting app: its session and registrar."""

from flask import current_app
from sqlalchemy.orm import Session

from renewal_reminder.renewals.registrars import RegistrarBackend

REGISTRAR_EXTENSION = "rr_registrar"


def current_session() -> Session:
    """The host's scoped session (FAB's ``appbuilder.session``), for CLI commands and jobs."""
    return current_app.extensions["appbuilder"].session


def current_registrar() -> RegistrarBackend:
    """The registrar backend chosen by ``REGISTRAR_BACKEND`` (built once, at start-up)."""
    return current_app.extensions[REGISTRAR_EXTENSION]
