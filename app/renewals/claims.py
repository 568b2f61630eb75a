"""Claiming work in the database: the one mechanism every job uses to run exactly once.

A job claims a unit of work by inserting its log row; the row's unique constraint makes a
concurrent run's insert of the same row a no-op, so only one run owns (and sends) it. Once
the work is done (an email sent or failed), its outcome is written and committed at once
(``record_outcomes``; or ``OutcomeRecorder``, which commits it while the next email is on its
way, before the server may accept that one), so a crash after it never loses or repeats it.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Table,
    Update,
    and_,
    bindparam,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.pool import SingletonThreadPool, StaticPool

log = logging.getLogger(__name__)


def insert_ignoring_duplicates(
    session: Session, table: Table, rows: list[dict], unique_columns: list[str]
) -> None:
    """INSERT the rows, silently skipping any that collide on ``unique_columns``."""
    dialect = session.get_bind().dialect.name
    if dialect in ("postgresql", "sqlite"):
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as dialect_insert
        else:
            from sqlalchemy.dialects.sqlite import insert as dialect_insert
        statement = dialect_insert(table).on_conflict_do_nothing(index_elements=unique_columns)
        session.execute(statement, rows)
        return
    for row in rows:  # other databases: one savepoint per row
        try:
            with session.begin_nested():
                session.execute(insert(table), [row])
        except IntegrityError:
            pass


#: What every claimed log row records about its outcome.
OUTCOME_COLUMNS = ("status", "recipient", "error", "sent_at", "attempts")


def outcome_update(table: Table, *extra_columns: str) -> Update:
    """The UPDATE that records one claimed row's outcome and releases its claim.

    Executed with rows of ``{"log_id": ..., "status": ..., ...}`` (Core, by primary key: no
    ORM bookkeeping per email). A table without a ``recipient`` column (an invitation keeps
    the address it was made for) records the other outcome columns."""
    columns = [name for name in (*OUTCOME_COLUMNS, *extra_columns) if name in table.c]
    return (
        update(table)
        .where(table.c.id == bindparam("log_id"))
        .values({**{name: bindparam(name) for name in columns}, "claim_token": None})
    )


def record_outcomes(session: Session, statement: Update, rows: list[dict]) -> None:
    """Write outcomes and commit them, so they survive whatever happens next.

    On the session's connection (Core, in the session's transaction): a run records once per
    email, and the ORM's bulk-update path costs more than the UPDATE itself. Every commit waits
    for the disk: an outcome the database has acknowledged is never lost, so no email is sent
    twice even after a crash of the database server (faster asynchronous commits on
    PostgreSQL were measured and left out for that reason)."""
    if rows:
        session.connection().execute(statement, rows)
        session.commit()


class OutcomeRecorder:
    """Commits each email's outcome on a database connection of its own, in a thread of its
    own, so that the commit overlaps the next email's SMTP transaction instead of delaying it.

    The order that keeps a crash from sending an email twice does not change: an outcome is
    handed over (``record``) as soon as the server has answered, and is committed at once; the
    next email's transaction waits for that commit (``wait``, given to ``Outbox.send`` as its
    ``before_accept``) before the message and its final line go out, after which the server
    accepts it. So, as when the sender committed each outcome itself, at most one accepted
    email is ever unrecorded; what overlaps the commit is the next email's building and its
    MAIL, RCPT and DATA round trips.

    A failed commit stops the run: ``wait`` and ``record`` raise it (the next email is then not
    sent), and so does ``close``; the outcome and the claims not yet recorded stay ``sending``,
    as after a crash. The caller's session must not write while outcomes are being recorded
    (on SQLite the two connections would wait for each other's write lock): it commits its
    claims first and calls ``wait`` before it writes again.

    Where a second connection cannot see the session's data (an in-memory SQLite database,
    or a session bound to one connection), outcomes are recorded and committed on the
    session instead, one after the other (``record_outcomes``).
    """

    def __init__(self, session: Session, statement: Update):
        self._session = session
        self._statement = statement
        bind = session.get_bind()
        self._engine: Engine | None = bind if _has_own_connections(bind) else None
        self._connection: Connection | None = None
        self._thread: ThreadPoolExecutor | None = None
        self._pending: Future | None = None
        self._failure: BaseException | None = None

    def __enter__(self) -> OutcomeRecorder:
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        self.close(quietly=exc is not None)

    def record(self, rows: list[dict]) -> None:
        """Hand over one email's outcome rows (``outcome_update``'s) to be committed at once;
        raises if an earlier commit failed (then nothing more is recorded)."""
        if not rows:
            return
        if self._engine is None:
            record_outcomes(self._session, self._statement, rows)
            return
        self.wait()  # one commit at a time: at most one outcome is ever uncommitted
        if self._thread is None:
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="outcomes")
        self._pending = self._thread.submit(self._commit, rows)

    def wait(self) -> None:
        """Return once every outcome handed over is committed; raise the failure if one
        could not be."""
        if self._failure is not None:
            raise self._failure
        pending, self._pending = self._pending, None
        if pending is not None:
            try:
                pending.result()
            except BaseException as exc:
                self._failure = exc
                raise

    def close(self, quietly: bool = False) -> None:
        """Wait for the outcomes handed over, then release the connection and the thread.
        ``quietly`` (the caller is already failing): a failed commit is logged, not raised."""
        try:
            self.wait()
        except Exception:
            if not quietly:
                raise
            log.exception("recording the outcome of an email that was sent failed")
        finally:
            if self._thread is not None:
                self._thread.submit(self._release).result()
                self._thread.shutdown()
                self._thread = None

    def _commit(self, rows: list[dict]) -> None:
        """In the recorder's thread: write and commit one email's outcome."""
        if self._connection is None:
            self._connection = self._engine.connect()
        try:
            self._connection.execute(self._statement, rows)
            self._connection.commit()
        except BaseException:
            self._release()  # a broken connection is not reused; nothing more is recorded
            raise

    def _release(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()  # rolls back whatever was not committed


def _has_own_connections(bind: Any) -> bool:
    """Whether a second connection from ``bind`` sees the session's committed data: an
    engine, and not one whose connections are all one in-memory SQLite database."""
    if not isinstance(bind, Engine):
        return False
    return not isinstance(bind.pool, StaticPool | SingletonThreadPool)


def claimable(model: Any, retryable: Iterable[Any], sending: Any, stale_before: dt.datetime):
    """SQL condition: a log row another run may claim: its send failed (``retryable``), or
    the run that claimed it died (``sending`` since before ``stale_before``)."""
    return or_(
        model.status.in_(list(retryable)),
        and_(
            model.status == sending,
            or_(model.claimed_at.is_(None), model.claimed_at < stale_before),
        ),
    )


def reclaim(
    session: Session,
    model: Any,
    ids: list[int],
    *,
    token: str,
    now: dt.datetime,
    retryable: Iterable[Any],
    sending: Any,
    stale_before: dt.datetime,
    where: Any = None,
    **values: Any,
) -> None:
    """Claim existing log rows (by id) for this run, if still claimable (and ``where``, a
    further SQL condition, holds: e.g. an invitation still open): a concurrent run that took
    one first keeps it. ``values`` are set too (e.g. the run date)."""
    if not ids:
        return
    conditions = [model.id.in_(ids), claimable(model, retryable, sending, stale_before)]
    if where is not None:
        conditions.append(where)
    session.execute(
        update(model)
        .where(*conditions)
        .values(status=sending, claim_token=token, claimed_at=now, **values)
        .execution_options(synchronize_session=False)
    )


def claim(
    session: Session,
    model: Any,
    *,
    key_columns: list[str],
    unique_columns: list[str] | None = None,
    new_rows: list[dict],
    retry_ids: list[int],
    token: str,
    now: dt.datetime,
    retryable: Iterable[Any],
    sending: Any,
    stale_before: dt.datetime,
    **reclaim_values: Any,
) -> dict[Any, tuple[int, int]]:
    """Claim work for this run: insert ``new_rows`` (each a log row's own columns; the claim
    columns are added here) unless a concurrent run inserted them first, and ``reclaim`` the
    failed or abandoned ``retry_ids``. Commits, then returns ``{key: (log id, attempts)}`` of
    the rows this run owns, keyed by ``key_columns`` (a tuple of them, or the one value);
    ``unique_columns`` (default ``key_columns``) is the log's unique key."""
    if new_rows:
        claimed = {"status": sending, "claim_token": token, "claimed_at": now, "attempts": 0}
        rows = [{**row, **claimed, "created_at": now} for row in new_rows]
        insert_ignoring_duplicates(session, model.__table__, rows, unique_columns or key_columns)
    reclaim(
        session,
        model,
        retry_ids,
        token=token,
        now=now,
        retryable=retryable,
        sending=sending,
        stale_before=stale_before,
        **reclaim_values,
    )
    session.commit()
    keys = [getattr(model, column) for column in key_columns]
    owned = session.execute(
        select(*keys, model.id, model.attempts).where(model.claim_token == token)
    )
    return {(tuple(row[:-2]) if len(keys) > 1 else row[0]): (row[-2], row[-1]) for row in owned}
