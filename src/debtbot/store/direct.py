"""Hot statements straight through the driver: SQLAlchemy compiles them, the driver runs them.

Every /debts runs the same single SELECT. Through SQLAlchemy's async layer a run costs more
in Python (greenlet hand-overs, the execution context, result metadata) than the database
spends on it. Here the statement is compiled once per dialect, its parameters put in the
compiled order, and each row converted with the very result processors SQLAlchemy would have
applied (whole cents to Decimal, SQLite's text dates to dates, integers to booleans), into
a named tuple with the statement's column names.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Executable

from debtbot.store import sqlite


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    arguments: tuple[Any, ...]  # the driver's positional arguments, literals filled in
    slots: tuple[tuple[int, str, Any], ...]  # where each named parameter goes, its processor
    row: Any  # a namedtuple class named after the columns
    processors: tuple[tuple[int, Callable[[Any], Any]], ...]  # (column, how to convert it)


_compiled: dict[tuple[int, str], _Compiled] = {}  # (the statement's id, the dialect)


def _compile(statement: Any, dialect: Dialect, names: tuple[str, ...]) -> _Compiled:
    # Expanded once (IN lists of literals rendered, parameters in the driver's order); the
    # named parameters are filled in at each run.
    compiled = statement.compile(dialect=dialect)
    expanded = compiled.construct_expanded_state(dict.fromkeys(names, 0))
    slots = tuple(
        (at, name, compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect))
        for at, name in enumerate(expanded.positiontup or ())
        if name in names
    )
    columns = list(getattr(statement, "selected_columns", ()))
    processors = []
    for at, column in enumerate(columns):
        process = column.type.dialect_impl(dialect).result_processor(dialect, None)
        if process is not None:
            processors.append((at, process))
    row = namedtuple("Row", [column.key for column in columns])  # type: ignore[misc]
    return _Compiled(
        expanded.statement, tuple(expanded.positional_parameters), slots, row, tuple(processors)
    )


async def execute_once(
    connection: AsyncConnection, statement: Executable, parameters: Mapping[str, Any]
) -> None:
    """Run one writing statement and commit it: on PostgreSQL the connection must be in
    autocommit (db.write_once's are), on SQLite the driver commits in the same trip."""
    dialect = connection.dialect
    found = _compiled_for(statement, dialect, parameters)
    arguments = _arguments(found, parameters)
    raw = (await connection.get_raw_connection()).driver_connection
    if isinstance(raw, sqlite.Connection):
        await raw.write_and_commit(found.sql, arguments)
        return
    try:
        await raw.execute(found.sql, *arguments)  # type: ignore[union-attr]
    except Exception as exc:
        await _lost(connection, raw, found, arguments, exc)
        raise


def _compiled_for(statement: Any, dialect: Dialect, parameters: Mapping[str, Any]) -> _Compiled:
    key = (id(statement), dialect.name)
    found = _compiled.get(key)
    if found is None:
        found = _compiled[key] = _compile(statement, dialect, tuple(parameters))
    return found


def _arguments(found: _Compiled, parameters: Mapping[str, Any]) -> list[Any]:
    arguments = list(found.arguments)
    for at, name, process in found.slots:
        value = parameters[name]
        arguments[at] = value if process is None or value is None else process(value)
    return arguments


async def _lost(
    connection: AsyncConnection, raw: Any, found: _Compiled, arguments: list[Any],
    exc: Exception,
) -> None:
    """A PostgreSQL connection the server dropped: as SQLAlchemy would, the pool forgets it
    and the caller may retry on a new one (db.read and db.write_once do, once)."""
    if raw.is_closed():
        await connection.invalidate(exc)
        raise DBAPIError(found.sql, arguments, exc, connection_invalidated=True) from exc


async def fetch_rows(
    connection: AsyncConnection, statement: Executable, parameters: Mapping[str, Any]
) -> list[Any]:
    """The statement's rows as named tuples, as SQLAlchemy would have typed them. For
    statements built once (module constants): the compiled form is kept by their id."""
    dialect = connection.dialect
    found = _compiled_for(statement, dialect, parameters)
    arguments = _arguments(found, parameters)
    raw = (await connection.get_raw_connection()).driver_connection
    if dialect.name == "postgresql":
        try:
            records = await raw.fetch(found.sql, *arguments)  # type: ignore[union-attr]
        except Exception as exc:
            await _lost(connection, raw, found, arguments, exc)
            raise
    elif isinstance(raw, sqlite.Connection):
        records = raw.read_here(found.sql, arguments)
    else:
        cursor = await raw.execute(found.sql, arguments)  # type: ignore[union-attr]
        records = await cursor.fetchall()
        await cursor.close()
    make, processors = found.row._make, found.processors
    if not processors:
        return [make(record) for record in records]
    rows = []
    for record in records:
        values = list(record)
        for at, process in processors:
            values[at] = process(values[at])
        rows.append(make(values))
    return rows
