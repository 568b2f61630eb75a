"""Configuration of the standalone Renewal Reminder application.

Every setting can be overridden by an environment variable of the same name; nothing else
configures the app. The product's own settings are the addon's ``RENEWALS_*`` keys (a host
application that enables the addon sets those in its own config); here each is read from the
environment variable the README documents (``BASE_URL`` sets ``RENEWALS_BASE_URL``, ...).
"""

import os
from pathlib import Path

from renewal_reminder.renewals.passwords import fab_password_validator

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = Path(os.environ.get("INSTANCE_PATH", BASE_DIR / "instance"))


class SettingError(ValueError):
    """An environment variable holds a value the setting cannot take."""


def env_int(name: str, default: int) -> int:
    """A whole-number setting from the environment, with a clear error for anything else."""
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise SettingError(f"{name} must be a whole number, not {value!r}") from None


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


class Config:
    # --- Flask and the database -------------------------------------------------------------
    # No default: outside debug/demo mode the app refuses to start without a real key
    # (see app.check_secret_key).
    SECRET_KEY = os.environ.get("SECRET_KEY")
    SQLALCHEMY_DATABASE_URI = os.environ.get(
        "DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'renewal_reminder.db'}"
    )
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    # The largest request body (an upload or a form) in bytes; larger ones get a 413 page.
    # 16 MiB holds a portfolio CSV of well over 100,000 domains; import larger ones with the CLI.
    MAX_CONTENT_LENGTH = env_int("MAX_CONTENT_LENGTH", 16 * 1024 * 1024)
    # Demo mode (python run.py) may run with a generated key and loads demo data.
    RENEWALS_DEMO_MODE = env_bool("DEMO_MODE", False)

    # --- Flask-AppBuilder ----------------------------------------------------------------------
    APP_NAME = "Renewal Reminder"
    APP_THEME = ""
    ADDON_MANAGERS = ["renewal_reminder.addon.RenewalReminderManager"]
    # The schema comes from Alembic migrations (flask db upgrade), not from create_all.
    FAB_CREATE_DB = False
    # Permission rows are written at start-up by default; with several workers set it to 0 and
    # run `flask fab create-permissions` once per deploy instead.
    FAB_UPDATE_PERMS = env_bool("FAB_UPDATE_PERMS", True)
    FAB_ADD_SECURITY_API = False
    # "/" sends a signed-in user to their home page and shows visitors the ways in.
    FAB_INDEX_VIEW = "renewal_reminder.views.home.RenewalsIndexView"
    AUTH_TYPE = 1  # AUTH_DB
    AUTH_ROLE_ADMIN = "Admin"
    AUTH_ROLE_PUBLIC = "Public"
    AUTH_USER_REGISTRATION = False
    # Logout is a POST (GET /logout/ asks first): the security manager's login view.
    FAB_SECURITY_MANAGER_CLASS = (
        "renewal_reminder.standalone_security.RenewalReminderSecurityManager"
    )
    # The product's password policy (zxcvbn) on FAB's own user add and reset-password forms.
    FAB_PASSWORD_COMPLEXITY_ENABLED = True
    FAB_PASSWORD_COMPLEXITY_VALIDATOR = staticmethod(fab_password_validator)
    LANGUAGES = {
        "en": {"flag": "gb", "name": "English"},
        "nl": {"flag": "nl", "name": "Nederlands"},
    }
    BABEL_DEFAULT_LOCALE = "en"

    # --- Security: CSRF and rate limits (FAB leaves both off) ----------------------------------
    WTF_CSRF_ENABLED = True
    RATELIMIT_ENABLED = env_bool("RATELIMIT_ENABLED", True)
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    AUTH_RATE_LIMITED = True
    AUTH_RATE_LIMIT = os.environ.get("AUTH_RATE_LIMIT", "10 per 20 second")
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", False)
    # How many reverse proxies stand in front of the app (0: none). Only then are the client's
    # address and scheme taken from X-Forwarded-For/-Proto (rate limits, recorded addresses).
    TRUSTED_PROXIES = env_int("TRUSTED_PROXIES", 0)

    # --- Mail ----------------------------------------------------------------------------------
    MAIL_SERVER = os.environ.get("MAIL_SERVER", "localhost")
    MAIL_PORT = env_int("MAIL_PORT", 25)
    MAIL_USE_TLS = env_bool("MAIL_USE_TLS", False)
    MAIL_USE_SSL = env_bool("MAIL_USE_SSL", False)
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME")
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD")
    # Unset: "Renewal Reminder <renewals@HOST>" with the host of BASE_URL (settings.read).
    MAIL_DEFAULT_SENDER = os.environ.get("MAIL_DEFAULT_SENDER") or None

    # --- Product (the addon's RENEWALS_* settings) ---------------------------------------------
    # The product's pages at the root, as they have always been here (hosts get a prefix).
    RENEWALS_URL_PREFIX = ""
    # The address in emails' links; unset, the local app on PORT (python run.py's port).
    RENEWALS_BASE_URL = os.environ.get("BASE_URL") or f"http://127.0.0.1:{env_int('PORT', 5000)}"
    # Reminder calendar: offsets before expiry (m = calendar months, d = days; +Nd = after it).
    RENEWALS_REMINDER_OFFSETS = os.environ.get("REMINDER_OFFSETS", "3m,2m,1m,15d,5d,4d,3d,2d,1d,0d")
    # A missed reminder is still sent if at most this many days late (0: only on the day).
    RENEWALS_REMINDER_CATCHUP_DAYS = os.environ.get("REMINDER_CATCHUP_DAYS", "7")
    RENEWALS_REMINDER_INTERVAL_HOURS = os.environ.get("REMINDER_INTERVAL_HOURS", "24")
    # Optional archive copy of every customer email (comma-separated addresses).
    RENEWALS_REMINDER_BCC = os.environ.get("REMINDER_BCC", "")
    # Sales notifications of relations without an active sales contact (comma-separated
    # addresses); empty: the Admins' email addresses.
    RENEWALS_SALES_FALLBACK_EMAIL = os.environ.get("SALES_FALLBACK_EMAIL", "")
    # The renewal selection page lists domains expiring within this many days.
    RENEWALS_RENEWAL_WINDOW_DAYS = env_int("RENEWAL_WINDOW_DAYS", 92)
    # Renewal confirmation requests: how long an emailed activation code works, and how often
    # one client address may try codes on the public page.
    RENEWALS_CONFIRMATION_CODE_DAYS = os.environ.get("CONFIRMATION_CODE_DAYS", "30")
    RENEWALS_CONFIRMATION_RATE_LIMIT = os.environ.get(
        "CONFIRMATION_RATE_LIMIT", "10 per minute;100 per day"
    )
    # "Forgot password", password-reset and invitation pages, "change my password": how often
    # one client address may post them.
    RENEWALS_ACCOUNT_RATE_LIMIT = os.environ.get("ACCOUNT_RATE_LIMIT", "5 per minute;50 per day")
    # The personal link in every customer email opens the relation's renewal page, without a
    # password, for this many days (asking for a fresh one is limited like /confirm/).
    RENEWALS_CUSTOMER_LINK_DAYS = env_int("CUSTOMER_LINK_DAYS", 45)
    # An Admin upload larger than this is imported in the background with a progress page.
    RENEWALS_IMPORT_BACKGROUND_BYTES = env_int("IMPORT_BACKGROUND_BYTES", 1_000_000)
    # Where renewals and deletions are carried out: manual (by hand at the registrar, confirmed
    # here), simulated (demo), epp (a registry over EPP, settings below), or
    # "package.module:Class" (another backend).
    RENEWALS_REGISTRAR_BACKEND = os.environ.get("REGISTRAR_BACKEND", "manual")
    # REGISTRAR_BACKEND=epp: the registry's EPP server and the registrar's login there, with
    # the TLS client certificate and key the registry issued or accepted, the CA that signed
    # the server's certificate (empty: the system's trust store), and seconds to wait.
    RENEWALS_EPP_HOST = os.environ.get("EPP_HOST", "")
    RENEWALS_EPP_PORT = env_int("EPP_PORT", 700)
    RENEWALS_EPP_CLIENT_ID = os.environ.get("EPP_CLIENT_ID", "")
    RENEWALS_EPP_PASSWORD = os.environ.get("EPP_PASSWORD", "")
    RENEWALS_EPP_CERT_FILE = os.environ.get("EPP_CERT_FILE", "")
    RENEWALS_EPP_KEY_FILE = os.environ.get("EPP_KEY_FILE", "")
    RENEWALS_EPP_CA_FILE = os.environ.get("EPP_CA_FILE", "")
    RENEWALS_EPP_TIMEOUT = os.environ.get("EPP_TIMEOUT", "30")
    # The simulated registrar's failures, for demos: never, always, an EPP result code (2303),
    # or a domain name pattern with an optional code (*.fail.example:2400).
    RENEWALS_SIMULATED_REGISTRAR_FAIL = os.environ.get("SIMULATED_REGISTRAR_FAIL", "never")
    # The registrar sync (expiry dates and deletions made at the registry) runs this often;
    # 0 turns it off. Never for the manual backend, which has no registry to ask.
    RENEWALS_REGISTRAR_SYNC_HOURS = os.environ.get("REGISTRAR_SYNC_HOURS", "24")
    # The share of the checked domains one sync run may delete ("5%" or 0.05).
    RENEWALS_REGISTRAR_SYNC_MAX_DELETE_SHARE = os.environ.get(
        "REGISTRAR_SYNC_MAX_DELETE_SHARE", "5%"
    )
    # The automated removal and renewal job: execute queued renewals itself (needs a backend
    # that can), delete instead of only deactivate, and how long after expiry an undecided
    # domain is removed.
    RENEWALS_AUTO_EXECUTE_RENEWALS = env_bool("AUTO_EXECUTE_RENEWALS", False)
    RENEWALS_AUTO_DELETE = env_bool("AUTO_DELETE", False)
    RENEWALS_DELETION_GRACE_DAYS = env_int("DELETION_GRACE_DAYS", 0)
    # A queued renewal is due this many days before expiry; unexecuted on that day it alerts
    # its sales contact, and from the expiry day on ESCALATION_EMAIL (empty: the Admins).
    RENEWALS_EXECUTION_LEAD_DAYS = env_int("RENEWAL_EXECUTION_LEAD_DAYS", 3)
    RENEWALS_ESCALATION_EMAIL = os.environ.get("ESCALATION_EMAIL", "")
    # Failed automatic renewals are retried after this many hours (doubling), this many times.
    RENEWALS_RENEWAL_RETRY_HOURS = env_int("RENEWAL_RETRY_HOURS", 6)
    RENEWALS_RENEWAL_RETRY_ATTEMPTS = env_int("RENEWAL_RETRY_ATTEMPTS", 5)
    # python run.py starts the scheduler in-process unless this is 0.
    SCHEDULER_ENABLED = env_bool("SCHEDULER_ENABLED", True)
