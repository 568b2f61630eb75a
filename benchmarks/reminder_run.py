"""Time one day's reminder run on a synthetic portfolio, delivering to a local SMTP sink.

    python benchmarks/reminder_run.py [--domains 1000000] [--relations 100000]
        [--keep DIR] [--today 2027-01-10] [--seed 1] [--history-days 7] [--repeat 1]
        [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/test] [--profile]

Build (skipped when ``--keep DIR`` already holds a database built with the same options): a
fresh SQLite file (or, with ``--database-url``, a PostgreSQL database on that server, named
after the options and kept with ``--keep``) with the schema from ``create_app``
(``FAB_CREATE_DB``); the relations (5%
resellers; 60% of the clients under a reseller, nine in ten of those routing their reminders
to it; a few sales contacts; English and Dutch); the domains (about 10% IDN), their expiry
dates spread uniformly over 400 days around ``--today`` (60 days already expired), statuses
mostly active/renewed with some renewal_confirmed/renewal_declined/deactivated. Rows go in
with Core ``executemany`` in large batches. Then the steady state: the job ran on each of the
previous ``--history-days`` days (default 7, the catch-up window), so ``rr_reminder_log``
holds a ``sent`` row for everything that was due on each of those days.

Measure, in a fresh process (its peak RSS is the run's alone, not the build's): the built
database is copied to a scratch file (PostgreSQL: a scratch database made from it as a
template; a run writes the log, so ``--keep`` stays reusable), an SMTP sink is started in
another process (``python -m aiosmtpd ... aiosmtpd.handlers.Sink``), and the measuring process
times ``reminders.due`` alone (3 calls, min reported), then the whole
``jobs.run_reminders(app, today)``, and reports its peak RSS. A per-phase breakdown of the run
comes from thin timing wrappers around the app's functions (negligible overhead); ``--profile``
adds a cProfile of the run (which slows it: use the unprofiled figures).

The bare baseline, in the same process and into the same sink: a plain ``smtplib`` loop
(``sendmail`` over one connection of its own) sending prebuilt multipart messages, as many as
the run sends, interleaved with the run: after each chunk of the run (``CHUNK_SIZE`` digests)
it sends as many messages, timed apart and left out of the run's time, so that both see the
same machine second by second (on a shared machine the speed moves several-fold within a
minute). Its messages are built before it starts, from the first due digests through the
app's own rendering and builder: the same sizes as the run's. The figure that counts is the
ratio of the run's emails/s (everything: due set, claims, rendering, building, sending,
recording) to the bare loop's.

Targets (the issue): due set under 2 s, at least 300 emails/s for the whole run over one
reused SMTP connection and at least 0.6x the bare loop's emails/s, peak memory under 300 MB
(growing with the due set only).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import resource
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_TODAY = dt.date(2027, 1, 10)
SALES_CONTACTS = [f"sales{i}@example.com" for i in range(1, 6)]
TLDS = ["nl", "com", "de", "eu", "be", "org"]
WORDS = ["shop", "web", "bakkerij", "garage", "studio", "media", "bouw", "hotel", "kapper"]
IDN_WORDS = ["bücher", "café", "zürich", "möbel", "bäckerei"]
#: (status, weight): most domains await a decision (active, renewed).
STATUSES = [
    ("active", 80),
    ("renewed", 8),
    ("renewal_confirmed", 5),
    ("renewal_declined", 4),
    ("deactivated", 3),
]
EXPIRY_DAYS_BEFORE = 60  # expiry dates from today - 60 ...
EXPIRY_SPAN = 400  # ... over 400 days
BATCH = 50_000


#: Prebuilt messages the bare loop cycles through (from the first due digests).
BARE_SAMPLE = 200


def base_config(database_uri: str) -> dict:
    return {
        "SQLALCHEMY_DATABASE_URI": database_uri,
        "FAB_CREATE_DB": True,
        "FAB_UPDATE_PERMS": False,
        "TESTING": True,
        "SECRET_KEY": "benchmark-secret-key-" + "x" * 32,
        "RATELIMIT_ENABLED": False,
        "MAIL_SUPPRESS_SEND": True,
    }


def rss_mib() -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def peak_kib() -> int:
    """``ru_maxrss`` (KiB on Linux). Linux carries it across ``execve`` from the process image
    that exec'd, so a measuring process spawned by a big parent would inherit the parent's
    peak: the build therefore runs in a subprocess of its own and the parent stays small."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def hwm_kib() -> int:
    """VmHWM: the peak RSS of this process image alone (reset by exec), as a cross-check."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


# --- build ---------------------------------------------------------------------------------


def build(
    database_uri: str, domains: int, relations: int, today: dt.date, seed: int, history_days: int
) -> None:
    """Build the steady-state database at ``database_uri`` (an empty file or database; the
    caller gives it its final name once built, so an interrupted build is never reused)."""
    from sqlalchemy import select, text

    from renewal_reminder.models import AWAITING_DECISION, Domain, JobRun, Relation, ReminderLog
    from renewal_reminder.renewals.calendar import due_ranges
    from renewal_reminder.renewals.reminders import ReminderSettings
    from renewal_reminder.standalone import create_app

    rng = random.Random(seed)
    started = time.perf_counter()

    app = create_app(base_config(database_uri))
    appbuilder = app.extensions["appbuilder"]
    with app.app_context():
        sm = appbuilder.sm
        sales_role = sm.find_role("Sales")
        sales_ids = []
        for email in SALES_CONTACTS:
            user = sm.find_user(email=email) or sm.add_user(
                email, "Sales", "Contact", email, sales_role, password="benchmark-" + "x" * 8
            )
            sales_ids.append(user.id)
        settings = ReminderSettings.from_config(app.config)
        appbuilder.session.remove()
        engine = appbuilder.session.get_bind()
    # A pooled connection left open by the app's set-up would keep the journal mode
    # (WAL, set by the standalone app) from changing: start from no connections.
    engine.dispose()

    now = dt.datetime(today.year, today.month, today.day) - dt.timedelta(days=30)
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as conn:
        if sqlite:
            conn.exec_driver_sql("PRAGMA synchronous=OFF")
            conn.exec_driver_sql("PRAGMA journal_mode=MEMORY")
            conn.exec_driver_sql("PRAGMA cache_size=-200000")

        # Relations: resellers first (ids 1..R), then clients.
        resellers = max(1, relations // 20)
        recipient_email: list[str] = [""] * (relations + 1)
        holder_email: list[str] = [""] * (relations + 1)
        rows = []
        for rid in range(1, relations + 1):
            number = 100_000 + rid
            is_reseller = rid <= resellers
            parent = None
            to_reseller = True
            if not is_reseller and rng.random() < 0.6:
                parent = rng.randint(1, resellers)
                to_reseller = rng.random() < 0.9
            email = f"billing{number}@relation{number}.example"
            holder_email[rid] = email
            recipient_email[rid] = (
                holder_email[parent] if parent is not None and to_reseller else email
            )
            sales = None
            if is_reseller or (parent is None and rng.random() < 0.2):
                sales = rng.choice(sales_ids)
            rows.append(
                {
                    "id": rid,
                    "number": number,
                    "name": f"Relation {number} B.V.",
                    "billing_email": email,
                    "kind": "reseller" if is_reseller else "client",
                    "parent_id": parent,
                    "sales_contact_id": sales,
                    "language": "nl" if number % 3 else "en",
                    "reminders_to_reseller": to_reseller,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            if len(rows) >= BATCH:
                conn.execute(Relation.__table__.insert(), rows)
                rows = []
        if rows:
            conn.execute(Relation.__table__.insert(), rows)
        conn.commit()
        t_relations = time.perf_counter() - started

        # Domains.
        import idna

        first_expiry = today - dt.timedelta(days=EXPIRY_DAYS_BEFORE)
        status_names = [name for name, _ in STATUSES]
        status_weights = [weight for _, weight in STATUSES]
        idn_names = {}
        rows = []
        for did in range(1, domains + 1):
            if rng.random() < 0.1:
                word = rng.choice(IDN_WORDS)
                name = idna.encode(f"{word}{did}.{rng.choice(TLDS)}").decode("ascii")
                idn_names[did] = name
            else:
                name = f"{rng.choice(WORDS)}{did}.{rng.choice(TLDS)}"
            rows.append(
                {
                    "id": did,
                    "name": name,
                    "relation_id": rng.randint(1, relations),
                    "expiry_date": first_expiry + dt.timedelta(days=rng.randrange(EXPIRY_SPAN)),
                    "status": rng.choices(status_names, status_weights)[0],
                    "renewal_years": None,
                    "notes": None,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            if len(rows) >= BATCH:
                conn.execute(Domain.__table__.insert(), rows)
                rows = []
        if rows:
            conn.execute(Domain.__table__.insert(), rows)
        conn.commit()
        t_domains = time.perf_counter() - started

        # Steady state: what was due on each of the previous days has been sent that day.
        log_rows = 0
        domain = Domain.__table__
        for back in range(history_days, 0, -1):
            day = today - dt.timedelta(days=back)
            sent_at = dt.datetime(day.year, day.month, day.day, 6, 0)
            rows = []
            for expiry_range in due_ranges(settings.offsets, day, 0):
                offset = expiry_range.offset
                found = conn.execute(
                    select(domain.c.id, domain.c.expiry_date, domain.c.relation_id).where(
                        domain.c.status.in_([status.value for status in AWAITING_DECISION]),
                        domain.c.expiry_date.between(expiry_range.first, expiry_range.last),
                    )
                )
                for domain_id, expiry, relation_id in found:
                    rows.append(
                        {
                            "domain_id": domain_id,
                            "expiry_date": expiry,
                            "offset_code": offset.code,
                            "reminder_date": offset.reminder_date(expiry),
                            "run_date": day,
                            "recipient": recipient_email[relation_id],
                            "status": "sent",
                            "claim_token": None,
                            "claimed_at": sent_at,
                            "sent_at": sent_at,
                            "attempts": 1,
                            "error": None,
                            "created_at": sent_at,
                        }
                    )
            for start in range(0, len(rows), BATCH):
                conn.execute(ReminderLog.__table__.insert(), rows[start : start + BATCH])
            conn.execute(
                JobRun.__table__.insert(),
                [
                    {
                        "job": "reminders",
                        "run_date": day,
                        "started_at": sent_at,
                        "finished_at": sent_at + dt.timedelta(minutes=1),
                        "ok": True,
                        "dry_run": False,
                        "summary": f"benchmark history: {len(rows)} reminders",
                        "reminder_offsets": settings.calendar,
                        "next_run_at": None,
                    }
                ],
            )
            conn.commit()
            log_rows += len(rows)
        if sqlite:
            size = conn.exec_driver_sql(
                "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()"
            ).scalar()
        else:  # the ids went in as given: move the sequences past them
            for table in ("rr_relation", "rr_domain"):
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT max(id) FROM {table}))"
                    )
                )
            conn.execute(text("ANALYZE"))
            conn.commit()
            size = conn.execute(text("SELECT pg_database_size(current_database())")).scalar()
    engine.dispose()
    total = time.perf_counter() - started
    size = size / 1024 / 1024
    print(
        f"built {engine.url.database}: {relations:,} relations ({t_relations:.1f} s), "
        f"{domains:,} domains ({t_domains - t_relations:.1f} s), {log_rows:,} log rows for "
        f"{history_days} previous days ({total - t_domains:.1f} s); {size:.0f} MiB, "
        f"{total:.1f} s in all",
        flush=True,
    )


# --- measure (runs in its own process) ------------------------------------------------------


class Timers:
    """Accumulated seconds and calls per name, from thin wrappers around app functions."""

    def __init__(self):
        self.names: list[str] = []  # in the order wrapped
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds
        self.calls[name] = self.calls.get(name, 0) + 1

    def wrap(self, owner, attribute: str, name: str) -> None:
        original = getattr(owner, attribute, None)
        if original is None:  # renamed in the app: leave that line out of the breakdown
            return
        self.names.append(name)

        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.add(name, time.perf_counter() - started)

        setattr(owner, attribute, timed)

    def wrap_generator(self, owner, attribute: str, name: str) -> None:
        original = getattr(owner, attribute, None)
        if original is None:
            return
        self.names.append(name)

        def timed(*args, **kwargs):
            iterator = original(*args, **kwargs)
            while True:
                started = time.perf_counter()
                try:
                    item = next(iterator)
                except StopIteration:
                    self.add(name, time.perf_counter() - started)
                    return
                self.add(name, time.perf_counter() - started)
                yield item

        setattr(owner, attribute, timed)


class BareLoop:
    """The baseline: a plain smtplib loop sending prebuilt messages (cycling through
    ``messages``) over one connection into the sink, a slice at a time."""

    def __init__(self, port: int, messages: list[tuple[str, list[str], bytes]]):
        import smtplib

        self.messages = messages
        self.smtp = smtplib.SMTP("127.0.0.1", port, timeout=30)
        self.sent = 0
        self.seconds = 0.0

    def send(self, count: int) -> None:
        started = time.perf_counter()
        for _ in range(count):
            sender, recipients, data = self.messages[self.sent % len(self.messages)]
            self.smtp.sendmail(sender, recipients, data)
            self.sent += 1
        self.seconds += time.perf_counter() - started

    def close(self) -> None:
        self.smtp.quit()


def prebuilt_messages(app, due: list, today: dt.date, settings) -> list:
    """The bare loop's messages: the first due digests, rendered and built by the app."""
    from renewal_reminder.renewals import email_templates, mailer, reminders
    from renewal_reminder.session import current_mail, current_session

    with app.app_context():
        session = current_session()
        sample = reminders.digests(session, due, settings.mail)[:BARE_SAMPLE]
        templates = email_templates.TemplateCache(session)
        outbox = mailer.Outbox(current_mail(), settings.mail.sender)
        messages = []
        for digest in sample:
            source = templates.get(email_templates.RENEWAL_REMINDER, digest.recipient.language)
            rendered = email_templates.render(
                source, reminders.digest_context(digest, today, settings)
            )
            outgoing = mailer.OutgoingEmail(
                digest.recipient.email, rendered, reply_to=digest.recipient.reply_to
            )
            wire = outbox._build(outgoing)
            messages.append((outbox._envelope_sender, wire.recipients, wire.data))
        session.rollback()
    return messages


def measure(database_uri: str, port: int, today: dt.date, profile: bool) -> dict:
    from sqlalchemy import event, func, select, text

    from renewal_reminder import jobs
    from renewal_reminder.models import ReminderLog
    from renewal_reminder.renewals import claims, email_templates, mailer, reminders
    from renewal_reminder.renewals.calendar import due_ranges
    from renewal_reminder.session import current_session
    from renewal_reminder.standalone import create_app

    result: dict = {"rss_at_start_mib": rss_mib()}
    config = base_config(database_uri)
    config.update(
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=port,
        MAIL_SUPPRESS_SEND=False,
        MAIL_DEFAULT_SENDER="renewals@registrar.example",
        RENEWALS_BASE_URL="https://renewals.registrar.example",
    )
    app = create_app(config)
    settings = reminders.ReminderSettings.from_config(app.config)
    result["rss_after_app_mib"] = rss_mib()
    result["ranges"] = [
        f"{r.offset.code} {r.first}..{r.last}"
        for r in due_ranges(settings.offsets, today, settings.catchup_days)
    ]

    # 1. The due set alone.
    statements: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        statements.append((statement, parameters))

    due_seconds = []
    with app.app_context():
        session = current_session()
        engine = session.get_bind()
        for attempt in range(3):
            if attempt == 0:
                event.listen(engine, "before_cursor_execute", capture)
            started = time.perf_counter()
            due = reminders.due(session, today, settings)
            due_seconds.append(time.perf_counter() - started)
            if attempt == 0:
                event.remove(engine, "before_cursor_execute", capture)
            session.rollback()
        result["due_count"] = len(due)
        result["due_recipients"] = len({reminder.recipient_id for reminder in due})
        sample = due[: BARE_SAMPLE * 3]
        result["due_by_offset"] = {}
        for reminder in due:
            code = reminder.offset.code
            result["due_by_offset"][code] = result["due_by_offset"].get(code, 0) + 1
        del due
        result["due_queries"] = len(statements)
        statement, parameters = statements[0]
        explain = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
        plan = session.connection().exec_driver_sql(explain + statement, parameters).all()
        result["due_plan"] = [row[-1] for row in plan]
        session.rollback()
    result["due_seconds"] = due_seconds
    result["rss_after_due_mib"] = rss_mib()
    result["database"] = engine.dialect.name

    # The bare baseline's messages, built now; it sends them between the run's chunks.
    messages = prebuilt_messages(app, sample, today, settings)
    del sample
    result["bare_message_bytes"] = sum(len(m[2]) for m in messages) // len(messages)
    bare = BareLoop(port, messages)
    send_chunk = reminders._send_chunk

    def chunk_then_bare(session, outbox, today, settings, chunk, *args):
        send_chunk(session, outbox, today, settings, chunk, *args)
        bare.send(len(chunk))

    reminders._send_chunk = chunk_then_bare

    # 2. The whole run, with a per-phase breakdown.
    timers = Timers()
    timers.wrap(reminders, "due", "due")
    timers.wrap(reminders, "digests", "digests")
    timers.wrap(reminders, "_claim", "claim (insert log rows, commit, read back)")
    timers.wrap_generator(mailer.Outbox, "send", "Outbox.send (build + send)")
    timers.wrap(reminders, "digest_context", "  digest_context (builder thread)")
    timers.wrap(email_templates, "render", "  render (Jinja, 3 parts; builder thread)")
    timers.wrap(mailer, "_mime", "  MIME message (bytes; builder thread)")
    timers.wrap(mailer, "_open", "  SMTP connect")
    timers.wrap(mailer.Outbox, "_transaction", "  SMTP MAIL/RCPT/DATA (round trips)")
    recorder = getattr(claims, "OutcomeRecorder", None)  # (absent before it was written)
    timers.wrap(recorder, "wait", "  wait for the last outcome (before the final line)")
    timers.wrap(recorder, "_commit", "  record an outcome (recorder thread)")
    sql_count = [0]

    def count(*_args):
        sql_count[0] += 1

    event.listen(engine, "before_cursor_execute", count)
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    started = time.perf_counter()
    summary = jobs.run_reminders(app, today)
    run_seconds = time.perf_counter() - started - bare.seconds
    bare.close()
    reminders._send_chunk = send_chunk
    if profiler:
        profiler.disable()
    event.remove(engine, "before_cursor_execute", count)
    result["peak_rss_kib"] = peak_kib()
    result["peak_hwm_kib"] = hwm_kib()
    result["run_seconds"] = run_seconds
    result["bare_count"] = bare.sent
    result["bare_seconds"] = bare.seconds
    result["summary"] = {
        "text": str(summary),
        "recipients": summary.recipients,
        "domains": summary.domains,
        "sent": summary.sent,
        "failed": summary.failed,
        "skipped": summary.skipped,
        "problems": summary.problems[:5],
    }
    result["sql_statements"] = sql_count[0]
    result["breakdown"] = [
        (name, timers.calls.get(name, 0), timers.seconds.get(name, 0.0)) for name in timers.names
    ]
    result["chunk_size"] = reminders.CHUNK_SIZE

    # 3. Consistency: what the log says now, and that nothing is due any more.
    with app.app_context():
        session = current_session()
        result["log_sent_today"] = session.scalar(
            select(func.count(ReminderLog.id)).where(
                ReminderLog.run_date == today, ReminderLog.status == "sent"
            )
        )
        result["due_after_run"] = len(reminders.due(session, today, settings))
        if engine.dialect.name == "sqlite":
            result["sqlite_cache_size"] = session.execute(text("PRAGMA cache_size")).scalar()
        session.rollback()

    if profiler:
        import io
        import pstats

        for order in ("cumulative", "tottime"):
            buffer = io.StringIO()
            pstats.Stats(profiler, stream=buffer).sort_stats(order).print_stats(30)
            print(buffer.getvalue(), file=sys.stderr)
    return result


# --- orchestration --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_sink(port: int) -> subprocess.Popen:
    sink = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            f"127.0.0.1:{port}",
            "-c",
            "aiosmtpd.handlers.Sink",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if sink.poll() is not None:
            raise SystemExit(f"SMTP sink exited: {sink.stderr.read().decode(errors='replace')}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return sink
        except OSError:
            time.sleep(0.1)
    sink.terminate()
    raise SystemExit(f"SMTP sink did not accept connections on port {port}")


def stop_sink(sink: subprocess.Popen) -> None:
    sink.terminate()
    try:
        sink.wait(timeout=10)
    except subprocess.TimeoutExpired:
        sink.kill()
        sink.wait()


def machine() -> dict:
    import sqlalchemy

    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    except OSError:
        nproc = str(len(os.sched_getaffinity(0)))
    memory = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB RAM"
    except OSError:
        pass
    return {
        "nproc": nproc,
        "cpu": cpu,
        "memory": memory,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "sqlalchemy": sqlalchemy.__version__,
        "platform": platform.platform(),
    }


def measure_in_subprocess(database_uri: str, today: dt.date, profile: bool) -> dict:
    port = free_port()
    sink = start_sink(port)
    try:
        command = [
            sys.executable,
            __file__,
            "--measure-db",
            database_uri,
            "--port",
            str(port),
            "--today",
            today.isoformat(),
        ]
        if profile:
            command.append("--profile")
        done = subprocess.run(command, stdout=subprocess.PIPE, text=True)
    finally:
        stop_sink(sink)
    if done.returncode != 0:
        raise SystemExit(f"the measuring process failed (exit {done.returncode})")
    return json.loads(done.stdout.strip().splitlines()[-1])


def report(result: dict, args, machine_info: dict) -> float:
    """Print one measurement; return its run / bare loop ratio."""
    mb = result["peak_rss_kib"] * 1024 / 1e6
    mib = result["peak_rss_kib"] / 1024
    due_min = min(result["due_seconds"])
    summary = result["summary"]
    per_second = summary["sent"] / result["run_seconds"] if result["run_seconds"] else 0.0
    bare_per_second = result["bare_count"] / result["bare_seconds"]
    ratio = per_second / bare_per_second

    def verdict(ok: bool) -> str:
        return "ok" if ok else "MISSED"

    print()
    print(
        f"Reminder run for {args.today}: {args.domains:,} domains, "
        f"{args.relations:,} relations, "
        f"{'SQLite' if result['database'] == 'sqlite' else 'PostgreSQL'}"
    )
    if args.profile:
        print(
            "  ** cProfile was on: the run's timings below are inflated; rerun without "
            "--profile for the figures **"
        )
    print(f"  due ranges: {'; '.join(result['ranges'])}")
    print(f"  due query plan (first range): {' | '.join(result['due_plan'])}")
    print()
    rows = [
        ("due(): reminders due", f"{result['due_count']:,}", ""),
        ("due(): recipients", f"{result['due_recipients']:,}", ""),
        (
            "due(): SQL queries",
            f"{result['due_queries']}",
            "by offset: "
            + ", ".join(f"{code} {n:,}" for code, n in result["due_by_offset"].items()),
        ),
        (
            "due(): seconds (min of 3)",
            f"{due_min:.3f}",
            f"< 2 s: {verdict(due_min < 2)}  (all: "
            + ", ".join(f"{s:.3f}" for s in result["due_seconds"])
            + ")",
        ),
        ("run: recipients / domains", f"{summary['recipients']:,} / {summary['domains']:,}", ""),
        (
            "run: sent / failed / skipped",
            f"{summary['sent']:,} / {summary['failed']:,} / {summary['skipped']:,}",
            "",
        ),
        ("run: seconds", f"{result['run_seconds']:.2f}", ""),
        ("run: emails per second", f"{per_second:,.0f}", f">= 300: {verdict(per_second >= 300)}"),
        (
            "bare smtplib loop: emails per second",
            f"{bare_per_second:,.0f}",
            f"{result['bare_count']:,} prebuilt messages of ~{result['bare_message_bytes']:,} "
            f"bytes into the same sink in {result['bare_seconds']:.2f} s, a chunk's worth after "
            "each chunk of the run",
        ),
        ("run / bare loop", f"{ratio:.2f}x", f">= 0.6x: {verdict(ratio >= 0.6)}"),
        (
            "run: SQL statements",
            f"{result['sql_statements']:,}",
            f"CHUNK_SIZE {result['chunk_size']}",
        ),
        (
            "peak RSS (measuring process)",
            f"{mib:.0f} MiB = {mb:.0f} MB",
            f"< 300 MB: {verdict(mb < 300)}",
        ),
        ("  cross-check: VmHWM", f"{result['peak_hwm_kib'] / 1024:.0f} MiB", ""),
        (
            "RSS after create_app / after due()",
            f"{result['rss_after_app_mib']:.0f} / {result['rss_after_due_mib']:.0f} MiB",
            "",
        ),
        (
            "log rows sent today / due after run",
            f"{result['log_sent_today']:,} / {result['due_after_run']:,}",
            "",
        ),
    ]
    width = max(len(row[0]) for row in rows)
    value_width = max(len(row[1]) for row in rows)
    for label, value, note in rows:
        print(f"  {label:<{width}}  {value:>{value_width}}  {note}")
    print()
    print(
        "  run breakdown (inclusive seconds; indented lines happen during Outbox.send, on its"
        " thread or its builder thread):"
    )
    for name, calls, seconds in result["breakdown"]:
        print(f"    {name:<45} {calls:>7,} calls {seconds:8.2f} s")
    accounted = sum(s for n, _c, s in result["breakdown"] if not n.startswith(" "))
    print(
        f"    {'rest (log updates, commits, JobRun, ...)':<45} {'':>13} "
        f"{result['run_seconds'] - accounted:8.2f} s"
    )
    if summary["problems"]:
        print(f"  problems (first 5): {summary['problems']}")
    print()
    print(
        f"  machine: nproc {machine_info['nproc']}, {machine_info['cpu']}, "
        f"{machine_info['memory']}; Python {machine_info['python']}, "
        f"SQLite {machine_info['sqlite']}, SQLAlchemy {machine_info['sqlalchemy']}; "
        f"{machine_info['platform']}"
    )
    return ratio


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--domains", type=int, default=1_000_000)
    parser.add_argument("--relations", type=int, default=100_000)
    parser.add_argument(
        "--keep",
        type=Path,
        help="directory keeping the built database between runs (default: a temporary directory;"
        " with --database-url: keep the built database on the server)",
    )
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server (any database on it) to run on instead of SQLite, e.g. "
        "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    )
    parser.add_argument("--today", type=dt.date.fromisoformat, default=DEFAULT_TODAY)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--history-days",
        type=int,
        default=7,
        help="previous days on which the job already ran (default 7)",
    )
    parser.add_argument("--repeat", type=int, default=1, help="measured runs (fresh copy each)")
    parser.add_argument("--profile", action="store_true", help="cProfile the run (to stderr)")
    parser.add_argument("--build-db", help=argparse.SUPPRESS)
    parser.add_argument("--measure-db", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.build_db:  # the building process
        build(args.build_db, args.domains, args.relations, args.today, args.seed, args.history_days)
        return
    if args.measure_db:  # the measuring process
        result = measure(args.measure_db, args.port, args.today, args.profile)
        print(json.dumps(result, default=str))
        return

    with tempfile.TemporaryDirectory(prefix="rr-reminder-bench-") as tmp:
        store = built_store(args, Path(tmp))
        machine_info = machine()
        print(f"orchestrating process RSS {rss_mib():.0f} MiB (peak {peak_kib() / 1024:.0f} MiB)")
        ratios = []
        try:
            for _ in range(args.repeat):
                scratch = store.scratch()
                try:
                    result = measure_in_subprocess(scratch, args.today, args.profile)
                finally:
                    store.drop_scratch()
                ratios.append(report(result, args, machine_info))
        finally:
            store.close()
        if len(ratios) > 1:
            print(
                f"run / bare loop over {len(ratios)} runs: median {statistics.median(ratios):.2f}x"
                f" ({', '.join(f'{r:.2f}' for r in ratios)})"
            )


def built_store(args, tmp: Path) -> SqliteStore | PostgresStore:
    """The store of the database for ``args`` (``--domains``, ``--relations``, ``--today``,
    ``--seed``, ``--history-days``, ``--keep``, ``--database-url``), built first if it does
    not exist yet: in a process of its own, so that the build's memory never shows in a
    measurement. Shared with ``due_set.py``."""
    name = (
        f"reminders-{args.domains}d-{args.relations}r-seed{args.seed}-"
        f"{args.today}-h{args.history_days}"
    )
    store = (
        PostgresStore(args.database_url, name, keep=args.keep is not None)
        if args.database_url
        else SqliteStore(args.keep or tmp, name)
    )
    if store.exists():
        print(f"reusing {store.built_uri}", flush=True)
        return store
    partial = store.start_build()
    subprocess.run(
        [
            sys.executable,
            __file__,
            "--build-db",
            partial,
            "--domains",
            str(args.domains),
            "--relations",
            str(args.relations),
            "--today",
            args.today.isoformat(),
            "--seed",
            str(args.seed),
            "--history-days",
            str(args.history_days),
        ],
        check=True,
    )
    store.finish_build()
    return store


class SqliteStore:
    """The built database as a SQLite file in ``directory``; scratch copies beside it."""

    def __init__(self, directory: Path, name: str):
        directory.mkdir(parents=True, exist_ok=True)
        self.file = directory / f"{name}.db"
        self.partial = self.file.with_suffix(".partial")
        self.scratch_file = directory / "reminder-run-scratch.db"
        self.built_uri = str(self.file)

    def exists(self) -> bool:
        return self.file.exists()

    def start_build(self) -> str:
        for path in (self.partial, Path(f"{self.partial}-journal")):
            path.unlink(missing_ok=True)
        return f"sqlite:///{self.partial}"

    def finish_build(self) -> None:
        self.partial.replace(self.file)

    def scratch(self) -> str:
        shutil.copyfile(self.file, self.scratch_file)
        return f"sqlite:///{self.scratch_file}"

    def drop_scratch(self) -> None:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{self.scratch_file}{suffix}").unlink(missing_ok=True)

    def close(self) -> None:
        pass


class PostgresStore:
    """The built database on a PostgreSQL server (dropped at the end unless ``keep``); each
    measurement runs on a scratch database made from it as a template."""

    def __init__(self, url: str, name: str, keep: bool):
        from sqlalchemy import create_engine
        from sqlalchemy.engine import make_url

        self.url = make_url(url)
        self.name = "rrb_" + name.removeprefix("reminders-").replace("-", "_")  # < 64 bytes
        self.keep = keep
        self.built_uri = self.url.set(database=self.name).render_as_string(hide_password=False)
        #: This process's own: two benchmarks on one server never drop each other's scratch.
        self.scratch_name = f"{self.name}_scratch_{os.getpid()}"
        self.admin = create_engine(self.url.set(database="postgres"), isolation_level="AUTOCOMMIT")

    def _sql(self, statement: str):
        from sqlalchemy import text

        with self.admin.connect() as conn:
            result = conn.execute(text(statement))
            return result.all() if result.returns_rows else None

    def _uri(self, database: str) -> str:
        return self.url.set(database=database).render_as_string(hide_password=False)

    def exists(self) -> bool:
        return bool(self._sql(f"SELECT 1 FROM pg_database WHERE datname = '{self.name}'"))

    def start_build(self) -> str:
        self._sql(f'DROP DATABASE IF EXISTS "{self.name}_partial" WITH (FORCE)')
        self._sql(f'CREATE DATABASE "{self.name}_partial"')
        return self._uri(f"{self.name}_partial")

    def finish_build(self) -> None:
        self._sql(f'ALTER DATABASE "{self.name}_partial" RENAME TO "{self.name}"')

    def scratch(self) -> str:
        self.drop_scratch()
        self._sql(f'CREATE DATABASE "{self.scratch_name}" TEMPLATE "{self.name}"')
        return self._uri(self.scratch_name)

    def drop_scratch(self) -> None:
        self._sql(f'DROP DATABASE IF EXISTS "{self.scratch_name}" WITH (FORCE)')

    def close(self) -> None:
        if not self.keep:
            self._sql(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        self.admin.dispose()


if __name__ == "__main__":
    main()
