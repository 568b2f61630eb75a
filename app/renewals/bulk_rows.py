"""Many rows at driver level: the portfolio import's inserts and updates, the reminder run's
reads.

SQLAlchemy's executemany costs about as much per row as the database itself (a parameter
dictionary per row, type processing per value, for the ORM's bulk UPDATE a statement plan per
batch). For 200,000 rows that was half of an import. Here the rows are plain tuples:

- SQLite: ``cursor.executemany`` with the tuples;
- PostgreSQL (psycopg 3): ``COPY`` into the table, and for updates ``COPY`` into a temporary
  table and one ``UPDATE ... FROM`` joining it by key;
- any other database: SQLAlchemy Core executemany (correct, not faster).

Values go in as the driver stores them: pass each date, timestamp or enum member through
``DriverValues`` of its column (the column type's own bind processing, so the stored text is
the same as SQLAlchemy's).

This bypasses the ORM, and so its events: ``Relation``'s rule that a new billing address
raises ``link_version`` (``models.relation``) is not applied here, and neither are column
defaults. Callers pass every column, and update relations' addresses through the ORM.
Runs in the session's transaction; the caller commits."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, bindparam, insert, update
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable


def insert_rows(
    session: Session, table: Table, columns: Sequence[str], rows: Sequence[tuple]
) -> None:
    """INSERT ``rows`` (tuples in the order of ``columns``, values from ``DriverValues``
    where the column type processes them) into ``table``."""
    if not rows:
        return
    connection = session.connection()
    dialect = connection.dialect
    if dialect.name == "sqlite":
        sql = (
            f"INSERT INTO {_quote(dialect, table.name)} ({_column_list(dialect, columns)}) "
            f"VALUES ({', '.join('?' * len(columns))})"
        )
        _sqlite_executemany(connection, sql, rows)
    elif _is_psycopg(dialect):
        _copy(connection, table.name, columns, rows)
    else:
        connection.execute(insert(table), [dict(zip(columns, row, strict=True)) for row in rows])


def update_rows(
    session: Session, table: Table, key: str, columns: Sequence[str], rows: Sequence[tuple]
) -> None:
    """UPDATE ``table`` SET ``columns`` WHERE ``key`` matches, for each of ``rows``: tuples
    of the key value followed by the new values in the order of ``columns`` (values from
    ``DriverValues`` where the column type processes them)."""
    if not rows:
        return
    connection = session.connection()
    dialect = connection.dialect
    names = [key, *columns]
    if dialect.name == "sqlite":
        # Numbered parameters: ?1 is the key, first in each tuple.
        assignments = ", ".join(
            f"{_quote(dialect, name)} = ?{index}" for index, name in enumerate(columns, start=2)
        )
        target = _quote(dialect, table.name)
        sql = f"UPDATE {target} SET {assignments} WHERE {_quote(dialect, key)} = ?1"
        _sqlite_executemany(connection, sql, rows)
    elif _is_psycopg(dialect):
        target = _quote(dialect, table.name)
        scratch = _quote(dialect, f"rr_bulk_{table.name}")
        connection.exec_driver_sql(
            f"CREATE TEMPORARY TABLE {scratch} AS SELECT {_column_list(dialect, names)} "
            f"FROM {target} WITH NO DATA"
        )
        try:
            _copy(connection, f"rr_bulk_{table.name}", names, rows)
            assignments = ", ".join(
                f"{_quote(dialect, name)} = s.{_quote(dialect, name)}" for name in columns
            )
            connection.exec_driver_sql(
                f"UPDATE {target} AS t SET {assignments} FROM {scratch} AS s "
                f"WHERE t.{_quote(dialect, key)} = s.{_quote(dialect, key)}"
            )
        finally:
            connection.exec_driver_sql(f"DROP TABLE {scratch}")
    else:
        statement = (
            update(table)
            .where(table.c[key] == bindparam("_key"))
            .values({name: bindparam(name) for name in columns})
        )
        connection.execute(
            statement,
            [{"_key": row[0], **dict(zip(columns, row[1:], strict=True))} for row in rows],
        )


class DriverValues(dict):
    """``{value: what the driver stores for it}`` for one column, filled on first use: the
    column type's bind processing for the dialect (SQLite keeps dates and times as text in
    SQLAlchemy's own format), run once per distinct value. Build the rows for
    ``insert_rows``/``update_rows`` with ``values[value]``: the import's dates, statuses and
    timestamps repeat, so a 200,000-row batch costs a dictionary lookup per value. On a
    database without a driver-level path the values stay as they are (SQLAlchemy processes
    them)."""

    def __init__(self, session: Session, table: Table, column: str) -> None:
        super().__init__()
        dialect = session.connection().dialect
        processor = None
        if _driver_level(dialect):
            processor = table.c[column].type.dialect_impl(dialect).bind_processor(dialect)
        self._processor = processor

    def __missing__(self, value: Any) -> Any:
        stored = self[value] = value if self._processor is None else self._processor(value)
        return stored


class StoredValues(dict):
    """``{what the driver returned: the value SQLAlchemy would give}`` for one column, filled
    on first use (the column type's result processing, run once per distinct value): the
    counterpart of ``DriverValues`` for the rows of ``scan``."""

    def __init__(self, session: Session, table: Table, column: str) -> None:
        super().__init__()
        dialect = session.connection().dialect
        self._processor = table.c[column].type.dialect_impl(dialect).result_processor(dialect, None)

    def __missing__(self, stored: Any) -> Any:
        value = self[stored] = stored if self._processor is None else self._processor(stored)
        return value


def scan(session: Session, table: Table, columns: Sequence[str]) -> list[tuple]:
    """Every row of ``table`` (``columns`` only) as the driver returns it: translate dates
    and enums with ``StoredValues``. Reading 200,000 rows through SQLAlchemy's result
    (a row object and type processing per value) takes four times as long."""
    connection = session.connection()
    dialect = connection.dialect
    cursor = connection.connection.driver_connection.cursor()
    try:
        cursor.execute(
            f"SELECT {_column_list(dialect, columns)} FROM {_quote(dialect, table.name)}"
        )
        return cursor.fetchall()
    finally:
        cursor.close()


def driver_rows(connection: Connection, statement: Executable) -> list[tuple]:
    """The rows of ``statement`` (a SELECT) as the driver returns them: SQLAlchemy compiles
    and binds it, but builds no row objects and processes no values (translate dates and
    enums with ``StoredValues``). The reminder run's due set reads tens of thousands of rows
    this way in about half the time."""
    result = connection.execute(statement)
    try:
        return result.cursor.fetchall()
    finally:
        result.close()


def _sqlite_executemany(connection: Connection, sql: str, rows: list[tuple]) -> None:
    cursor = connection.connection.driver_connection.cursor()
    try:
        cursor.executemany(sql, rows)
    finally:
        cursor.close()


def _is_psycopg(dialect: Dialect) -> bool:
    return dialect.name == "postgresql" and dialect.driver == "psycopg"


def _driver_level(dialect: Dialect) -> bool:
    return dialect.name == "sqlite" or _is_psycopg(dialect)


def _copy(
    connection: Connection, table_name: str, columns: Sequence[str], rows: list[tuple]
) -> None:
    dialect = connection.dialect
    driver = connection.connection.driver_connection
    sql = f"COPY {_quote(dialect, table_name)} ({_column_list(dialect, columns)}) FROM STDIN"
    with driver.cursor() as cursor, cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)


def _quote(dialect: Dialect, name: str) -> str:
    return dialect.identifier_preparer.quote(name)


def _column_list(dialect: Dialect, columns: Sequence[str]) -> str:
    return ", ".join(_quote(dialect, name) for name in columns)
