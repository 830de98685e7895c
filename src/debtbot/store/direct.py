"""One hot read, straight through the driver: SQLAlchemy compiles it, the driver runs it.

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
    slots: tuple[tuple[int, str], ...]  # where each named parameter goes among them
    row: Any  # a namedtuple class named after the columns
    processors: tuple[tuple[int, Callable[[Any], Any]], ...]  # (column, how to convert it)


_compiled: dict[tuple[int, str], _Compiled] = {}  # (the statement's id, the dialect)


def _compile(statement: Any, dialect: Dialect, names: tuple[str, ...]) -> _Compiled:
    # Expanded once (IN lists of literals rendered, parameters in the driver's order); the
    # named parameters are filled in at each run.
    expanded = statement.compile(dialect=dialect).construct_expanded_state(
        dict.fromkeys(names, 0)
    )
    slots = tuple(
        (at, name) for at, name in enumerate(expanded.positiontup or ()) if name in names
    )
    columns = list(statement.selected_columns)
    processors = []
    for at, column in enumerate(columns):
        process = column.type.dialect_impl(dialect).result_processor(dialect, None)
        if process is not None:
            processors.append((at, process))
    row = namedtuple("Row", [column.key for column in columns])  # type: ignore[misc]
    return _Compiled(
        expanded.statement, tuple(expanded.positional_parameters), slots, row, tuple(processors)
    )


async def fetch_rows(
    connection: AsyncConnection, statement: Executable, parameters: Mapping[str, Any]
) -> list[Any]:
    """The statement's rows as named tuples, as SQLAlchemy would have typed them. For
    statements built once (module constants): the compiled form is kept by their id."""
    dialect = connection.dialect
    key = (id(statement), dialect.name)
    found = _compiled.get(key)
    if found is None:
        found = _compiled[key] = _compile(statement, dialect, tuple(parameters))
    arguments = list(found.arguments)
    for at, name in found.slots:
        arguments[at] = parameters[name]
    raw = (await connection.get_raw_connection()).driver_connection
    if dialect.name == "postgresql":
        try:
            records = await raw.fetch(found.sql, *arguments)  # type: ignore[union-attr]
        except Exception as exc:
            if not raw.is_closed():  # type: ignore[union-attr]
                raise
            # The server dropped the connection: as SQLAlchemy would, the pool forgets it
            # and the caller may retry on a new one (db.read does, once).
            await connection.invalidate(exc)
            raise DBAPIError(found.sql, arguments, exc, connection_invalidated=True) from exc
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
