"""Renewal Reminder: the application factory of the standalone app.

The product itself is the FAB addon in ``app.addon``; this factory is just its first host.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from pathlib import Path

from flask import Flask
from flask_appbuilder import AppBuilder
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import inspect

from app.extensions import db, migrate

PROJECT_DIR = Path(__file__).resolve().parent.parent
MIGRATIONS_DIR = PROJECT_DIR / "migrations"

#: Placeholder keys seen in examples; production refuses them like a missing key.
_PLACEHOLDER_KEYS = {
    "",
    "secret",
    "changeme",
    "change-me",
    "dev",
    "development",
    "thisismyscretkey",
}


class ConfigurationError(RuntimeError):
    """The configuration is unsafe or invalid; the app does not start."""


def create_app(config: type | Mapping | None = None) -> Flask:
    """Build the standalone app.

    ``config`` is a config class, or a mapping of overrides applied on top of ``config.Config``
    (tests pass a dict). Environment variables are read by ``config.Config`` itself.
    """
    app = Flask(__name__, instance_path=str(PROJECT_DIR / "instance"))
    app.config.from_object("config.Config")
    if isinstance(config, Mapping):
        app.config.update(config)
    elif config is not None:
        app.config.from_object(config)
    check_secret_key(app)

    CSRFProtect(app)  # before AppBuilder, so FAB's JSON APIs get their CSRF exemption
    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR), render_as_batch=True)
    with app.app_context():
        if not _schema_exists():
            # Before `flask db upgrade` has run there are no permission tables to write to.
            app.config["FAB_UPDATE_PERMS"] = False
        AppBuilder().init_app(app, db.session)
    app.before_request(_no_json_login)
    return app


#: FAB always serves a JSON login (JWT) API; this app has no API clients, so it is closed
#: rather than left as a second, CSRF-exempt door (it is rate-limited like the form anyway).
_CLOSED_ENDPOINTS = {"SecurityApi.login", "SecurityApi.refresh"}


def _no_json_login():
    from flask import abort, request

    if request.endpoint in _CLOSED_ENDPOINTS:
        abort(404)


def check_secret_key(app: Flask) -> None:
    """Refuse to run in production without a real SECRET_KEY.

    Debug, testing and demo mode get a random per-process key instead (sessions do not
    survive a restart, which is fine there; run.py keeps a stable one under instance/).
    """
    key = app.config.get("SECRET_KEY") or ""
    if key.strip().lower() not in _PLACEHOLDER_KEYS and len(key) >= 16:
        return
    if app.debug or app.testing or app.config.get("DEMO_MODE"):
        app.config["SECRET_KEY"] = secrets.token_hex(32)
        return
    raise ConfigurationError(
        "SECRET_KEY is missing or a placeholder. Set the SECRET_KEY environment variable to a "
        "long random value (e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`)."
    )


def _schema_exists() -> bool:
    return inspect(db.engine).has_table("ab_permission_view")
