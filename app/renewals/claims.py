"""Claiming work in the database: the one mechanism every job uses to run exactly once.

A job claims a unit of work by inserting its log row; the row's unique constraint makes a
concurrent run's insert of the same row a no-op, so only one run owns (and sends) it. Once
the work is done (an email sent or failed), its outcome is written and committed at once
(``record_outcomes``), so a crash after it never loses or repeats it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Table, Update, and_, bindparam, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session


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
