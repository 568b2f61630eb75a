"""What the standalone app adds to every response and request for safety on the web.

These are app-wide choices, so only the standalone app makes them (``create_app``); the addon
changes nothing of a host it does not own.

- Security headers on every page: a Content-Security-Policy that fits FAB's pages (scripts
  only from the app itself or with the per-request nonce that FAB's templates already print
  through ``csp_nonce()``; FAB and our templates use inline ``style`` attributes, so styles may
  be inline), no framing, no MIME sniffing, no referrer to other sites, and HSTS when the
  session cookie is HTTPS-only.
- ``TRUSTED_PROXIES``: behind that many reverse proxies, werkzeug's ProxyFix takes the client's
  address (and scheme) from ``X-Forwarded-For``/``-Proto``, so rate limits and recorded
  remote addresses name the client, not the proxy. Without it those headers are ignored (a
  client could otherwise pick its own address).
- A warning when rate limits count in ``memory://`` outside debug/demo/testing: every worker
  process then keeps its own counters, so N workers allow N times the limit.
"""

from __future__ import annotations

import logging
import secrets

from flask import Flask, Response, has_request_context, request
from werkzeug.middleware.proxy_fix import ProxyFix

log = logging.getLogger(__name__)

#: One year, as browsers' HSTS preload lists expect.
HSTS_MAX_AGE = 31_536_000


def csp_nonce() -> str:
    """The nonce of this request's scripts (FAB's ``baselib.get_nonce()`` calls this)."""
    if not has_request_context():
        return ""
    # Kept in the request's environ: ``g`` lives as long as the app context, which a test
    # client (or a nested context) may share across requests.
    return request.environ.setdefault("rr.csp_nonce", secrets.token_urlsafe(16))


def content_security_policy(nonce: str) -> str:
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' 'nonce-{nonce}'",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            "font-src 'self' data:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def _add_security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", content_security_policy(csp_nonce()))
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if _hsts_enabled():
        headers.setdefault("Strict-Transport-Security", f"max-age={HSTS_MAX_AGE}")
    return response


def _hsts_enabled() -> bool:
    from flask import current_app

    return bool(current_app.config.get("SESSION_COOKIE_SECURE"))


def install_security_headers(app: Flask) -> None:
    # A global, not a context processor: FAB's widget templates import baselib without the
    # context, and would print an empty nonce.
    app.jinja_env.globals["csp_nonce"] = csp_nonce
    app.after_request(_add_security_headers)


def trusted_proxy_count(app: Flask) -> int:
    """``TRUSTED_PROXIES`` as a whole number >= 0 (the start-up refuses anything else)."""
    value = app.config.get("TRUSTED_PROXIES") or 0
    try:
        count = int(value)
    except (TypeError, ValueError):
        count = -1
    if count < 0:
        raise ValueError(f"TRUSTED_PROXIES must be a whole number of proxies, not {value!r}")
    return count


def install_proxy_fix(app: Flask) -> None:
    count = trusted_proxy_count(app)
    if count:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count)


def warn_about_per_process_rate_limits(app: Flask) -> None:
    """Warn once, at the first request this process serves (CLI commands and jobs serve none
    and stay quiet), when limits are counted per process outside debug/demo/testing."""
    if not app.config.get("RATELIMIT_ENABLED"):
        return
    if app.debug or app.testing or app.config.get("RENEWALS_DEMO_MODE"):
        return
    storage = str(app.config.get("RATELIMIT_STORAGE_URI") or "memory://")
    if not storage.startswith("memory://"):
        return
    warned = False

    def warn_once() -> None:
        nonlocal warned
        if not warned:
            warned = True
            log.warning(
                "Rate limits are counted in memory (RATELIMIT_STORAGE_URI=memory://): each "
                "worker process keeps its own counters, so several workers or servers allow "
                "several times the limit. Set RATELIMIT_STORAGE_URI to shared storage, e.g. "
                "redis://127.0.0.1:6379."
            )

    app.before_request(warn_once)
