"""``claims.OutcomeRecorder`` on its own: outcomes committed by a connection of its own, or,
where a second connection would not see the session's database, on the session itself."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, select
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from renewal_reminder.renewals.claims import OutcomeRecorder, outcome_update

metadata = MetaData()
outcomes = Table(
    "outcomes",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("status", String(20)),
    Column("error", String(200)),
    Column("attempts", Integer),
    Column("claim_token", String(32)),
)
RECORD = outcome_update(outcomes)


def claimed(engine, count: int) -> None:
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            outcomes.insert(),
            [
                {"id": i, "status": "sending", "attempts": 0, "claim_token": "t"}
                for i in range(count)
            ],
        )


def outcome(log_id: int, status: str = "sent", error: str | None = None) -> list[dict]:
    return [{"log_id": log_id, "status": status, "error": error, "attempts": 1}]


def statuses(engine) -> list[tuple[str, str | None]]:
    with engine.connect() as conn:
        return list(conn.execute(select(outcomes.c.status, outcomes.c.claim_token)))


def test_outcomes_are_committed_by_a_connection_of_its_own(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'file.db'}")
    claimed(engine, 3)
    with Session(engine) as session, OutcomeRecorder(session, RECORD) as recorder:
        for log_id in range(3):
            recorder.record(outcome(log_id))
        recorder.wait()
        # Committed: another connection sees them; the session wrote nothing.
        assert statuses(engine) == [("sent", None)] * 3
        assert not session.in_transaction()
    engine.dispose()


def test_a_failed_commit_is_raised_and_nothing_more_is_recorded(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'file.db'}")
    claimed(engine, 3)
    with engine.begin() as conn:  # the database refuses an error text longer than 200
        conn.exec_driver_sql(
            "CREATE TRIGGER refuse BEFORE UPDATE ON outcomes WHEN length(NEW.error) > 200 "
            "BEGIN SELECT RAISE(ABORT, 'error too long'); END"
        )
    with Session(engine) as session:
        recorder = OutcomeRecorder(session, RECORD)
        recorder.record(outcome(0))
        recorder.record(outcome(1, "failed", "x" * 300))
        with pytest.raises(Exception, match="error too long"):
            recorder.wait()
        with pytest.raises(Exception, match="error too long"):
            recorder.record(outcome(2))  # still failed: nothing more is recorded
        with pytest.raises(Exception, match="error too long"):
            recorder.close()
    assert statuses(engine) == [("sent", None), ("sending", "t"), ("sending", "t")]
    engine.dispose()


def test_an_in_memory_database_is_recorded_on_the_session():
    """A second connection to ``sqlite://`` would be another, empty database."""
    engine = create_engine("sqlite://", poolclass=StaticPool)
    claimed(engine, 2)
    with Session(engine) as session, OutcomeRecorder(session, RECORD) as recorder:
        recorder.record(outcome(0))
        recorder.record(outcome(1, "failed", "refused"))
        recorder.wait()
        assert not session.in_transaction()  # committed at once, by the session
    assert statuses(engine) == [("sent", None), ("failed", None)]
    engine.dispose()
