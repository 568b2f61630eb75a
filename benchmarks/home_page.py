"""Time the home pages at a million domains (target: each under 200 ms on SQLite).

    python benchmarks/home_page.py [--domains 1000000] [--runs 10]

Builds a fresh SQLite database: 5,000 relations (a tenth resellers) under 20 sales contacts,
``--domains`` domains expiring over the next two years (2% decided, with their queued
decisions), 1.3 reminder-log rows per domain (150,000 from the last week, 1% failed), an
Admin, a Sales contact and a reseller login. Then times ``GET /home/`` for each
with Flask's test client (the whole request: the aggregate queries, the SVG chart, the
response body): min, median and max over ``--runs`` requests after one warm-up.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from domain_list import PASSWORD, RELATIONS, create_staff_and_relations  # noqa: E402
from sqlalchemy import text  # noqa: E402

from renewal_reminder.renewals.accounts import create_login  # noqa: E402
from renewal_reminder.setup import prepare_database  # noqa: E402
from renewal_reminder.standalone import create_app  # noqa: E402


def build(app, domain_count: int) -> None:
    session = app.extensions["appbuilder"].session
    sm = app.extensions["appbuilder"].sm
    ids = create_staff_and_relations(app)
    today = dt.date.today()
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(" ")
    statuses = ["active"] * 98 + ["renewal_confirmed", "renewal_declined"]
    connection = session.connection().connection.dbapi_connection
    connection.executemany(
        "INSERT INTO rr_domain (name, relation_id, expiry_date, status, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (
            (
                f"domain-{i:07d}.com",
                ids[i % RELATIONS],
                (today + dt.timedelta(days=i % 730)).isoformat(),
                statuses[i % 100],
                now,
                now,
            )
            for i in range(domain_count)
        ),
    )
    connection.execute(
        "INSERT INTO rr_renewal_decision (domain_id, relation_id, decision, years, expiry_date,"
        " channel, decided_at, state, attempts) SELECT id, relation_id,"
        " CASE status WHEN 'renewal_confirmed' THEN 'renew' ELSE 'decline' END,"
        " CASE status WHEN 'renewal_confirmed' THEN 1 END, expiry_date, 'selection_page', ?,"
        " 'queued', 0 FROM rr_domain WHERE status IN ('renewal_confirmed', 'renewal_declined')",
        (now,),
    )
    # The reminder log of the last three months: 1.3 rows per domain, 150,000 of them from the
    # last 7 days (the home page counts their failures), 1% failed.
    log_rows = domain_count * 13 // 10
    recent = min(150_000, log_rows)
    connection.executemany(
        "INSERT INTO rr_reminder_log (domain_id, expiry_date, offset_code, reminder_date,"
        " run_date, recipient, status, attempts, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?)",
        (
            (
                i % domain_count + 1,
                (today + dt.timedelta(days=i % 730)).isoformat(),
                ("3m", "2m")[i // domain_count],
                today.isoformat(),
                today.isoformat(),
                f"r{i % RELATIONS}@example.com",
                "failed" if i % 100 == 0 else "sent",
                (
                    dt.datetime.combine(today, dt.time())
                    - dt.timedelta(days=(i % 7) if i < recent else 8 + i % 80)
                ).isoformat(" "),
            )
            for i in range(log_rows)
        ),
    )
    connection.commit()
    session.execute(text("ANALYZE"))
    create_login(session, sm, email="reseller@example.com", password=PASSWORD, relation_number=1)
    session.commit()


def time_home(app, username: str, runs: int) -> list[float]:
    client = app.test_client()
    client.post("/login/", data={"username": username, "password": PASSWORD})
    response = client.get("/home/")
    assert response.status_code == 200, (username, response.status_code)
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        client.get("/home/").get_data()
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domains", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/bench.db",
                "TESTING": True,
                "SECRET_KEY": "benchmark-home-page-7f3c9a1e5b2d4c6e",
                "WTF_CSRF_ENABLED": False,
                "RATELIMIT_ENABLED": False,
                "FAB_PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
            }
        )
        started = time.perf_counter()
        with app.app_context():
            prepare_database(app)  # migrations, roles, permission rows
            build(app, args.domains)
        print(f"built {args.domains:,} domains in {time.perf_counter() - started:.0f} s")
        for label, username in (
            ("Admin (all domains)", "admin@example.com"),
            ("Sales (1/20 of the relations)", "sales0@example.com"),
            ("Reseller (its own and its clients')", "reseller@example.com"),
        ):
            timings = time_home(app, username, args.runs)
            print(
                f"GET /home/ as {label}: min {min(timings):.0f} ms, "
                f"median {statistics.median(timings):.0f} ms, max {max(timings):.0f} ms"
            )


if __name__ == "__main__":
    main()
