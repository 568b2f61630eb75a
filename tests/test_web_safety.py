"""Security headers, the trusted-proxy setting, strong secret keys, spreadsheet-safe CSV and
internal notes kept from customers."""

from __future__ import annotations

import logging
import re

import pytest

from renewal_reminder.standalone import ConfigurationError, create_app, is_strong_secret_key
from renewal_reminder.views.csv_export import spreadsheet_safe
from tests.conftest import _test_config, login

# --- headers ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/login/", "/confirm/", "/health/", "/no-such-page/"])
def test_every_page_carries_the_security_headers(client, path):
    headers = client.get(path).headers
    csp = headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "object-src 'none'" in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"]
    assert "Strict-Transport-Security" not in headers  # only when cookies are HTTPS-only


def test_fab_scripts_carry_this_requests_nonce(client, world):
    """FAB prints ``csp_nonce()`` on its script tags: every inline script runs under the CSP,
    and each response has a fresh nonce."""
    login(client, "admin@example.com")
    first = client.get("/domains/list/")
    second = client.get("/domains/list/")
    nonces = []
    for response in (first, second):
        nonce = re.search(r"'nonce-([^']+)'", response.headers["Content-Security-Policy"])[1]
        html = response.get_data(as_text=True)
        scripts = re.findall(r"<script\b[^>]*>", html)
        assert scripts and all(f'nonce="{nonce}"' in tag for tag in scripts), scripts
        nonces.append(nonce)
    assert nonces[0] != nonces[1]


@pytest.mark.app_config(SESSION_COOKIE_SECURE=True)
def test_hsts_when_cookies_are_https_only(client):
    assert client.get("/login/").headers["Strict-Transport-Security"].startswith("max-age=")


# --- behind a proxy ---------------------------------------------------------------------------


def _seen_address(app, headers: dict, remote: str = "10.0.0.1") -> str:
    seen = {}

    @app.route("/_test/address")
    def address():
        from flask import request

        seen["addr"] = request.remote_addr
        return "ok"

    app.test_client().get("/_test/address", headers=headers, environ_base={"REMOTE_ADDR": remote})
    return seen["addr"]


def test_forwarded_headers_are_ignored_without_trusted_proxies(app_config):
    app = create_app(app_config)
    assert _seen_address(app, {"X-Forwarded-For": "6.6.6.6"}) == "10.0.0.1"


def test_one_trusted_proxy_gives_the_clients_address(app_config):
    app = create_app({**app_config, "TRUSTED_PROXIES": 1})
    # The proxy appends the client's address; anything before it was sent by the client.
    headers = {"X-Forwarded-For": "6.6.6.6, 203.0.113.7"}
    assert _seen_address(app, headers) == "203.0.113.7"


def test_rate_limits_count_the_forwarded_client(app_config):
    app = create_app(
        {
            **app_config,
            "TRUSTED_PROXIES": 1,
            "RATELIMIT_ENABLED": True,
            "RATELIMIT_STORAGE_URI": "memory://",
            "RENEWALS_CONFIRMATION_RATE_LIMIT": "2 per minute",
        }
    )
    client = app.test_client()

    def attempt(client_address):
        return client.post(
            "/confirm/",
            data={"code": "0000-0000-0000"},
            headers={"X-Forwarded-For": client_address},
            environ_base={"REMOTE_ADDR": "10.0.0.1"},  # always the same proxy
        ).status_code

    assert [attempt("203.0.113.7") for _ in range(3)][-1] == 429
    assert attempt("203.0.113.8") != 429, "another client behind the same proxy is not limited"


@pytest.mark.parametrize("value", ["-1", "two"])
def test_bad_trusted_proxies_stop_start_up(app_config, value):
    with pytest.raises(ConfigurationError, match="TRUSTED_PROXIES"):
        create_app({**app_config, "TRUSTED_PROXIES": value})


def test_memory_rate_limits_in_production_warn(database_url, caplog):
    config = _test_config(
        database_url,
        TESTING=False,
        SECRET_KEY="d65b5bfc3a5a00e13d40bf66feb8b8fa",
        RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI="memory://",
    )
    with caplog.at_level(logging.WARNING, logger="renewal_reminder.web_security"):
        app = create_app(config)
        assert "RATELIMIT_STORAGE_URI" not in caplog.text, "CLI commands and jobs stay quiet"
        app.test_client().get("/health/")
        app.test_client().get("/health/")
    assert caplog.text.count("counted in memory") == 1, "once, at the first request"
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="renewal_reminder.web_security"):
        app = create_app({**config, "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379"})
        app.test_client().get("/health/")
    assert "RATELIMIT_STORAGE_URI" not in caplog.text


# --- secret key -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "0000000000000000",
        "abababababababab",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab",
        "changeme",
        "\\2\\1thisismyscretkey\\1\\2\\e\\y\\y\\h",  # FAB's published default
        "1234567890abcdef1234567890abcdef",
        "abcdefghijklmnopqrstuvwxyz012345",
        "qwertyuiopasdfghjklzxcvbnm123456",
        "dev-secret-key-change-me-please",
        "test-secret-key-not-for-production",
    ],
)
def test_low_entropy_secret_keys_are_refused(database_url, key):
    assert not is_strong_secret_key(key)
    config = {"SQLALCHEMY_DATABASE_URI": database_url, "TESTING": False, "SECRET_KEY": key}
    with pytest.raises(ConfigurationError, match="SECRET_KEY"):
        create_app(config)


def test_random_keys_are_strong():
    import secrets

    assert all(is_strong_secret_key(secrets.token_hex(16)) for _ in range(50))
    assert all(is_strong_secret_key(secrets.token_urlsafe(32)) for _ in range(50))


# --- CSV --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["=1+1", "+31", "-2", "@SUM(A1)", "\tx", "\rx", "＝1+1", "＋1", "－1", "＠A1"]
)
def test_spreadsheet_formulas_are_neutralised(value):
    assert spreadsheet_safe(value) == f"'{value}"


@pytest.mark.parametrize("value", ["Acme", "1+1=2", "a=b", "", "Ｘ"])
def test_ordinary_text_is_left_alone(value):
    assert spreadsheet_safe(value) == value


# --- internal notes ---------------------------------------------------------------------------


@pytest.fixture
def noted_domain(world, session):
    world.d_c1.notes = "Customer is late paying; ask for prepayment"
    session.commit()
    return world.d_c1


@pytest.mark.parametrize("username", ["client1@example.com", "reseller@example.com"])
def test_customers_never_see_internal_notes(client, noted_domain, username):
    login(client, username)
    response = client.get(f"/domains/show/{noted_domain.id}")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert noted_domain.unicode_name in body
    assert "prepayment" not in body and "Notes" not in body


@pytest.mark.parametrize("username", ["sales-a@example.com", "admin@example.com"])
def test_staff_see_internal_notes(client, noted_domain, username):
    login(client, username)
    body = client.get(f"/domains/show/{noted_domain.id}").get_data(as_text=True)
    assert "prepayment" in body
