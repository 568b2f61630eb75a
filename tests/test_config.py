"""Start-up refuses unsafe configuration."""

from __future__ import annotations

import pytest

from renewal_reminder.standalone import ConfigurationError, create_app


def _config(database_url: str, **overrides) -> dict:
    config = {
        "SQLALCHEMY_DATABASE_URI": database_url,
        "TESTING": False,
        "DEBUG": False,
        "RENEWALS_DEMO_MODE": False,
        "SECRET_KEY": None,
    }
    config.update(overrides)
    return config


@pytest.mark.parametrize("key", [None, "", "changeme", "secret", "short-key"])
def test_production_refuses_to_start_without_a_real_secret_key(database_url, key):
    with pytest.raises(ConfigurationError, match="SECRET_KEY"):
        create_app(_config(database_url, SECRET_KEY=key))


def test_production_starts_with_a_real_secret_key(database_url):
    app = create_app(_config(database_url, SECRET_KEY="a-long-random-production-key-123"))
    assert app.config["SECRET_KEY"] == "a-long-random-production-key-123"


def test_demo_mode_gets_a_random_key(database_url):
    app = create_app(_config(database_url, RENEWALS_DEMO_MODE=True))
    assert len(app.config["SECRET_KEY"]) >= 32


def test_environment_variables_configure_the_app(monkeypatch):
    import importlib

    import config as config_module

    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://u@db.example.com/rr")
    monkeypatch.setenv("MAIL_PORT", "2525")
    monkeypatch.setenv("BASE_URL", "https://renewals.example.com")
    reloaded = importlib.reload(config_module)
    try:
        assert reloaded.Config.SQLALCHEMY_DATABASE_URI == "postgresql+psycopg://u@db.example.com/rr"
        assert reloaded.Config.MAIL_PORT == 2525
        assert reloaded.Config.RENEWALS_BASE_URL == "https://renewals.example.com"
        assert reloaded.Config.RATELIMIT_ENABLED is True
        assert reloaded.Config.WTF_CSRF_ENABLED is True
    finally:
        monkeypatch.undo()
        importlib.reload(config_module)
