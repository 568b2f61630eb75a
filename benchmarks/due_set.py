"""Time the reminder run's due set beside its bare candidate-range queries, in one run.

    python benchmarks/due_set.py [--domains 1000000] [--relations 100000] [--keep DIR]
        [--database-url postgresql+psycopg://postgres@127.0.0.1:5432/test] [--repeat 7]

The database is the reminder-run benchmark's (``benchmarks/reminder_run.py``: built once, or
reused from ``--keep DIR`` / the PostgreSQL server): the domains' expiry dates spread over
400 days, and the steady state of a daily job, the log holding what was due on each of the
previous 7 days and a finished run recorded for each of those days.

Three scenarios, each timing ``reminders.due`` (the project: the days no finished run has
covered, the late arrivals since the last run, the retries) against the **bare baseline**:
the same days' candidate range queries as plain SQL (domains awaiting a decision whose
expiry date lies in each offset's range, joined to their relation, read through the same
covering index as the project's; no reminder log, no Python objects: the driver's
tuples), alternating, ``--repeat`` times each after one warm-up; medians:

- ``daily``: the day after the last run (the everyday case);
- ``after 3 days without a run``: the job was down for three days;
- ``nothing recorded``: no finished run known (a fresh install, or the behaviour before
  this issue on every day): the whole catch-up window.

Targets (issue 16): at most 2x the bare queries on SQLite and on PostgreSQL at 1 M domains,
and under 1 s at 3 M on SQLite.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent))

import reminder_run as built  # noqa: E402  (the reminder-run benchmark's database)

#: The bare candidate-range query, in two spellings: the status test as is (served by the
#: (status, expiry_date) index) and written so that no status index serves it (the range read
#: from the covering expiry index, as the project's). The baseline is the faster of the two.
BARE_RANGES = {
    spelling: f"""
SELECT d.id, d.name, d.expiry_date, r.id, r.name, r.parent_id, r.reminders_to_reseller
FROM rr_domain d JOIN rr_relation r ON r.id = d.relation_id
WHERE d.expiry_date BETWEEN :first AND :last AND {status} IN ('active', 'renewed')
"""
    for spelling, status in (("status index", "d.status"), ("expiry index", "d.status || ''"))
}


def measure(database_uri: str, today: dt.date, repeat: int) -> list[dict]:
    from sqlalchemy import text

    from renewal_reminder import settings as addon_settings
    from renewal_reminder.models import AWAITING_DECISION
    from renewal_reminder.renewals import reminders
    from renewal_reminder.renewals.calendar import due_ranges
    from renewal_reminder.session import current_session
    from renewal_reminder.standalone import create_app

    assert {status.value for status in AWAITING_DECISION} == {"active", "renewed"}
    app = create_app(built.base_config(database_uri))
    results = []
    with app.app_context():
        session = current_session()
        settings = reminders.ReminderSettings.from_config(addon_settings.read(app.config))
        scenarios = [
            ("daily", today, False),
            ("after 3 days without a run", today + dt.timedelta(days=3), False),
            ("nothing recorded (whole catch-up window)", today, True),
        ]
        for label, day, forget_runs in scenarios:
            with mock.patch.object(
                reminders,
                "last_covering_run",
                (lambda *_: None) if forget_runs else reminders.last_covering_run,
            ):
                last = reminders.last_covering_run(session, day, settings.calendar)
                first_day = reminders.first_day_to_cover(
                    day, settings.catchup_days, last.run_date if last else None
                )
                ranges = due_ranges(settings.offsets, day, (day - first_day).days)

                def project(day=day):
                    due = reminders.due(session, day, settings)
                    session.rollback()
                    return len(due)

                def bare(sql, ranges=ranges):
                    # The driver's own rows (tuples), as the project reads them.
                    with session.get_bind().connect() as conn:
                        count = 0
                        for r in ranges:
                            result = conn.execute(text(sql), {"first": r.first, "last": r.last})
                            count += len(result.cursor.fetchall())
                            result.close()
                        return count

                project()  # warm-up
                for sql in BARE_RANGES.values():
                    bare(sql)
                project_times = []
                bare_times = {spelling: [] for spelling in BARE_RANGES}
                for _ in range(repeat):
                    started = time.perf_counter()
                    due_count = project()
                    project_times.append(time.perf_counter() - started)
                    for spelling, sql in BARE_RANGES.items():
                        started = time.perf_counter()
                        candidates = bare(sql)
                        bare_times[spelling].append(time.perf_counter() - started)
            bare_medians = {spelling: statistics.median(t) for spelling, t in bare_times.items()}
            fastest = min(bare_medians, key=bare_medians.get)
            results.append(
                {
                    "scenario": label,
                    "day": day,
                    "days read": (day - first_day).days + 1,
                    "due": due_count,
                    "candidates": candidates,
                    "project": statistics.median(project_times),
                    "bare": bare_medians[fastest],
                    "bare spelling": fastest,
                }
            )
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--domains", type=int, default=1_000_000)
    parser.add_argument("--relations", type=int, default=100_000)
    parser.add_argument("--keep", type=Path, help="directory keeping the built SQLite database")
    parser.add_argument("--database-url", help="a PostgreSQL server to run on instead of SQLite")
    parser.add_argument("--today", type=dt.date.fromisoformat, default=built.DEFAULT_TODAY)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)

    args.history_days = 7  # the steady state of a daily job
    with tempfile.TemporaryDirectory(prefix="rr-due-bench-") as tmp:
        store = built.built_store(args, Path(tmp))
        try:
            uri = store.built_uri
            if not args.database_url:
                uri = f"sqlite:///{uri}"
            results = measure(uri, args.today, args.repeat)
        finally:
            store.close()

    engine = "PostgreSQL" if args.database_url else "SQLite"
    print(
        f"\n{engine}, {args.domains:,} domains, {args.relations:,} relations; medians of "
        f"{args.repeat}; load average {' '.join(f'{x:.1f}' for x in _loadavg())}"
    )
    print(f"{'scenario':<42} {'days':>4} {'due':>7} {'cand.':>7} {'project':>9} {'bare':>9} ratio")
    for r in results:
        print(
            f"{r['scenario']:<42} {r['days read']:>4} {r['due']:>7,} {r['candidates']:>7,} "
            f"{r['project'] * 1000:>7.0f}ms {r['bare'] * 1000:>7.0f}ms "
            f"{r['project'] / r['bare']:.2f}x  (bare: {r['bare spelling']})"
        )


def _loadavg() -> tuple[float, float, float]:
    import os

    return os.getloadavg()


if __name__ == "__main__":
    main()
