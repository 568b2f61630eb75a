"""The addon in real Flask-AppBuilder hosts, installed from its wheel (see tests/hosts/).

Slow by nature (a wheel, a virtual environment, a dozen host start-ups: about a minute), so the
hosts run once per suite run, on SQLite; ``RR_HOST_FAB_VERSION=5.2.2`` runs them on the oldest
Flask-AppBuilder in range (``.ci/run`` does both).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent
HOSTS = Path(__file__).resolve().parent / "hosts"
FAB_VERSION = os.environ.get("RR_HOST_FAB_VERSION", "")

pytestmark = pytest.mark.skipif(
    os.environ.get("DATABASE_URL", "").startswith("postgresql"),
    reason="the host apps run on SQLite, once per suite run (the SQLite run)",
)


@pytest.fixture(scope="module")
def host_python(tmp_path_factory, testrun_uid, worker_id) -> Path:
    """A fresh virtual environment with the product installed from its wheel: one per test
    run, which the pytest-xdist workers share (the first to need it builds it, under a lock,
    while the others wait: two builds at once would also collide in the checkout's build/)."""
    if worker_id == "master":  # not distributed
        return _build_host_python(tmp_path_factory.mktemp("hosts"))
    shared = tmp_path_factory.getbasetemp().parent
    with open(shared / f"hosts-{testrun_uid}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        root = shared / f"hosts-{testrun_uid}"
        if not (root / "ready").exists():
            shutil.rmtree(root, ignore_errors=True)  # a build that failed half-way
            _build_host_python(root)
            (root / "ready").touch()
    return root / "venv" / "bin" / "python"


def _build_host_python(root: Path) -> Path:
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", root / "dist", PROJECT])
    [wheel] = (root / "dist").glob("renewal_reminder-*.whl")
    _run([sys.executable, "-m", "venv", root / "venv"])
    python = root / "venv" / "bin" / "python"
    pins = [f"Flask-AppBuilder=={FAB_VERSION}"] if FAB_VERSION else []
    # Outside the checkout: pip would take its renewal_reminder.egg-info for an installation.
    _run([python, "-m", "pip", "install", "-q", wheel, *pins], cwd=root)
    installed = _run(
        [
            python,
            "-c",
            "import renewal_reminder, flask_appbuilder as f; "
            "print(renewal_reminder.__file__, f.__version__)",
        ],
        cwd=root,
    ).stdout.split()
    assert installed[0].startswith(str(root / "venv")), installed
    if FAB_VERSION:
        assert installed[1] == FAB_VERSION, installed
    return python


def _run(command, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [str(part) for part in command], capture_output=True, text=True, timeout=600, **kwargs
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


class Host:
    """One host folder, copied to a temporary place, with its own fresh database."""

    def __init__(self, name: str, python: Path, tmp_path: Path):
        self.folder = tmp_path / name
        shutil.copytree(HOSTS / name, self.folder)
        shutil.copy(HOSTS / "hostcheck.py", self.folder)
        self.python = python
        self.database = f"sqlite:///{tmp_path / (name + '.db')}"

    def env(self, with_addon: bool, **extra: str) -> dict:
        env = {key: value for key, value in os.environ.items() if not key.startswith("HOST_")}
        for key in ("DATABASE_URL", "PYTHONPATH", "FLASK_APP"):
            env.pop(key, None)
        env.update(HOST_DATABASE_URL=self.database, HOST_WITH_ADDON="1" if with_addon else "0")
        env.update(extra)
        return env

    def check(self, scenario: str, with_addon: bool = True, **extra: str) -> dict:
        result = _run(
            [self.python, "hostcheck.py", scenario],
            cwd=self.folder,
            env=self.env(with_addon, **extra),
        )
        line = [row for row in result.stdout.splitlines() if row.startswith("HOSTCHECK ")][-1]
        return json.loads(line.removeprefix("HOSTCHECK "))

    def flask(self, *args: str, with_addon: bool = True, **extra: str) -> str:
        result = _run(
            [self.python, "-m", "flask", "--app", "app", *args],
            cwd=self.folder,
            env=self.env(with_addon, **extra),
        )
        return result.stdout + result.stderr


PRODUCT_PAGES_OK = {
    "/relations/list/": 200,
    "/domains/list/": 200,
    "/renewals/": 200,
    "/queue/": 200,
    "/expirations/": 200,
    "menu_links_prefixed": True,
    "post_without_token": 400,
    "rendered_delete_form": [302, True],
}


def test_a_host_whose_package_is_app_behaves_as_without_the_addon(host_python, tmp_path):
    """FAB's quickhowto shape, no CSRFProtect: its GET delete, forms, REST API, a delete of a
    row with children and an identity provider's POST behave exactly as without the addon,
    and the product's screens work."""
    bare = Host("quickhowto", host_python, tmp_path / "bare").check("quickhowto", False)
    host = Host("quickhowto", host_python, tmp_path / "with")
    enabled = host.check("quickhowto")
    assert set(enabled.pop("extensions")) - set(bare.pop("extensions")) == {"renewal_reminder"}
    assert enabled == bare
    assert bare["get_delete"] == 302 and "Ann" not in bare["contacts_left"]
    assert bare["idp_callback"] == [200, "assertion received: PHNhbWw+"]
    assert bare["api_list"] == 200 and bare["api_create"] == 201
    assert host.check("product") == PRODUCT_PAGES_OK


def test_a_host_with_its_own_user_model(host_python, tmp_path):
    """FAB's extendsecurity shape: a custom SecurityManager and User model."""
    seen = Host("extendsecurity", host_python, tmp_path).check("extendsecurity")
    assert seen.pop("user_model") == "MyUser"
    assert seen.pop("extra_column") == 42
    assert seen.pop("login") == 302
    assert seen == PRODUCT_PAGES_OK


def test_a_host_role_named_sales_is_never_taken_over(host_python, tmp_path):
    host = Host("quickhowto", host_python, tmp_path)
    assert host.check("make_sales_role", with_addon=False) == {"permissions": 1}
    refused = host.check("start")
    assert refused["started"] is False
    assert "'Sales'" in refused["error"] and "RENEWALS_ROLE_SALES" in refused["error"]
    kept = host.check("sales_role", HOST_ROLE_SALES="Renewals Sales")
    assert kept == {
        "permissions": ["can_list on ContactModelView"],
        "builtin": False,
        "product_sales_role": True,
    }


def test_a_host_that_manages_its_own_schema(host_python, tmp_path):
    """FAB_CREATE_DB = False: the host creates FAB's tables itself, then runs the product's
    migrations with `flask renewals db upgrade`."""
    host = Host("quickhowto", host_python, tmp_path)
    host.flask("fab", "create-db", HOST_FAB_CREATE_DB="0")
    output = host.flask("renewals", "db", "upgrade", HOST_FAB_CREATE_DB="0")
    assert "rr0001" in output
    assert "up to date" in host.flask("renewals", "db", "upgrade", HOST_FAB_CREATE_DB="0")
    assert host.check("product", HOST_FAB_CREATE_DB="0") == PRODUCT_PAGES_OK
