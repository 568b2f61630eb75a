"""Time the expiration list (``/expirations/``) and its CSV export at 300,000 domains.

    python benchmarks/expiration_list.py [--domains 300000] [--runs 5] [--keep FILE]

Builds a fresh SQLite database (``domain_list.build``: 5,000 relations under 20 sales
contacts, ``--domains`` domains expiring over the next two years) and gives 2% of the domains
a current decision. Then, with Flask's test client, as the Admin and as a Sales contact:

- the page (``GET /expirations/``, the default window of the next three months: the first
  2,000 rows and the totals per month) against a raw baseline: the same rows (the visible
  domains of the window joined to their relation, sales contact and current decision, first
  2,000 by expiry date and name) and the same totals (a ``GROUP BY`` month and decision), as
  two plain SQL queries;
- the CSV export of a custom window over the two years (every domain: ``GET
  /expirations/export.csv``, the whole body read) against a raw SQL-to-``csv.writer`` export
  of the same rows and columns (one query, written into memory).

Prints the medians over ``--runs`` after a warm-up and the ratios; for the exports also the
ratio of the process's CPU times (steadier than wall time when other jobs share the cores).
Targets (issue 16): the page under 150 ms; the export at most 1.5x the raw export.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from domain_list import PASSWORD, build, median_ms  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from renewal_reminder.setup import prepare_database  # noqa: E402
from renewal_reminder.standalone import create_app  # noqa: E402

#: The current decision of each domain for its expiry date, as the product defines it: the
#: latest row not superseded.
CURRENT = (
    "LEFT JOIN rr_renewal_decision c ON c.id = (SELECT max(x.id) FROM rr_renewal_decision x"
    " WHERE x.domain_id = d.id AND x.expiry_date = d.expiry_date AND x.state != 'superseded')"
)


def add_decisions(app) -> None:
    session = app.extensions["appbuilder"].session
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(" ")
    session.execute(
        text(
            "INSERT INTO rr_renewal_decision (domain_id, relation_id, decision, years,"
            " expiry_date, channel, decided_at, state, attempts) SELECT id, relation_id,"
            " CASE id % 2 WHEN 0 THEN 'renew' ELSE 'decline' END,"
            " CASE id % 2 WHEN 0 THEN 1 END, expiry_date, 'selection_page', :now,"
            " 'queued', 0 FROM rr_domain WHERE id % 50 = 0"
        ),
        {"now": now},
    )
    session.execute(text("ANALYZE"))
    session.commit()


def scope_sql(sales_id: int | None) -> str:
    if sales_id is None:
        return ""
    return (
        f" AND d.relation_id IN (SELECT id FROM rr_relation WHERE sales_contact_id = {sales_id}"
        " OR parent_id IN (SELECT id FROM rr_relation WHERE sales_contact_id ="
        f" {sales_id}))"
    )


def raw_page(connection, sales_id: int | None, start: dt.date, end: dt.date) -> None:
    """The page's rows and totals as plain SQL."""
    where = (
        "d.status IN ('active', 'renewal_confirmed', 'renewal_declined')"
        " AND d.expiry_date BETWEEN :start AND :end" + scope_sql(sales_id)
    )
    params = {"start": start.isoformat(), "end": end.isoformat()}
    rows = connection.execute(
        text(
            "SELECT d.id, d.name, d.expiry_date, d.status, d.renewal_years, r.number, r.name,"
            " u.username, c.decision, c.years, c.state FROM rr_domain d"
            " JOIN rr_relation r ON r.id = d.relation_id"
            f" LEFT JOIN ab_user u ON u.id = r.sales_contact_id {CURRENT}"
            f" WHERE {where} ORDER BY d.expiry_date, d.name LIMIT 2000"
        ),
        params,
    ).all()
    totals = connection.execute(
        text(
            "SELECT substr(d.expiry_date, 1, 7), c.decision, count(*) FROM rr_domain d"
            f" {CURRENT} WHERE {where} GROUP BY 1, 2"
        ),
        params,
    ).all()
    assert rows and totals


def raw_export(connection, sales_id: int | None, start: dt.date, end: dt.date) -> int:
    """Every row of the window as CSV: one query straight into ``csv.writer``."""
    today = dt.date.today()
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    result = connection.execute(
        text(
            "SELECT d.name, d.relation_id, r.number, r.name, d.expiry_date, d.status,"
            " d.renewal_years, u.username, c.decision, c.years, c.state FROM rr_domain d"
            " JOIN rr_relation r ON r.id = d.relation_id"
            f" LEFT JOIN ab_user u ON u.id = r.sales_contact_id {CURRENT}"
            " WHERE d.status IN ('active', 'renewal_confirmed', 'renewal_declined')"
            f" AND d.expiry_date BETWEEN :start AND :end{scope_sql(sales_id)}"
            " ORDER BY d.expiry_date, d.name"
        ),
        {"start": start.isoformat(), "end": end.isoformat()},
    )
    writer.writerow(["domain", "domain_ascii", "relation_number", "relation_name", "expiry_date"])
    count = 0
    for (
        name,
        _rel,
        number,
        rel_name,
        expiry,
        status,
        years,
        sales,
        decision,
        dyears,
        state,
    ) in result:
        expiry_date = dt.date.fromisoformat(expiry) if isinstance(expiry, str) else expiry
        writer.writerow(
            [
                name,
                name,
                number,
                rel_name,
                expiry_date.isoformat(),
                (expiry_date - today).days,
                status,
                years or "",
                sales or "",
                decision or "",
                dyears or "",
                state or "",
            ]
        )
        count += 1
    return count


def medians_ms(action, runs: int) -> tuple[float, float]:
    """The median wall time and the median CPU time of this process (the app, SQLite and
    the raw export all run in it): on a shared machine the CPU time barely moves with the
    other jobs' load, the wall time does."""
    action()  # warm-up
    walls, cpus = [], []
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        action()
        cpus.append((time.process_time() - cpu) * 1000)
        walls.append((time.perf_counter() - wall) * 1000)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domains", type=int, default=300_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="build into this SQLite file once, reuse it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir="/dev/shm" if os.path.isdir("/dev/shm") else None) as tmp:
        db_file = args.keep or Path(tmp) / "bench.db"
        reuse = args.keep is not None and args.keep.exists()
        url = f"sqlite:///{db_file}"
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": url,
                "TESTING": True,
                "SECRET_KEY": "benchmark-expiration-list-7f3c9a1e5b2d4c6e",
                "WTF_CSRF_ENABLED": False,
                "RATELIMIT_ENABLED": False,
                "SCHEDULER_ENABLED": False,
                "FAB_PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
            }
        )
        started = time.perf_counter()
        with app.app_context():
            prepare_database(app)
            if not reuse:
                build(app, args.domains)
                add_decisions(app)
            sales_id = app.extensions["appbuilder"].session.scalar(
                text("SELECT id FROM ab_user WHERE username = 'sales0@example.com'")
            )
        print(
            f"sqlite: {'reused' if reuse else 'built'} {args.domains:,} domains in "
            f"{time.perf_counter() - started:.0f} s; medians of {args.runs} runs"
        )
        today = dt.date.today()
        from dateutil.relativedelta import relativedelta

        window = (today, today + relativedelta(months=3))
        everything = (today, today + dt.timedelta(days=800))
        raw = create_engine(url)
        for who, username, scope in (
            ("Admin", "admin@example.com", None),
            ("Sales", "sales0@example.com", sales_id),
        ):
            client = app.test_client()
            client.post("/login/", data={"username": username, "password": PASSWORD})

            def page(client=client):
                response = client.get("/expirations/")
                assert response.status_code == 200, response.status_code

            export_url = (
                f"/expirations/export.csv?window=custom&from={everything[0]}&to={everything[1]}"
            )
            lines = [0]

            def export(client=client, url=export_url, lines=lines):
                response = client.get(url)
                assert response.status_code == 200, response.status_code
                lines[0] = response.get_data().count(b"\n") - 1

            with raw.connect() as connection:
                project_page = median_ms(page, args.runs)
                bare_page = median_ms(
                    lambda c=connection, s=scope: raw_page(c, s, *window), args.runs
                )
                project_csv, project_cpu = medians_ms(export, args.runs)
                bare_count = [0]

                def bare_export(c=connection, s=scope, counted=bare_count):
                    counted[0] = raw_export(c, s, *everything)

                bare_csv, bare_cpu = medians_ms(bare_export, args.runs)
            assert lines[0] == bare_count[0], (lines[0], bare_count[0])
            print(
                f"{who}: GET /expirations/ (next 3 months) {project_page:6.1f} ms; raw SQL rows "
                f"+ totals {bare_page:6.1f} ms; ratio {project_page / bare_page:4.1f}x"
            )
            print(
                f"{who}: export.csv ({lines[0]:,} rows) {project_csv:7.0f} ms; raw SQL to "
                f"csv.writer {bare_csv:7.0f} ms; ratio {project_csv / bare_csv:4.2f}x (CPU "
                f"{project_cpu:.0f} / {bare_cpu:.0f} ms: {project_cpu / bare_cpu:4.2f}x)"
            )
        raw.dispose()
        print(
            f"machine: {platform.machine()}, {os.cpu_count()} CPUs, "
            f"Python {platform.python_version()}; targets: page < 150 ms, CSV <= 1.5x raw"
        )


if __name__ == "__main__":
    main()
