"""Time the portfolio CSV import on a synthetic portfolio.

    python benchmarks/import_portfolio.py [--rows 200000] [--relations 20000]
        [--database sqlite:///path/to.db] [--profile]

Generates a CSV (resellers, their clients, direct clients, a few sales contacts, some IDN
names) in a temporary directory, builds a fresh database with the schema, and times three
imports: the first (everything created), a re-import of the same file (everything unchanged)
and a file in which about a fifth of the expiry dates moved on (updates and the status rule).
Without ``--database`` the database is a new SQLite file in the temporary directory; a given
database must be empty. Prints seconds, rows per second and the process's peak memory.
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import datetime as dt
import pstats
import random
import resource
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

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


def timed_import(app, path: Path, label: str, rows: int, profile: bool) -> None:
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
        f"{label:<10} {seconds:7.2f} s  {rows / seconds:9,.0f} rows/s  "
        f"peak RSS {peak_mib():6.0f} MiB  {summary}"
    )
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)


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
                sm.add_user(email, "Sales", "Contact", email, sales, password="x" * 16)
        app.extensions["appbuilder"].session.remove()
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--relations", type=int, default=None, help="default: rows / 10")
    parser.add_argument("--database", help="SQLAlchemy URL of an empty database")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", action="store_true", help="print a cProfile summary")
    args = parser.parse_args(argv)

    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="rr-bench-") as tmp:
        tmp_path = Path(tmp)
        database = args.database or f"sqlite:///{tmp_path / 'bench.db'}"
        relations = make_relations(args.relations or max(1, args.rows // 10), rng)
        first = tmp_path / "portfolio.csv"
        renewed = tmp_path / "portfolio-renewed.csv"
        write_csvs(first, renewed, make_rows(args.rows, relations, rng), rng)

        app = build_app(database)

        size = first.stat().st_size / 1024 / 1024
        print(
            f"{args.rows:,} rows, {len(relations):,} relations, {size:.1f} MiB CSV, "
            f"database {database.split('://')[0]}; peak RSS before import {peak_mib():.0f} MiB"
        )
        timed_import(app, first, "first", args.rows, args.profile)
        timed_import(app, first, "re-import", args.rows, args.profile)
        timed_import(app, renewed, "renewed", args.rows, args.profile)


if __name__ == "__main__":
    main()
