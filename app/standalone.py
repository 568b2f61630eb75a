"""Renewal Reminder: the application factory of the standalone app.

The product itself is the FAB addon in ``renewal_reminder.addon``; this factory is just its
first host.
"""

from __future__ import annotations

import math
import os
import secrets
import sys
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

from flask import Flask
from flask_appbuilder import AppBuilder
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import event, inspect, text
from sqlalchemy.exc import DataError

from renewal_reminder import (
    console,
    demo_mail,
    page_language,
    standalone_errors,
    standalone_menu,
    web_security,
)
from renewal_reminder.cli import standalone_commands
from renewal_reminder.extensions import db, migrate
from renewal_reminder.i18n import gettext as rr_gettext
from renewal_reminder.roles import ensure_host_roles, ensure_roles
from renewal_reminder.setup import database_cli
from renewal_reminder.views.base import no_such_row
from renewal_reminder.views.fab_guard import check_fab_arguments


def project_dir() -> Path:
    """The standalone app's folder: where ``config.py``, ``migrations/`` and ``instance/`` are
    (the repository's root; the wheel does not carry them)."""
    import config

    return Path(config.__file__).resolve().parent


#: Placeholder keys seen in examples; production refuses them like a missing key.
#: Words that give a key away as an example or placeholder (FAB's own published default is
#: "\2\1thisismyscretkey\1\2\e\y\y\h").
_PLACEHOLDER_WORDS = (
    "secret",
    "scret",
    "change",
    "example",
    "password",
    "default",
    "placeholder",
    "insecure",
    "your",
    "development",
)
#: Keyboard rows: a key typed along one of them is no secret.
_KEYBOARD_ROWS = ("1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm")


class ConfigurationError(RuntimeError):
    """The configuration is unsafe or invalid; the app does not start."""


def create_app(config: type | Mapping | None = None) -> Flask:
    """Build the standalone app.

    ``config`` is a config class, or a mapping of overrides applied on top of ``config.Config``
    (tests pass a dict). Environment variables are read by ``config.Config`` itself.
    """
    import config as standalone_config

    # Its own template folder holds only its overrides of FAB's templates (a POST logout in
    # the navbar, "Forgot password?" on the login page); the addon's templates come with its
    # views, as in any host.
    app = Flask(
        __name__,
        instance_path=str(standalone_config.INSTANCE_DIR),
        template_folder="standalone_templates",
        static_folder="standalone_static",
        static_url_path="/static",
    )
    app.jinja_env.globals["rr_t"] = rr_gettext
    try:
        app.config.from_object("config.Config")
    except ValueError as exc:  # config.SettingError: a bad environment variable
        raise ConfigurationError(str(exc)) from None
    if isinstance(config, Mapping):
        app.config.update(config)
    elif config is not None:
        app.config.from_object(config)
    check_secret_key(app)
    # FAB's Dutch catalogue lacks a few of its own texts: the standalone adds them.
    app.config.setdefault(
        "BABEL_TRANSLATION_DIRECTORIES", str(Path(__file__).parent / "standalone_translations")
    )
    if not app.testing:
        # Beside `python run.py` (its demo's mail sink), a command delivers where it does.
        demo_mail.use_running_sink(app.config, app.instance_path, os.environ)
        demo_mail.use_demo_base_url(app.config, app.instance_path, os.environ)
    try:
        web_security.install_proxy_fix(app)
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from None
    web_security.install_security_headers(app)
    standalone_menu.install(app)
    page_language.install(app)
    console.install()
    web_security.warn_about_per_process_rate_limits(app)

    csrf = CSRFProtect(app)  # before AppBuilder, so FAB's JSON APIs get their CSRF exemption
    db.init_app(app)
    migrate.init_app(app, db, directory=str(project_dir() / "migrations"), render_as_batch=True)
    with app.app_context():
        _sqlite_pragmas_on(db.engine)
        first_start = False
        if not _schema_exists():
            # Before `flask db upgrade` has run there are no permission tables to write to.
            app.config["FAB_UPDATE_PERMS"] = False
        elif app.config.get("FAB_UPDATE_PERMS") and not _role_exists(app.config["AUTH_ROLE_ADMIN"]):
            # Just migrated: FAB would grant each permission to an Admin role that does not
            # exist yet (a traceback per view). Create the roles first, then the permissions.
            app.config["FAB_UPDATE_PERMS"] = False
            first_start = True
        appbuilder = AppBuilder()
        appbuilder.init_app(app, db.session)
        if first_start:
            ensure_host_roles(appbuilder.sm)
            ensure_roles(appbuilder.sm)
            appbuilder.add_permissions(update_perms=True)
            app.config["FAB_UPDATE_PERMS"] = True
        _limit_json_login(appbuilder)
        for view in appbuilder.baseviews:
            if getattr(view, "validates_csrf_in_form", False):
                csrf.exempt(view.blueprint)  # its form checks the token (views.base.AddonView)
        if app.config.get("RENEWALS_DEMO_MODE"):
            _add_demo_outbox(appbuilder)
    app.before_request(_no_json_login)
    # 400/404 where FAB's generic routes (its security screens too) would raise on odd URL
    # arguments; the addon checks its own blueprints itself.
    app.before_request(check_fab_arguments)
    app.register_error_handler(413, _too_large)
    standalone_errors.install(app)
    # Ids too large for the database on FAB's own screens: 404 (the addon's have their own).
    app.register_error_handler(OverflowError, no_such_row)
    app.register_error_handler(DataError, no_such_row)
    app.cli.add_command(database_cli(app.cli.commands["db"]))
    for command in standalone_commands():
        app.cli.add_command(command)
    return app


def _add_demo_outbox(appbuilder) -> None:
    """The Admin's page of the emails the demo sent (``demo_mail``); demo mode only."""
    from renewal_reminder.roles import MENU_CATEGORY, menu_name
    from renewal_reminder.views.demo_outbox import RenewalsDemoOutboxView

    appbuilder.add_view(
        RenewalsDemoOutboxView,
        menu_name("Demo outbox"),
        label="Demo outbox",
        icon="fa-inbox",
        category=MENU_CATEGORY,
    )


def _limit_json_login(appbuilder) -> None:
    """FAB limits only its login form; its JSON login API gets the same limit here."""
    sm = appbuilder.sm
    if sm.is_auth_limited:
        for view in appbuilder.baseviews:
            if isinstance(view, sm.security_api) and getattr(view, "blueprint", None):
                sm.limiter.limit(sm.auth_rate_limit, methods=["POST"])(view.blueprint)


def _sqlite_pragmas_on(engine) -> None:
    if engine.dialect.name == "sqlite" and not event.contains(engine, "connect", _sqlite_pragmas):
        event.listen(engine, "connect", _sqlite_pragmas)
        engine.dispose()  # pooled connections were opened without the pragmas


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    """Foreign keys on; wait for a writer instead of failing; write-ahead log with NORMAL
    sync, so the jobs' commit after every email costs no disk flush (a committed outcome
    survives a crash of the app; only a power cut may lose the last moment's commits)."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    if dbapi_connection.execute("PRAGMA database_list").fetchone()[2]:  # a file, not :memory:
        cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _too_large(error):
    """A page that says what was refused, instead of Werkzeug's bare 413 (MAX_CONTENT_LENGTH
    for a whole request, MAX_FORM_MEMORY_SIZE for one form field)."""
    from flask import current_app, render_template

    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    return (
        render_template(
            "rr/too_large.html",
            base_template=current_app.extensions["appbuilder"].base_template,
            appbuilder=current_app.extensions["appbuilder"],
            title="Too large",
            limit=_size(limit) if limit else None,
        ),
        413,
    )


def _size(count: int) -> str:
    for unit, size in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if count >= size:
            return f"{count / size:.3g} {unit}"
    return f"{count} bytes"


#: FAB always serves a JSON login (JWT) API; this app has no API clients, so it is closed
#: rather than left as a second, CSRF-exempt door (it is rate-limited like the form anyway).
_CLOSED_ENDPOINTS = {"SecurityApi.login", "SecurityApi.refresh"}


def _no_json_login():
    from flask import abort, request

    if request.endpoint in _CLOSED_ENDPOINTS:
        abort(404)


#: What a SECRET_KEY must have at least: 24 characters and, estimated from how often each
#: character occurs, 80 bits of entropy (``secrets.token_hex(16)`` has about 113).
MIN_SECRET_KEY_LENGTH = 24
MIN_SECRET_KEY_BITS = 80


def secret_key_entropy_bits(key: str) -> float:
    """A rough estimate of the key's entropy: its length times the Shannon entropy of its
    characters. ``0000000000000000`` scores 0, ``abababababababab`` 16, a random hex key of
    32 characters about 120."""
    if not key:
        return 0.0
    counts = Counter(key)
    per_char = -sum(n / len(key) * math.log2(n / len(key)) for n in counts.values())
    return per_char * len(key)


def is_strong_secret_key(key: str) -> bool:
    """Long, varied, no placeholder word, and not typed along the alphabet or a keyboard."""
    lowered = key.lower()
    return (
        len(key) >= MIN_SECRET_KEY_LENGTH
        and not any(word in lowered for word in _PLACEHOLDER_WORDS)
        and secret_key_entropy_bits(key) >= MIN_SECRET_KEY_BITS
        and _sequential_share(lowered) < 0.5
    )


def _sequential_share(key: str) -> float:
    """The share of neighbouring characters that follow each other in the alphabet, the
    digits or a keyboard row (``abcdef``, ``123456``, ``qwerty``)."""
    pairs = list(zip(key, key[1:], strict=False))
    if not pairs:
        return 1.0

    def follows(a: str, b: str) -> bool:
        if abs(ord(a) - ord(b)) == 1:
            return True
        return any(
            a in row and b in row and abs(row.index(a) - row.index(b)) == 1
            for row in _KEYBOARD_ROWS
        )

    return sum(follows(a, b) for a, b in pairs) / len(pairs)


#: The demo's key in the instance folder: ``python run.py`` (or an app in demo mode) creates it.
DEMO_SECRET_KEY_FILE = "secret_key"
_announced_key_files: set[Path] = set()


def demo_secret_key(instance_dir: Path | str, create: bool = True) -> str | None:
    """The demo's random key, kept in ``instance/secret_key`` so demo logins survive a restart
    and every process of the demo (``python run.py``, ``flask --app run ...``) signs and checks
    activation codes with the same key. Created (readable by its owner only) when missing and
    ``create``; otherwise ``None`` when there is none."""
    key_file = Path(instance_dir) / DEMO_SECRET_KEY_FILE
    if not key_file.exists():
        if not create:
            return None
        key_file.parent.mkdir(parents=True, exist_ok=True)
        # Written whole under another name, then linked into place: a process starting at the
        # same moment either creates the file or reads the complete key of the one that did.
        draft = key_file.with_name(f".{DEMO_SECRET_KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_hex(32))
        try:
            os.link(draft, key_file)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return key_file.read_text().strip()


def check_secret_key(app: Flask) -> None:
    """Refuse to run in production without a real SECRET_KEY (long and not guessable).

    Without one, the demo's key in the instance folder is used when it is there (where
    ``python run.py`` made a demo, so the README's ``flask --app run ...`` commands work
    without exporting anything), with a note on stderr. Demo mode creates that key when
    missing: activation codes must check in every process of the demo. Debug and testing
    without it get a random per-process key (sessions do not survive a restart).
    """
    key = app.config.get("SECRET_KEY") or ""
    if is_strong_secret_key(key):
        return
    demo_mode = bool(app.config.get("RENEWALS_DEMO_MODE"))
    instance_key = demo_secret_key(app.instance_path, create=demo_mode)
    if instance_key is not None and is_strong_secret_key(instance_key):
        app.config["SECRET_KEY"] = instance_key
        _announce_demo_key(Path(app.instance_path) / DEMO_SECRET_KEY_FILE, key)
        return
    if instance_key is not None and demo_mode:
        raise ConfigurationError(
            f"{Path(app.instance_path) / DEMO_SECRET_KEY_FILE} holds no usable key: delete it "
            "(a new one is made) or set the SECRET_KEY environment variable."
        )
    if app.debug or app.testing:
        app.config["SECRET_KEY"] = secrets.token_hex(32)
        return
    raise ConfigurationError(
        "SECRET_KEY is missing, a placeholder or too easy to guess. Set the SECRET_KEY "
        "environment variable to a long random value "
        "(e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`)."
    )


def _announce_demo_key(key_file: Path, configured: str) -> None:
    """Say once per process, on stderr, that the demo's key stands in for SECRET_KEY."""
    key_file = key_file.resolve()
    if key_file in _announced_key_files:
        return
    _announced_key_files.add(key_file)
    try:
        shown = key_file.relative_to(Path.cwd())
    except ValueError:
        shown = key_file
    reason = "is not set" if not configured else "is a placeholder or too easy to guess"
    print(f"Using the demo's secret key from {shown} (SECRET_KEY {reason})", file=sys.stderr)


def _schema_exists() -> bool:
    return inspect(db.engine).has_table("ab_permission_view")


def _role_exists(name: str) -> bool:
    with db.engine.connect() as connection:
        found = connection.execute(text("SELECT 1 FROM ab_role WHERE name = :name"), {"name": name})
        return found.first() is not None
