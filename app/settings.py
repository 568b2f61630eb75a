"""The product's settings: read from the host's config under one prefix, ``RENEWALS_``.

A host configures the addon with ``RENEWALS_BASE_URL``, ``RENEWALS_REMINDER_OFFSETS`` and so
on; the addon never writes a default into the host's config, and reads no generic key except
Flask's own ``SECRET_KEY`` (to sign activation codes) and, as the fallback sender, Flask-Mail's
``MAIL_DEFAULT_SENDER``; with neither, the sender is derived from ``RENEWALS_BASE_URL``'s host
(``default_sender``). The standalone app maps its documented environment variables
(``BASE_URL``, ``REMINDER_OFFSETS``, ...) onto these keys in ``config.py``.

``read(config)`` returns the settings without the prefix, defaults filled in; the domain
modules' ``*.from_config`` functions take that mapping.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from email.utils import formataddr
from typing import Any
from urllib.parse import urlsplit

import idna
from flask import current_app

PREFIX = "RENEWALS_"

#: Every setting, without the prefix, and its default.
DEFAULTS: dict[str, Any] = {
    # Where links in emails point: the public URL of the host app (with its mount point,
    # e.g. https://airflow.example.com/auth), without the addon's URL prefix.
    "BASE_URL": "http://127.0.0.1:5000",
    # The sender of the product's emails; empty: Flask-Mail's MAIL_DEFAULT_SENDER, else
    # "Renewal Reminder <renewals@HOST>" with BASE_URL's host (see default_sender).
    "MAIL_SENDER": "",
    # Where the product's pages live in the host app ("" puts them at the root, as the
    # standalone app does).
    "URL_PREFIX": "/renewal-reminder",
    # The product's roles (FAB builtin roles, permissions in code).
    "ROLE_SALES": "Sales",
    "ROLE_RESELLER": "Reseller",
    "ROLE_CLIENT": "Client",
    "REMINDER_OFFSETS": "3m,2m,1m,15d,5d,4d,3d,2d,1d,0d",
    "REMINDER_CATCHUP_DAYS": 7,
    "REMINDER_INTERVAL_HOURS": 24,
    "REMINDER_BCC": "",
    # Who receives a relation's sales notifications when it has no (active) sales contact:
    # one or more comma-separated addresses; empty: the Admins' email addresses.
    "SALES_FALLBACK_EMAIL": "",
    "RENEWAL_WINDOW_DAYS": 92,
    "CONFIRMATION_CODE_DAYS": 30,
    "CONFIRMATION_RATE_LIMIT": "10 per minute;100 per day",
    # The POSTs of "forgot password", the reset and invitation pages and "change my password",
    # per client address.
    "ACCOUNT_RATE_LIMIT": "5 per minute;50 per day",
    # How long the personal link in a customer email opens the relation's renewal page: long
    # enough that the link in one reminder still works when the next one arrives.
    "CUSTOMER_LINK_DAYS": 45,
    "EXPIRATION_LIST_LIMIT": 2000,
    #: An Admin upload larger than this is imported in the background, with a progress page.
    "IMPORT_BACKGROUND_BYTES": 1_000_000,
    "REGISTRAR_BACKEND": "manual",
    # REGISTRAR_BACKEND=epp: the registry's EPP server, the registrar's login and TLS client
    # certificate, the CA of the server's certificate (empty: the system's), seconds to wait.
    "EPP_HOST": "",
    "EPP_PORT": 700,
    "EPP_CLIENT_ID": "",
    "EPP_PASSWORD": "",
    "EPP_CERT_FILE": "",
    "EPP_KEY_FILE": "",
    "EPP_CA_FILE": "",
    "EPP_TIMEOUT": 30,
    # The simulated registrar fails: never, always, an EPP code, or a name pattern[:code].
    "SIMULATED_REGISTRAR_FAIL": "never",
    # How often the registrar sync asks the registry about every active domain (0: never).
    "REGISTRAR_SYNC_HOURS": 24,
    # The share of the domains checked that one sync run may find gone and delete ("5%" or
    # 0.05); more, and it deletes none and alarms the escalation address.
    "REGISTRAR_SYNC_MAX_DELETE_SHARE": "5%",
    "AUTO_EXECUTE_RENEWALS": False,
    "AUTO_DELETE": False,
    "DELETION_GRACE_DAYS": 0,
    # A queued renewal is due this many days before its expiry date (queue, digest, alerts).
    "EXECUTION_LEAD_DAYS": 3,
    # Who is alerted from a renewal's expiry date on, and instead of a missing sales contact
    # (comma-separated addresses); empty: the active Admins.
    "ESCALATION_EMAIL": "",
    # The automated job retries a failed renewal after this many hours, doubling each time,
    # until it has tried this many times in all.
    "RENEWAL_RETRY_HOURS": 6,
    "RENEWAL_RETRY_ATTEMPTS": 5,
    "DEMO_MODE": False,
}

#: Keys of the host's config the product reads besides its own (see the module docstring).
_FROM_HOST = {"SECRET_KEY": "SECRET_KEY"}
_FALLBACK_SENDER = "renewals@localhost"
_SENDER_NAME = "Renewal Reminder"


def read(config: Mapping) -> dict[str, Any]:
    """The product's settings from a host config: ``{"BASE_URL": ..., ...}``, no prefix."""
    values = {name: config.get(PREFIX + name, default) for name, default in DEFAULTS.items()}
    # Settings of pluggable parts (e.g. an EPP backend's RENEWALS_EPP_HOST) come along too.
    values.update(
        (key[len(PREFIX) :], value)
        for key, value in config.items()
        if key.startswith(PREFIX) and key[len(PREFIX) :] not in values
    )
    for name, host_key in _FROM_HOST.items():
        values[name] = config.get(host_key)
    values["MAIL_SENDER"] = (
        values["MAIL_SENDER"]
        or _sender_text(config.get("MAIL_DEFAULT_SENDER"))
        or default_sender(values["BASE_URL"])
    )
    values["URL_PREFIX"] = normalize_prefix(values["URL_PREFIX"])
    return values


def default_sender(base_url: object) -> str:
    """The sender when none is configured: ``Renewal Reminder <renewals@HOST>`` with the host
    of ``base_url`` (IDNA-encoded); ``renewals@localhost`` when that host is no mail domain
    (missing, ``localhost``, an IP address, a name without a dot)."""
    try:
        host = (urlsplit(str(base_url or "").strip()).hostname or "").rstrip(".")
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return _FALLBACK_SENDER
    if "." not in host or host == "localhost" or host.endswith(".localhost"):
        return _FALLBACK_SENDER
    try:
        ipaddress.ip_address(host)
        return _FALLBACK_SENDER
    except ValueError:
        pass
    try:
        host = idna.encode(host, uts46=True).decode("ascii")
    except idna.IDNAError:
        return _FALLBACK_SENDER
    return formataddr((_SENDER_NAME, f"renewals@{host}"))


def _sender_text(sender: object) -> str:
    """Flask-Mail's MAIL_DEFAULT_SENDER as one string: it may be a ``(name, address)`` pair."""
    if isinstance(sender, (tuple, list)) and len(sender) == 2:
        return formataddr((str(sender[0] or ""), str(sender[1] or ""))) if sender[1] else ""
    return str(sender or "").strip()


def current() -> dict[str, Any]:
    """The settings of the app in context."""
    return read(current_app.config)


def current_secret_key() -> Any:
    """``current()["SECRET_KEY"]`` without reading every other setting: links are signed once
    per email of a bulk run."""
    return current_app.config.get(_FROM_HOST["SECRET_KEY"])


def one(name: str) -> Any:
    """One plain setting of the app in context (its default when the host sets none), without
    reading them all as ``current`` does: for what runs on every request, such as the rate
    limits' callables (Flask-Limiter calls them on each request of their blueprints, GETs
    included). Only the keys of ``DEFAULTS``; the derived ones (``MAIL_SENDER``,
    ``URL_PREFIX``, ``SECRET_KEY``) come from ``current``."""
    return current_app.config.get(PREFIX + name, DEFAULTS[name])


def normalize_prefix(prefix: object) -> str:
    """``"renewals/"`` → ``"/renewals"``; ``""`` or ``"/"`` → ``""`` (the root)."""
    text = str(prefix or "").strip().strip("/")
    return f"/{text}" if text else ""
