"""Time the registrar sync (``flask domains sync``) of a synthetic portfolio, against the
simulated registry and against the test EPP server, and print domains/s.

    python benchmarks/registry_sync.py [--domains 10000] [--backend simulated|epp|both]
        [--seed 1]

Build: a fresh SQLite file with the schema from ``create_app`` (``FAB_CREATE_DB``), 100
relations and ``--domains`` active domains (Core ``executemany``), expiry dates spread over a
year. At the registry, 1% of the domains were renewed elsewhere (a year later), 0.5% are gone
and 0.5% are in pendingDelete: the sync asks about every domain and changes those 2%.

Measure each backend on its own copy of the database, with ``jobs.run_registrar_sync`` (what
the scheduler and the CLI run: batches of 500, a commit per batch, the ``JobRun`` row):

- ``simulated``: the registry table in the same SQLite file. The first run also fills the
  registry from the domains table (first sight), so the registry's differences are written
  between a first run (reported as "first sight") and the measured one;
- ``epp``: ``tests/epp_server`` on loopback (mutual TLS, RFC 5734 framing, every frame
  validated against the RFC 5730/5731 schemas), one login for the run, one ``domain:info``
  round trip per domain, in this process (the server's asyncio thread shares the GIL with the
  client, so the figure is a floor: a remote registry's latency dominates in practice).

Then a second run of each, which finds nothing to change (the steady state).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TODAY = dt.date.today()
RELATIONS = 100
TLDS = ["nl", "com", "de", "eu", "be", "org"]
CLIENT_ID, PASSWORD = "registrar1", "secret-pw1"


def base_config(db_file: Path) -> dict:
    return {
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{db_file}",
        "FAB_CREATE_DB": True,
        "FAB_UPDATE_PERMS": False,
        "TESTING": True,
        "SECRET_KEY": "benchmark-secret-key-" + "x" * 32,
        "RATELIMIT_ENABLED": False,
        "MAIL_SUPPRESS_SEND": True,
    }


def build(db_file: Path, domains: int, seed: int) -> list[tuple[str, dt.date]]:
    """The portfolio: ``[(name, expiry date)]`` of the domains written."""
    from sqlalchemy import insert

    from renewal_reminder.models import Domain, Relation
    from renewal_reminder.standalone import create_app

    rng = random.Random(seed)
    app = create_app(base_config(db_file))
    portfolio = [
        (f"sync-{i:06d}.{rng.choice(TLDS)}", TODAY + dt.timedelta(days=rng.randrange(1, 365)))
        for i in range(domains)
    ]
    with app.app_context():
        engine = app.extensions["sqlalchemy"].engine
        with engine.begin() as conn:
            conn.execute(
                insert(Relation),
                [
                    {
                        "id": number,
                        "number": 1000 + number,
                        "name": f"Relation {number}",
                        "billing_email": f"billing{number}@example.com",
                        "kind": "client",
                        "language": "en",
                        "reminders_to_reseller": True,
                        "link_version": 1,
                    }
                    for number in range(1, RELATIONS + 1)
                ],
            )
            conn.execute(
                insert(Domain),
                [
                    {
                        "name": name,
                        "relation_id": 1 + i % RELATIONS,
                        "expiry_date": expiry,
                        "status": "active",
                        "created_at": dt.datetime(2026, 1, 1),
                        "updated_at": dt.datetime(2026, 1, 1),
                    }
                    for i, (name, expiry) in enumerate(portfolio)
                ],
            )
        engine.dispose()
    return portfolio


def differences(portfolio, seed: int) -> dict[str, list]:
    """Which domains the registry changed: 1% renewed elsewhere, 0.5% gone, 0.5% deleted."""
    rng = random.Random(seed + 1)
    picked = rng.sample(portfolio, max(4, len(portfolio) // 50))
    quarter = len(picked) // 4
    return {
        "moved_on": picked[: 2 * quarter],
        "gone": picked[2 * quarter : 3 * quarter],
        "pending_delete": picked[3 * quarter :],
    }


def a_day_later(db_file: Path) -> None:
    """The names the sync found gone were first found a day (a job interval) ago: the next
    run deletes them (the sync never deletes on one answer)."""
    with sqlite3.connect(db_file) as connection:
        connection.execute(
            "UPDATE rr_domain SET registry_gone_since = datetime(registry_gone_since, '-1 day') "
            "WHERE registry_gone_since IS NOT NULL"
        )


def timed_sync(app, label: str, count: int):
    from renewal_reminder.jobs import run_registrar_sync

    started = time.perf_counter()
    summary = run_registrar_sync(app)
    seconds = time.perf_counter() - started
    print(f"  {label:<34} {seconds:7.2f} s  {count / seconds:8.0f} domains/s")
    print(f"    {summary}")
    return summary


def bench_simulated(db_file: Path, portfolio, changes) -> None:
    from renewal_reminder.renewals.registrars.simulated import SHARED
    from renewal_reminder.standalone import create_app

    app = create_app({**base_config(db_file), "RENEWALS_REGISTRAR_BACKEND": "simulated"})
    print("simulated registry (the table rr_simulated_registry, same SQLite file):")
    timed_sync(app, "first sight (fills the registry)", len(portfolio))
    with app.app_context():
        for name, expiry in changes["moved_on"]:
            SHARED.register(name, expiry.replace(year=expiry.year + 1))
        for name, _ in changes["gone"]:
            SHARED.drop(name)
        for name, _ in changes["pending_delete"]:
            SHARED.delete(name)
    summary = timed_sync(app, "sync with 2% changed", len(portfolio))
    assert summary.moved_on == len(changes["moved_on"]), summary
    gone = len(changes["gone"]) + len(changes["pending_delete"])
    assert summary.gone_waiting == gone, summary
    a_day_later(db_file)
    summary = timed_sync(app, "a day later (deletes the gone)", len(portfolio))
    assert summary.deleted == gone, summary
    active = len(portfolio) - summary.deleted
    timed_sync(app, "again (nothing to change)", active)


def bench_epp(db_file: Path, portfolio, changes) -> None:
    from renewal_reminder.standalone import create_app
    from tests.epp_server.certificates import make_certificates
    from tests.epp_server.server import EppTestServer

    folder = Path(tempfile.mkdtemp(prefix="rr-bench-epp-"))
    certificates = make_certificates(folder)
    server = EppTestServer(certificates, client_id=CLIENT_ID, password=PASSWORD)
    gone = {name for name, _ in changes["gone"]}
    pending = {name for name, _ in changes["pending_delete"]}
    moved = {name for name, _ in changes["moved_on"]}
    for name, expiry in portfolio:
        if name in gone:
            continue
        if name in moved:
            expiry = expiry.replace(year=expiry.year + 1)
        server.register(name, expiry, *(["pendingDelete"] if name in pending else []))
    with server:
        host, port = server.address
        app = create_app(
            {
                **base_config(db_file),
                "RENEWALS_REGISTRAR_BACKEND": "epp",
                "RENEWALS_EPP_HOST": host,
                "RENEWALS_EPP_PORT": port,
                "RENEWALS_EPP_CLIENT_ID": CLIENT_ID,
                "RENEWALS_EPP_PASSWORD": PASSWORD,
                "RENEWALS_EPP_CERT_FILE": str(certificates.client_cert),
                "RENEWALS_EPP_KEY_FILE": str(certificates.client_key),
                "RENEWALS_EPP_CA_FILE": str(certificates.ca_file),
            }
        )
        print("test EPP server (loopback, mutual TLS, schema-validated frames):")
        summary = timed_sync(app, "sync with 2% changed", len(portfolio))
        assert summary.moved_on == len(moved), summary
        assert summary.gone_waiting == len(gone) + len(pending), summary
        a_day_later(db_file)
        summary = timed_sync(app, "a day later (deletes the gone)", len(portfolio))
        assert summary.deleted == len(gone) + len(pending), summary
        timed_sync(app, "again (nothing to change)", len(portfolio) - summary.deleted)
        print(f"    EPP logins: {server.logins}, invalid frames: {len(server.invalid_frames)}")
    shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--domains", type=int, default=10_000)
    parser.add_argument("--backend", choices=["simulated", "epp", "both"], default="both")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    os.environ.setdefault("INSTANCE_PATH", tempfile.mkdtemp(prefix="rr-bench-instance-"))
    folder = Path(tempfile.mkdtemp(prefix="rr-bench-sync-"))
    try:
        print(
            f"{platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
            f"{args.domains} domains"
        )
        built = folder / "built.db"
        started = time.perf_counter()
        portfolio = build(built, args.domains, args.seed)
        print(f"built in {time.perf_counter() - started:.1f} s")
        changes = differences(portfolio, args.seed)
        for backend in ("simulated", "epp"):
            if args.backend in (backend, "both"):
                copy = folder / f"{backend}.db"
                shutil.copy(built, copy)
                (bench_simulated if backend == "simulated" else bench_epp)(copy, portfolio, changes)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
