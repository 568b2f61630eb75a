"""A fresh database: `flask db upgrade`, then any command, prints no traceback."""

from __future__ import annotations

import os
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
