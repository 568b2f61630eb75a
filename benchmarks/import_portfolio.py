"""Time the portfolio CSV import on a synthetic portfolio, beside a bare baseline.

    python benchmarks/import_portfolio.py [--rows 200000] [--relations 20000]
        [--database URL --bare-database URL] [--profile]

Generates a CSV (resellers, their clients, direct clients, a few sales contacts, about 22%
IDN names) and a copy in which about a fifth of the expiry dates moved a year on, in a
temporary directory. Builds two databases with the schema: one for the project, one for the
bare baseline (both new SQLite files in the temporary directory unless ``--database`` and
``--bare-database`` name two empty databases, e.g. scratch PostgreSQL databases made with
``createdb``). Then, in this order:

- ``first``: the project's ``import_portfolio`` of the file (everything created), then the
  bare first import of the same file: ``csv.reader`` and the driver alone, the relations
  (resellers first, then the clients with their reseller's id) and the domains inserted with
  ``executemany`` of tuples on SQLite, ``COPY`` on PostgreSQL, no validation at all;
- ``re-import``: the project imports the same file again (everything unchanged);
- ``renewed``: the project imports the moved file (updates and the status rule), then the
  bare upsert of the moved file: on SQLite ``executemany`` of ``INSERT ... ON CONFLICT DO
  UPDATE ... WHERE`` (relations, then domains with the same "later date: renewed" rule); on
  PostgreSQL ``COPY`` into a temporary table and the same two set-based upserts from it.

Prints seconds, rows per second, the project/bare ratio and the peak memory. The machine is
shared and noisy: compare ratios, and run it two or three times.
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import datetime as dt
import pstats
import random
import resource
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from renewal_reminder.renewals.portfolio import import_portfolio  # noqa: E402
from renewal_reminder.standalone import create_app  # noqa: E402

HEADER = [
    "domain",
    "expiry_date",
    "relation_number",
    "relation_name",
    "relation_email",
    "relation_kind",
    "reseller_number",
    "sales_contact_email",
    "language",
    "status",
]
SALES_CONTACTS = [f"sales{i}@example.com" for i in range(1, 6)]
TLDS = ["nl", "com", "de", "eu", "be", "org"]
WORDS = ["shop", "web", "bakkerij", "garage", "studio", "media", "bouw", "café", "zürich"]


def make_relations(count: int, rng: random.Random) -> list[dict]:
    """5% resellers; 70% of the clients under one of them."""
    resellers = max(1, count // 20)
    relations = []
    for index in range(count):
        number = 1000 + index
        is_reseller = index < resellers
        parent = ""
        if not is_reseller and rng.random() < 0.7:
            parent = str(1000 + rng.randrange(resellers))
        relations.append(
            {
                "relation_number": str(number),
                "relation_name": f"Relation {number} B.V.",
                "relation_email": f"billing{number}@relation{number}.example",
                "relation_kind": "reseller" if is_reseller else "client",
                "reseller_number": parent,
                "sales_contact_email": rng.choice(SALES_CONTACTS) if is_reseller else "",
                "language": "nl" if number % 3 else "en",
            }
        )
    return relations


def make_rows(rows: int, relations: list[dict], rng: random.Random) -> Iterator[dict]:
    start = dt.date(2026, 1, 1)
    for index in range(rows):
        relation = relations[index % len(relations)]
        word = rng.choice(WORDS)  # "café" and "zürich" make IDN names (about 2 in 9)
        yield {
            **relation,
            "domain": f"{word}-{index}.{rng.choice(TLDS)}",
            "expiry_date": (start + dt.timedelta(days=rng.randrange(5 * 365))).isoformat(),
            "status": "",
        }


def write_csvs(first: Path, renewed: Path, rows: Iterator[dict], rng: random.Random) -> None:
    """Write the rows to ``first``, and to ``renewed`` with a fifth of them a year later.

    Streamed, so the generated data does not count towards the import's peak memory."""
    with (
        first.open("w", encoding="utf-8", newline="") as first_handle,
        renewed.open("w", encoding="utf-8", newline="") as renewed_handle,
    ):
        first_writer = csv.DictWriter(first_handle, HEADER)
        renewed_writer = csv.DictWriter(renewed_handle, HEADER)
        first_writer.writeheader()
        renewed_writer.writeheader()
        for row in rows:
            first_writer.writerow(row)
            if rng.random() < 0.2:
                moved = dt.date.fromisoformat(row["expiry_date"]) + dt.timedelta(days=365)
                row["expiry_date"] = moved.isoformat()
            renewed_writer.writerow(row)


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def timed_import(app, path: Path, label: str, rows: int, profile: bool) -> float:
    session = app.extensions["appbuilder"].session
    profiler = cProfile.Profile() if profile else None
    with app.app_context(), path.open(encoding="utf-8", newline="") as handle:
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        summary = import_portfolio(session, handle)
        if profiler:
            profiler.disable()
        seconds = time.perf_counter() - started
        session.remove()
    print(
        f"{label:<10} project {seconds:6.2f} s  {rows / seconds:9,.0f} rows/s  "
        f"peak RSS {peak_mib():4.0f} MiB  {summary}"
    )
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    return seconds


# --- the bare baseline: csv.reader and the driver ------------------------------------------------


def bare_connect(url: str):
    """A driver connection to ``url`` (sqlite3, or psycopg for PostgreSQL)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        connection = sqlite3.connect(parsed.database)
        # The project's pragmas (app/standalone.py); the file is in WAL mode already.
        connection.execute("PRAGMA foreign_keys=ON")
        connection.execute("PRAGMA synchronous=NORMAL")
        return connection
    import psycopg

    return psycopg.connect(parsed.set(drivername="postgresql").render_as_string(False))


def read_bare(path: Path) -> tuple[dict[int, tuple], list[tuple[str, int, str]]]:
    """The file's relations (by number: name, email, kind, reseller number, language) and
    domains (name, relation number, expiry date as text), unchecked."""
    relations: dict[int, tuple] = {}
    domains: list[tuple[str, int, str]] = []
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        for domain, expiry, number, name, email, kind, reseller, _sales, language, _ in reader:
            relation = int(number)
            if relation not in relations:
                relations[relation] = (name, email, kind, int(reseller or 0) or None, language)
            domains.append((domain, relation, expiry))
    return relations, domains


def bare_first(url: str, path: Path) -> float:
    started = time.perf_counter()
    relations, domains = read_bare(path)
    now = dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S.%f")
    connection = bare_connect(url)
    sqlite = isinstance(connection, sqlite3.Connection)
    columns = (
        "number, name, billing_email, kind, parent_id, language, reminders_to_reseller, "
        "link_version, created_at, updated_at"
    )
    ids: dict[int, int] = {}
    for resellers in (True, False):
        rows = [
            (number, name, email, kind, ids.get(reseller), language, True, 1, now, now)
            for number, (name, email, kind, reseller, language) in relations.items()
            if (kind == "reseller") is resellers
        ]
        if sqlite:
            connection.executemany(
                f"INSERT INTO rr_relation ({columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows
            )
            found = connection.execute("SELECT number, id FROM rr_relation")
        else:
            with connection.cursor() as cursor:
                with cursor.copy(f"COPY rr_relation ({columns}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                found = cursor.execute("SELECT number, id FROM rr_relation").fetchall()
        ids.update(found)
    rows = [(name, ids[number], expiry, "active", now, now) for name, number, expiry in domains]
    columns = "name, relation_id, expiry_date, status, created_at, updated_at"
    if sqlite:
        connection.executemany(f"INSERT INTO rr_domain ({columns}) VALUES (?, ?, ?, ?, ?, ?)", rows)
    else:
        with (
            connection.cursor() as cursor,
            cursor.copy(f"COPY rr_domain ({columns}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
    connection.commit()
    connection.close()
    return time.perf_counter() - started


#: The same "a later date starts a new cycle" rule as the project's, in SQL.
_BARE_DOMAIN_UPSERT = """
    ON CONFLICT (name) DO UPDATE SET
        relation_id = excluded.relation_id,
        expiry_date = excluded.expiry_date,
        status = CASE WHEN excluded.expiry_date > rr_domain.expiry_date
                      AND rr_domain.status NOT IN ('deactivated', 'deleted')
                      THEN 'renewed' ELSE rr_domain.status END,
        updated_at = excluded.updated_at
    WHERE rr_domain.expiry_date <> excluded.expiry_date
       OR rr_domain.relation_id <> excluded.relation_id
"""
_BARE_RELATION_UPSERT = """
    ON CONFLICT (number) DO UPDATE SET
        name = excluded.name, billing_email = excluded.billing_email,
        language = excluded.language, updated_at = excluded.updated_at
    WHERE rr_relation.name <> excluded.name OR rr_relation.billing_email <> excluded.billing_email
       OR rr_relation.language <> excluded.language
"""


def bare_upsert(url: str, path: Path) -> float:
    started = time.perf_counter()
    relations, domains = read_bare(path)
    now = dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S.%f")
    connection = bare_connect(url)
    relation_rows = [
        (number, name, email, kind, language, True, 1, now, now)
        for number, (name, email, kind, _reseller, language) in relations.items()
    ]
    relation_columns = (
        "number, name, billing_email, kind, language, reminders_to_reseller, link_version, "
        "created_at, updated_at"
    )
    if isinstance(connection, sqlite3.Connection):
        connection.executemany(
            f"INSERT INTO rr_relation ({relation_columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            + _BARE_RELATION_UPSERT,
            relation_rows,
        )
        ids = dict(connection.execute("SELECT number, id FROM rr_relation"))
        connection.executemany(
            "INSERT INTO rr_domain (name, relation_id, expiry_date, status, created_at, "
            "updated_at) VALUES (?, ?, ?, 'active', ?, ?)" + _BARE_DOMAIN_UPSERT,
            [(name, ids[number], expiry, now, now) for name, number, expiry in domains],
        )
    else:
        with connection.cursor() as cursor:
            cursor.execute(
                "CREATE TEMPORARY TABLE bare_relation AS SELECT number, name, billing_email, "
                "kind, language FROM rr_relation WITH NO DATA"
            )
            with cursor.copy("COPY bare_relation FROM STDIN") as copy:
                for row in relation_rows:
                    copy.write_row(row[:5])
            cursor.execute(
                f"INSERT INTO rr_relation ({relation_columns}) SELECT number, name, "
                "billing_email, kind, language, true, 1, now(), now() FROM bare_relation"
                + _BARE_RELATION_UPSERT
            )
            cursor.execute(
                "CREATE TEMPORARY TABLE bare_domain (name text, number int, expiry_date date)"
            )
            with cursor.copy("COPY bare_domain FROM STDIN") as copy:
                for row in domains:
                    copy.write_row(row)
            cursor.execute(
                "INSERT INTO rr_domain (name, relation_id, expiry_date, status, created_at, "
                "updated_at) SELECT d.name, r.id, d.expiry_date, 'active', now(), now() "
                "FROM bare_domain d JOIN rr_relation r ON r.number = d.number" + _BARE_DOMAIN_UPSERT
            )
    connection.commit()
    connection.close()
    return time.perf_counter() - started


def print_bare(label: str, seconds: float, project: float, rows: int) -> None:
    print(
        f"{label:<10} bare    {seconds:6.2f} s  {rows / seconds:9,.0f} rows/s  "
        f"project/bare {project / seconds:.2f}x"
    )


def build_app(database: str):
    """The app on ``database`` with the schema created and the sales contacts' logins."""
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database,
            "FAB_CREATE_DB": True,
            "TESTING": True,
            "SECRET_KEY": "x" * 32,
        }
    )
    with app.app_context():
        sm = app.extensions["appbuilder"].sm
        sales = sm.find_role("Sales")
        for email in SALES_CONTACTS:
            if sm.find_user(email=email) is None:
                sm.add_user(
                    email, "Sales", "Contact", email, sales, password="Bench-import-2024-tulip"
                )
        app.extensions["appbuilder"].session.remove()
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--relations", type=int, default=None, help="default: rows / 10")
    parser.add_argument("--database", help="SQLAlchemy URL of an empty database")
    parser.add_argument(
        "--bare-database", help="SQLAlchemy URL of another empty database, for the baseline"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", action="store_true", help="print a cProfile summary")
    args = parser.parse_args(argv)
    if bool(args.database) != bool(args.bare_database):
        parser.error("give both --database and --bare-database, or neither")

    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="rr-bench-") as tmp:
        tmp_path = Path(tmp)
        database = args.database or f"sqlite:///{tmp_path / 'bench.db'}"
        bare_database = args.bare_database or f"sqlite:///{tmp_path / 'bare.db'}"
        relations = make_relations(args.relations or max(1, args.rows // 10), rng)
        first = tmp_path / "portfolio.csv"
        renewed = tmp_path / "portfolio-renewed.csv"
        write_csvs(first, renewed, make_rows(args.rows, relations, rng), rng)

        app = build_app(database)
        build_app(bare_database)

        size = first.stat().st_size / 1024 / 1024
        print(
            f"{args.rows:,} rows, {len(relations):,} relations, {size:.1f} MiB CSV, "
            f"database {database.split('://')[0]}; Python {sys.version.split()[0]}; "
            f"peak RSS before import {peak_mib():.0f} MiB"
        )
        project = timed_import(app, first, "first", args.rows, args.profile)
        print_bare("first", bare_first(bare_database, first), project, args.rows)
        timed_import(app, first, "re-import", args.rows, args.profile)
        project = timed_import(app, renewed, "renewed", args.rows, args.profile)
        print_bare("renewed", bare_upsert(bare_database, renewed), project, args.rows)


if __name__ == "__main__":
    main()
