"""A fresh database: `flask db upgrade`, then any command, prints no traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent


def _flask(instance: Path, *args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "INSTANCE_PATH": str(instance),
        "DATABASE_URL": f"sqlite:///{instance / 'fresh.db'}",
        "SECRET_KEY": "d65b5bfc3a5a00e13d40bf66feb8b8fa",
    }
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "run", *args],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_upgrade_then_commands_print_no_traceback(tmp_path):
    upgrade = _flask(tmp_path, "db", "upgrade")
    assert upgrade.returncode == 0, upgrade.stderr
    for command in (["reminders", "send", "--dry-run"], ["fab", "list-users"]):
        result = _flask(tmp_path, *command)
        output = result.stdout + result.stderr
        assert result.returncode == 0, output
        assert "Traceback" not in output and "Error" not in output, output


def _serve_run_py(tmp_path) -> str:
    """Start `python run.py` with nothing exported, wait until it serves its login page, stop
    it; its output."""
    import socket
    import time
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("SECRET_KEY", "DATABASE_URL", "DEMO_MODE")
    }
    env.update(INSTANCE_PATH=str(tmp_path), PORT=str(port), SCHEDULER_ENABLED="0")
    server = subprocess.Popen(
        [sys.executable, "run.py"],
        cwd=PROJECT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/", timeout=2) as r:
                    assert r.status == 200
                    break
            except OSError:
                assert server.poll() is None, server.stdout.read()
                assert time.monotonic() < deadline, "run.py did not start in 60 s"
                time.sleep(0.3)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=5) as login:
            assert login.status == 200
    finally:
        server.terminate()
        output = server.communicate(timeout=10)[0]
    return output


def test_python_run_py_serves_the_demo(tmp_path):
    """The README's first command: `python run.py` migrates, loads the demo and serves it."""
    output = _serve_run_py(tmp_path)
    assert "admin@demo.example / demo-admin-2026" in output
    assert "Traceback" not in output
    assert (tmp_path / "renewal_reminder.db").exists()


def test_after_run_py_the_cli_works_without_exporting_anything(tmp_path):
    """The README's `flask --app run ...` commands, in the folder where `python run.py` made
    its demo, with no SECRET_KEY: the demo's key from instance/secret_key, said once."""
    _serve_run_py(tmp_path)
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("SECRET_KEY", "DATABASE_URL", "DEMO_MODE")
    }
    env["INSTANCE_PATH"] = str(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "run", "reminders", "send", "--dry-run"],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "SECRET_KEY is missing" not in output and "Traceback" not in output, output
    assert result.stderr.count("Using the demo's secret key from") == 1, result.stderr
    assert "(SECRET_KEY is not set)" in result.stderr


def _run_py(tmp_path, **env_overrides) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DATABASE_URL")}
    env.update(INSTANCE_PATH=str(tmp_path), PORT="1", SCHEDULER_ENABLED="0", **env_overrides)
    return subprocess.run(
        [sys.executable, "run.py"],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_run_py_refuses_a_bad_setting_without_a_traceback(tmp_path):
    result = _run_py(tmp_path, TRUSTED_PROXIES="two")
    assert result.returncode != 0
    assert "TRUSTED_PROXIES must be a whole number, not 'two'" in result.stderr
    assert "Traceback" not in result.stderr


def test_run_py_never_loads_its_demo_into_a_real_portfolio(tmp_path):
    """A DATABASE_URL with a real portfolio: no demo logins with the README's passwords."""
    database = tmp_path / "real.db"
    upgrade = _flask(tmp_path, "db", "upgrade")
    assert upgrade.returncode == 0, upgrade.stderr
    import sqlite3

    shutil.copy(tmp_path / "fresh.db", database)
    with sqlite3.connect(database) as connection:
        connection.execute(
            "INSERT INTO rr_relation (number, name, billing_email, kind, language, "
            "reminders_to_reseller, created_at, updated_at) VALUES (7, 'Real BV', "
            "'billing@real.example', 'client', 'en', 0, '2026-01-01', '2026-01-01')"
        )
    result = _run_py(tmp_path, DATABASE_URL=f"sqlite:///{database}")
    assert result.returncode != 0
    assert "not the demo's" in result.stderr and "Traceback" not in result.stderr
    with sqlite3.connect(database) as connection:
        users = connection.execute("SELECT count(*) FROM ab_user").fetchone()[0]
    assert users == 0
