"""Time the Admin/Sales domain list (``/domains/list/``) at a million domains, page 1 and deep.

    python benchmarks/domain_list.py [--domains 1000000] [--runs 7] [--database sqlite|postgresql]
    python benchmarks/domain_list.py --database postgresql --postgres-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres

Builds a fresh database (SQLite in a temporary folder; PostgreSQL: a scratch database created
and dropped through ``--postgres-url``): 5,000 relations (a tenth resellers) under 20 sales
contacts, ``--domains`` domains expiring over the next two years, an Admin and a Sales login.
Then, with Flask's test client, times ``GET /domains/list/`` (the whole request: the scope
filter, the count, the page's rows and their relations, the rendered page) for the Admin and
for a Sales contact (a twentieth of the relations), on page 1 and on page 2000 (rows
50,001-50,025 at 25 a page), and counts the SQL statements of one request.

Baseline, measured in the same run on the same database: the page as one raw SQL query
(the visible domains joined to their relations, ordered by expiry date and name, ``LIMIT 25
OFFSET n``) plus a ``count(*)`` of the visible domains, through the same engine. Prints the
median over ``--runs`` requests after a warm-up, the baseline's median and their ratio.
Targets (issue 16): under 50 ms for page 1 and under 200 ms deep in the list.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, event, text  # noqa: E402

from renewal_reminder.models import Relation, RelationKind  # noqa: E402
from renewal_reminder.renewals.accounts import create_login  # noqa: E402
from renewal_reminder.setup import prepare_database  # noqa: E402
from renewal_reminder.standalone import create_app  # noqa: E402

PASSWORD = "benchmark-password-7Qx"
RELATIONS = 5000
SALES = 20
PAGE_SIZE = 25
DEEP_PAGE = 2000


def create_staff_and_relations(app) -> list[int]:
    """An Admin, ``SALES`` sales contacts and ``RELATIONS`` relations spread over them (every
    tenth a reseller), all with ``PASSWORD``; the relations' ids. Shared with
    ``home_page.py``."""
    session = app.extensions["appbuilder"].session
    sm = app.extensions["appbuilder"].sm
    sales = [
        create_login(session, sm, email=f"sales{i}@example.com", password=PASSWORD, role="Sales")
        for i in range(SALES)
    ]
    create_login(session, sm, email="admin@example.com", password=PASSWORD, role="Admin")
    session.flush()
    relations = [
        Relation(
            number=i + 1,
            name=f"Relation {i + 1}",
            billing_email=f"r{i + 1}@example.com",
            kind=RelationKind.reseller if i % 10 == 0 else RelationKind.client,
            sales_contact_id=sales[i % SALES].id,
        )
        for i in range(RELATIONS)
    ]
    session.add_all(relations)
    session.commit()
    return [relation.id for relation in relations]


def build(app, domain_count: int) -> None:
    session = app.extensions["appbuilder"].session
    ids = create_staff_and_relations(app)
    today = dt.date.today()
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(" ")

    def rows():
        for i in range(domain_count):
            yield (
                f"domain-{i:07d}.com",
                ids[i % RELATIONS],
                (today + dt.timedelta(days=(i * 7919) % 730)).isoformat(),
                "active",
                now,
                now,
            )

    connection = session.connection().connection.dbapi_connection
    columns = "name, relation_id, expiry_date, status, created_at, updated_at"
    if session.get_bind().dialect.name == "sqlite":
        connection.executemany(
            f"INSERT INTO rr_domain ({columns}) VALUES (?, ?, ?, ?, ?, ?)", rows()
        )
    else:
        copy_sql = f"COPY rr_domain ({columns}) FROM STDIN"
        with connection.cursor() as cursor, cursor.copy(copy_sql) as copy:
            buffer = io.StringIO()
            for count, row in enumerate(rows(), 1):
                buffer.write("\t".join(str(value) for value in row) + "\n")
                if count % 50_000 == 0:
                    copy.write(buffer.getvalue())
                    buffer = io.StringIO()
            copy.write(buffer.getvalue())
    connection.commit()
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("ANALYZE"))
        session.commit()
    else:  # VACUUM (for index-only scans' visibility map) cannot run in a transaction
        session.get_bind().dispose()
        with session.get_bind().connect() as autocommit:
            autocommit.execution_options(isolation_level="AUTOCOMMIT").execute(
                text("VACUUM ANALYZE")
            )


def baseline_queries(sales_id: int | None, page: int) -> tuple[str, str, dict]:
    """The page and the count as plain SQL: what any list of these rows has to ask (staff
    see deleted domains too, so no status condition)."""
    scope = ""
    params: dict = {"limit": PAGE_SIZE, "offset": page * PAGE_SIZE}
    if sales_id is not None:
        scope = (
            "AND d.relation_id IN (SELECT id FROM rr_relation WHERE sales_contact_id = :sales"
            " OR parent_id IN (SELECT id FROM rr_relation WHERE sales_contact_id = :sales))"
        )
        params["sales"] = sales_id
    rows = (
        "SELECT d.id, d.name, d.expiry_date, d.status, d.renewal_years, r.number, r.name"
        " FROM rr_domain d JOIN rr_relation r ON r.id = d.relation_id"
        f" WHERE 1 = 1 {scope}"
        " ORDER BY d.expiry_date, d.name LIMIT :limit OFFSET :offset"
    )
    count = f"SELECT count(*) FROM rr_domain d WHERE 1 = 1 {scope}"
    return rows, count, params


def median_ms(action, runs: int) -> float:
    """The median wall time of ``action`` in ms over ``runs`` runs, after one warm-up."""
    action()  # warm-up
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def measure(app, runs: int) -> list[tuple[str, float, float, int]]:
    session = app.extensions["appbuilder"].session
    statements = [0]

    def count_statement(*_args):
        statements[0] += 1

    results = []
    with app.app_context():
        engine = session.get_bind()
        sales_id = session.scalar(
            text("SELECT id FROM ab_user WHERE username = 'sales0@example.com'")
        )
        session.remove()
    for who, username, scope in (
        ("Admin", "admin@example.com", None),
        ("Sales", "sales0@example.com", sales_id),
    ):
        client = app.test_client()
        response = client.post("/login/", data={"username": username, "password": PASSWORD})
        assert response.status_code in (302, 303), response.status_code
        for page in (0, DEEP_PAGE - 1):
            url = f"/domains/list/?page_RenewalsDomainView={page}"

            def fetch(url=url, client=client):
                response = client.get(url)
                assert response.status_code == 200, (url, response.status_code)
                assert b"domain-" in response.data, url

            project = median_ms(fetch, runs)
            event.listen(engine, "before_cursor_execute", count_statement)
            statements[0] = 0
            fetch()
            event.remove(engine, "before_cursor_execute", count_statement)
            rows_sql, count_sql, params = baseline_queries(scope, page)
            raw = create_engine(engine.url)
            with raw.connect() as connection:

                def bare(connection=connection, sqls=(rows_sql, count_sql), params=params):
                    rows_sql, count_sql = sqls
                    connection.execute(text(count_sql), params).scalar()
                    found = connection.execute(text(rows_sql), params).all()
                    assert len(found) == PAGE_SIZE

                baseline = median_ms(bare, runs)
            raw.dispose()
            label = f"{who}, page {page + 1}"
            results.append((label, project, baseline, statements[0]))
            print(
                f"{label:>17}: GET /domains/list/ {project:7.1f} ms ({statements[0]} SQL "
                f"statements); raw SQL page + count {baseline:6.1f} ms; ratio "
                f"{project / baseline:5.1f}x",
                flush=True,
            )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domains", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument(
        "--keep",
        type=Path,
        help="SQLite: build into this file once and reuse it (upgraded); PostgreSQL: the name"
        " of a database to build once and keep (not dropped), reused when it exists",
    )
    parser.add_argument(
        "--postgres-url",
        default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
        help="a server login that may create and drop a scratch database",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir="/dev/shm" if os.path.isdir("/dev/shm") else None) as tmp:
        scratch = None
        if args.database == "sqlite":
            url = f"sqlite:///{args.keep or Path(tmp) / 'bench.db'}"
            reuse = args.keep is not None and args.keep.exists()
        else:
            name = str(args.keep) if args.keep else f"rr_bench_list_{uuid.uuid4().hex[:8]}"
            admin = create_engine(args.postgres_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                reuse = args.keep is not None and bool(
                    connection.scalar(
                        text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
                    )
                )
                if not reuse:
                    connection.execute(text(f'CREATE DATABASE "{name}"'))
            admin.dispose()
            url = args.postgres_url.rsplit("/", 1)[0] + f"/{name}"
            scratch = None if args.keep else name
        try:
            app = create_app(
                {
                    "SQLALCHEMY_DATABASE_URI": url,
                    "TESTING": True,
                    "SECRET_KEY": "benchmark-domain-list-7f3c9a1e5b2d4c6e",
                    "WTF_CSRF_ENABLED": False,
                    "RATELIMIT_ENABLED": False,
                    "SCHEDULER_ENABLED": False,
                    "FAB_PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
                }
            )
            started = time.perf_counter()
            with app.app_context():
                prepare_database(app)  # migrations (an index added since a kept build too)
                if not reuse:
                    build(app, args.domains)
            print(
                f"{args.database}: {'reused' if reuse else 'built'} {args.domains:,} domains in "
                f"{time.perf_counter() - started:.0f} s; median of {args.runs} requests"
            )
            measure(app, args.runs)
            print(
                f"machine: {platform.machine()}, {os.cpu_count()} CPUs, "
                f"Python {platform.python_version()}; targets: page 1 < 50 ms, "
                f"page {DEEP_PAGE} < 200 ms"
            )
        finally:
            if scratch is not None:  # FORCE: the app's pooled connections are still open
                admin = create_engine(args.postgres_url, isolation_level="AUTOCOMMIT")
                with admin.connect() as connection:
                    connection.execute(text(f'DROP DATABASE "{scratch}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
