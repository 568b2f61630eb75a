"""Time inviting every relation (``flask users invite --all-relations``) into an SMTP sink.

    python benchmarks/invite_benchmark.py [--relations 100000] [--keep DIR]

Build (in a subprocess, so the measuring process's peak memory is its own; skipped when
``--keep DIR`` already holds a database with as many relations): a fresh SQLite file with the
schema from ``create_app`` (``FAB_CREATE_DB``), the relations (5% resellers, English and
Dutch, a few sales contacts) inserted with Core ``executemany``.

Measure, in a fresh process: the built database is copied to a scratch file, an SMTP sink
is started in another process (``python -m aiosmtpd ... aiosmtpd.handlers.Sink``), and the
two steps of the command are timed: creating the invitations (``create_invitations``: one
row per relation, committed per chunk) and sending them (``send_invitations``: claim a chunk,
send each email over one reused SMTP connection, commit each outcome). Reports emails/s and
the process's peak RSS (``resource.getrusage``). A second run sends nothing (exactly once).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from reminder_run import SALES_CONTACTS, start_sink, stop_sink  # noqa: E402

BATCH = 20_000


def base_config(db_file: Path, port: int | None = None) -> dict:
    return {
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{db_file}",
        "FAB_CREATE_DB": True,
        "FAB_UPDATE_PERMS": False,
        "TESTING": True,
        "SECRET_KEY": "benchmark-secret-key-" + "x" * 32,
        "RATELIMIT_ENABLED": False,
        "MAIL_SUPPRESS_SEND": port is None,
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": port or 25,
        "MAIL_DEFAULT_SENDER": "renewals@reseller.example.com",
        "RENEWALS_BASE_URL": "https://renewals.example.com",
    }


def build(db_file: Path, relations: int, seed: int = 1) -> None:
    from renewal_reminder.models import Relation
    from renewal_reminder.standalone import create_app

    partial = db_file.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    rng = random.Random(seed)
    app = create_app(base_config(partial))
    appbuilder = app.extensions["appbuilder"]
    with app.app_context():
        sm = appbuilder.sm
        role = sm.find_role("Sales")
        sales_ids = [
            (sm.find_user(email=e) or sm.add_user(e, "Sales", "Contact", e, role, password="x")).id
            for e in SALES_CONTACTS
        ]
        engine = appbuilder.session.get_bind()
        appbuilder.session.remove()
    resellers = max(1, relations // 20)
    rows = []
    with engine.begin() as connection:
        for number in range(1, relations + 1):
            reseller = number <= resellers
            rows.append(
                {
                    "number": number,
                    "name": f"Relation {number}",
                    "billing_email": f"billing{number}@customer{number % 997}.example",
                    "kind": "reseller" if reseller else "client",
                    "parent_id": None,
                    "sales_contact_id": rng.choice(sales_ids),
                    "language": "nl" if rng.random() < 0.4 else "en",
                    "reminders_to_reseller": True,
                    "link_version": 1,
                }
            )
            if len(rows) >= BATCH:
                connection.execute(Relation.__table__.insert(), rows)
                rows = []
        if rows:
            connection.execute(Relation.__table__.insert(), rows)
    engine.dispose()
    partial.rename(db_file)


def measure(db_file: Path, port: int) -> dict:
    from renewal_reminder import settings
    from renewal_reminder.renewals import invitations, mailer
    from renewal_reminder.session import current_mail, current_session
    from renewal_reminder.standalone import create_app

    app = create_app(base_config(db_file, port))
    with app.app_context():
        session = current_session()
        mail = mailer.MailSettings.from_config(settings.current())
        relation_ids = session.scalars(invitations.relations_to_invite()).all()
        started = time.perf_counter()
        created = invitations.create_invitations(session, relation_ids, reinvite=False)
        create_seconds = time.perf_counter() - started
        started = time.perf_counter()
        summary = invitations.send_invitations(session, current_mail(), mail)
        send_seconds = time.perf_counter() - started
        # Exactly once: the command again creates and sends nothing.
        again_ids = invitations.create_invitations(session, relation_ids, reinvite=False)
        again = invitations.send_invitations(session, current_mail(), mail)
    total = create_seconds + send_seconds
    return {
        "relations": len(relation_ids),
        "created": len(created),
        "sent": summary.sent,
        "failed": summary.failed,
        "create_seconds": round(create_seconds, 2),
        "send_seconds": round(send_seconds, 2),
        "emails_per_second_sending": round(summary.sent / send_seconds, 1),
        "emails_per_second_whole_command": round(summary.sent / total, 1),
        "second_run_created": len(again_ids),
        "second_run_sent": again.sent,
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--relations", type=int, default=100_000)
    parser.add_argument("--keep", type=Path, help="Folder to keep (and reuse) the built database")
    parser.add_argument("--_build", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--_measure", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--_port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._build:
        build(args._build, args.relations)
        return
    if args._measure:
        print("RESULT " + json.dumps(measure(args._measure, args._port)))
        return

    folder = args.keep or Path(tempfile.mkdtemp(prefix="rr-invite-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    built = folder / f"invite-{args.relations}.db"
    if not built.exists():
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, __file__, "--relations", str(args.relations), "--_build", str(built)],
            check=True,
        )
        print(f"built {args.relations} relations in {time.perf_counter() - started:.1f} s")
    scratch = folder / "run.db"
    shutil.copy(built, scratch)
    port = free_port()
    sink = start_sink(port)
    try:
        result = subprocess.run(
            [sys.executable, __file__, "--_measure", str(scratch), "--_port", str(port)],
            check=True,
            capture_output=True,
            text=True,
        )
    finally:
        stop_sink(sink)
    line = [row for row in result.stdout.splitlines() if row.startswith("RESULT ")][-1]
    figures = json.loads(line.removeprefix("RESULT "))
    figures["machine"] = (
        f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    print(json.dumps(figures, indent=2))
    if not args.keep:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
