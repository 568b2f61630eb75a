"""The database session of whichever FAB application hosts the addon."""

from flask import current_app
from sqlalchemy.orm import Session


def current_session() -> Session:
    """The host's scoped session (FAB's ``appbuilder.session``), for CLI commands and jobs."""
    return current_app.extensions["appbuilder"].session
