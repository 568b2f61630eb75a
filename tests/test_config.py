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


@pytest.fixture
def instance_dir(tmp_path, monkeypatch):
    """An instance folder of the test's own (config.INSTANCE_DIR, as INSTANCE_PATH sets it)."""
    import config as config_module

    monkeypatch.setattr(config_module, "INSTANCE_DIR", tmp_path)
    return tmp_path


def test_demo_mode_keeps_its_key_in_the_instance_folder(database_url, instance_dir, capsys):
    app = create_app(_config(database_url, RENEWALS_DEMO_MODE=True))
    key_file = instance_dir / "secret_key"
    assert app.config["SECRET_KEY"] == key_file.read_text().strip()
    assert len(app.config["SECRET_KEY"]) >= 32
    assert key_file.stat().st_mode & 0o077 == 0, "readable by its owner only"
    assert "Using the demo's secret key from" in capsys.readouterr().err


def test_two_demo_apps_share_the_key_so_codes_check_in_both(database_url, instance_dir):
    """A code emailed by one process (the scheduler, a CLI command) works on the web app."""
    from renewal_reminder import settings
    from renewal_reminder.renewals import codes

    first, second = (
        create_app(_config(database_url, RENEWALS_DEMO_MODE=True, SECRET_KEY=key))
        for key in (None, "changeme")
    )
    code = codes.normalize_code(codes.generate_code())
    made, checked = (
        codes.code_hash(codes.CodeSettings.from_config(settings.read(app.config)), code)
        for app in (first, second)
    )
    assert made == checked
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]


def test_without_a_key_the_demos_instance_key_is_used_and_announced_once(
    database_url, instance_dir, capsys
):
    from renewal_reminder.standalone import demo_secret_key

    key = demo_secret_key(instance_dir)
    apps = [create_app(_config(database_url, SECRET_KEY=value)) for value in (None, "changeme")]
    assert [app.config["SECRET_KEY"] for app in apps] == [key, key]
    err = capsys.readouterr().err
    assert err.count("Using the demo's secret key from") == 1, err
    assert "(SECRET_KEY is not set)" in err


def test_debug_without_an_instance_key_gets_a_random_key(database_url, instance_dir):
    keys = {create_app(_config(database_url, TESTING=True)).config["SECRET_KEY"] for _ in "ab"}
    assert len(keys) == 2 and all(len(key) >= 32 for key in keys)
    assert not (instance_dir / "secret_key").exists()


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


def test_port_sets_the_default_base_url(monkeypatch):
    import importlib

    import config as config_module

    monkeypatch.delenv("BASE_URL", raising=False)
    monkeypatch.setenv("PORT", "8080")
    try:
        assert importlib.reload(config_module).Config.RENEWALS_BASE_URL == "http://127.0.0.1:8080"
        monkeypatch.delenv("PORT")
        assert importlib.reload(config_module).Config.RENEWALS_BASE_URL == "http://127.0.0.1:5000"
        monkeypatch.setenv("PORT", "8080")
        monkeypatch.setenv("BASE_URL", "https://renewals.example.com")
        reloaded = importlib.reload(config_module)
        assert reloaded.Config.RENEWALS_BASE_URL == "https://renewals.example.com"
    finally:
        monkeypatch.undo()
        importlib.reload(config_module)
