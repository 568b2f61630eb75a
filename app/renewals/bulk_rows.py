"""Bulk writes of many rows at driver level: the portfolio import's inserts and updates.

SQLAlchemy's executemany costs about as much per row as the database itself (a parameter
dictionary per row, type processing per value, for the ORM's bulk UPDATE a statement plan per
batch). For 200,000 rows that was half of an import. Here the rows are plain tuples:

- SQLite: ``cursor.executemany`` with the tuples;
- PostgreSQL (psycopg 3): ``COPY`` into the table, and for updates ``COPY`` into a temporary
  table and one ``UPDATE ... FROM`` joining it by key;
- any other database: SQLAlchemy Core executemany (correct, not faster).

Values go in as SQLAlchemy would take them (``date``, ``datetime``, enum members): each
column's own bind processing of the dialect turns them into what the driver stores, the same
text SQLAlchemy writes (SQLite keeps dates and times as text in its own format).

This bypasses the ORM, and so its events: ``Relation``'s rule that a new billing address
raises ``link_version`` (``models.relation``) is not applied here, and neither are column
defaults. Callers pass every column, and update relations' addresses through the ORM.
Runs in the session's transaction; the caller commits."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Table, bindparam, insert, update
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.orm import Session


def insert_rows(
    session: Session, table: Table, columns: Sequence[str], rows: Sequence[tuple]
) -> None:
    """INSERT ``rows`` (tuples in the order of ``columns``) into ``table``."""
    if not rows:
        return
    connection = session.connection()
    dialect = connection.dialect
    if dialect.name == "sqlite":
        sql = (
            f"INSERT INTO {_quote(dialect, table.name)} ({_column_list(dialect, columns)}) "
            f"VALUES ({', '.join('?' * len(columns))})"
        )
        _sqlite_executemany(connection, sql, _driver_values(dialect, table, columns, rows))
    elif _is_psycopg(dialect):
        _copy(connection, table.name, columns, _driver_values(dialect, table, columns, rows))
    else:
        connection.execute(insert(table), [dict(zip(columns, row, strict=True)) for row in rows])


def update_rows(
    session: Session, table: Table, key: str, columns: Sequence[str], rows: Sequence[tuple]
) -> None:
    """UPDATE ``table`` SET ``columns`` WHERE ``key`` matches, for each of ``rows``: tuples
    of the key value followed by the new values in the order of ``columns``."""
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
        _sqlite_executemany(connection, sql, _driver_values(dialect, table, names, rows))
    elif _is_psycopg(dialect):
        target = _quote(dialect, table.name)
        scratch = _quote(dialect, f"rr_bulk_{table.name}")
        connection.exec_driver_sql(
            f"CREATE TEMPORARY TABLE {scratch} AS SELECT {_column_list(dialect, names)} "
            f"FROM {target} WITH NO DATA"
        )
        try:
            _copy(
                connection,
                f"rr_bulk_{table.name}",
                names,
                _driver_values(dialect, table, names, rows),
            )
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


def _driver_values(
    dialect: Dialect, table: Table, columns: Sequence[str], rows: Sequence[tuple]
) -> list[tuple]:
    """The rows with each value as the driver takes it: the column type's bind processing,
    applied once per distinct value (dates, statuses and timestamps repeat a lot)."""
    processors: list[Callable[[Any], Any] | None] = [
        table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in columns
    ]
    if not any(processors):
        return list(rows)
    values: list[Any] = list(zip(*rows, strict=True))
    for index, processor in enumerate(processors):
        if processor is not None:
            processed = {value: processor(value) for value in set(values[index])}
            values[index] = map(processed.__getitem__, values[index])
    return list(zip(*values, strict=True))


def _sqlite_executemany(connection: Connection, sql: str, rows: list[tuple]) -> None:
    cursor = connection.connection.driver_connection.cursor()
    try:
        cursor.executemany(sql, rows)
    finally:
        cursor.close()


def _is_psycopg(dialect: Dialect) -> bool:
    return dialect.name == "postgresql" and dialect.driver == "psycopg"


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
