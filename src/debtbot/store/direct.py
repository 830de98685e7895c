"""The statements every update runs, prepared once under a name, and run straight through
the driver outside a unit of work.

Building a statement costs more than running it, so the hot ones are module constants,
registered here by name (`prepare`) and run by name (`fetch`, `execute`). In a unit of work
a run is SQLAlchemy's public `execute` (its compiled cache holds the compiled form).

Outside one (`Store.read`, `Store.write_once`: a connection of its own, in autocommit on
PostgreSQL) a run through SQLAlchemy costs more in Python than the database spends on it
(execution context, result metadata, greenlet hand-overs), and on SQLite five trips to
aiosqlite's thread (cursor, execute, fetchall, close, and the rollback of the transaction
SQLAlchemy began). There the SQL, compiled once per dialect when the statement is
registered, goes to the driver's public API: asyncpg's `fetch` / `execute`, aiosqlite's
`execute_fetchall` (one trip); a write on SQLite goes as a one-statement script with its
values written in (only integers and times: nothing a user typed), which sqlite3 runs and
commits in that one trip, not two (the statement, then COMMIT). The drivers' values become
the Python values SQLAlchemy would give through the column types below; the repositories'
tests check that both paths read the same.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Boolean, Date, DateTime, Integer, String
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql import Executable

from debtbot.store.types import Cents, UTCDateTime

# Both compiled with named parameters (:chat_id): sqlite3 takes them as they are, and for
# asyncpg they become $1, $2, … in the order of their first use.
_DIALECTS = {
    "sqlite": SQLiteDialect_aiosqlite(paramstyle="named"),
    "postgresql": PGDialect_asyncpg(paramstyle="named"),
}
_PARAMETER = re.compile(r"(?<![:\w]):(\w+)")
_STORED_DATETIME = "%Y-%m-%d %H:%M:%S.%f"  # SQLAlchemy's DATETIME on SQLite
_CENTS = Cents()
_UTC = UTCDateTime()


def _cents(value: Any) -> Any:
    return _CENTS.process_result_value(value, None)


def _aware(value: Any) -> Any:
    return _UTC.process_result_value(value, None)


def _sqlite_date(value: Any) -> date | None:
    return None if value is None else date.fromisoformat(value)


def _sqlite_datetime(value: Any) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value).replace(tzinfo=UTC)


def _sqlite_bool(value: Any) -> bool | None:
    return None if value is None else bool(value)


def _sqlite_decoder(column_type: Any) -> Callable[[Any], Any] | None:
    if isinstance(column_type, Cents):
        return _cents
    if isinstance(column_type, UTCDateTime | DateTime):
        return _sqlite_datetime
    if isinstance(column_type, Date):
        return _sqlite_date
    if isinstance(column_type, Boolean):
        return _sqlite_bool
    if isinstance(column_type, Integer | String):
        return None
    raise TypeError(f"no SQLite decoder for {column_type!r}")


def _postgresql_decoder(column_type: Any) -> Callable[[Any], Any] | None:
    if isinstance(column_type, Cents):
        return _cents
    if isinstance(column_type, UTCDateTime):
        return _aware
    if isinstance(column_type, Date | Boolean | Integer | String):
        return None
    raise TypeError(f"no PostgreSQL decoder for {column_type!r}")


_DECODERS = {"sqlite": _sqlite_decoder, "postgresql": _postgresql_decoder}


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware UTC datetime")
        return value.astimezone(UTC).strftime(_STORED_DATETIME)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _sqlite_literal(value: Any) -> str:
    # Only values that cannot carry SQL: the hot writes take ids and times.
    if value is None:
        return "NULL"
    if isinstance(value, bool | int):
        return str(int(value))
    if isinstance(value, datetime):
        return f"'{_sqlite_value(value)}'"
    raise TypeError(f"not written into a script: {type(value).__name__}")


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str  # SQLite: named parameters; PostgreSQL: $1, $2, …
    names: tuple[str, ...]  # PostgreSQL: the parameter of $1, $2, …
    decoders: tuple[tuple[int, Callable[[Any], Any]], ...]  # (column, driver's value to Python)


@dataclass(frozen=True, slots=True)
class _Prepared:
    statement: Executable
    compiled: dict[str, _Compiled]  # by dialect name


_prepared: dict[str, _Prepared] = {}


def _compile(name: str, statement: Executable, dialect_name: str) -> _Compiled:
    compiled = statement.compile(dialect=_DIALECTS[dialect_name])
    used = _PARAMETER.findall(compiled.string)
    if set(used) != set(compiled.params) or any(v is not None for v in compiled.params.values()):
        raise ValueError(f"{name!r}: only named parameters without values, please")
    columns = list(getattr(statement, "selected_columns", ()))
    decoder = _DECODERS[dialect_name]
    decoders = tuple(
        (at, decode) for at, column in enumerate(columns)
        if (decode := decoder(column.type)) is not None
    )
    if dialect_name == "sqlite":
        return _Compiled(compiled.string, (), decoders)
    names = tuple(dict.fromkeys(used))
    sql = _PARAMETER.sub(lambda found: f"${names.index(found[1]) + 1}", compiled.string)
    return _Compiled(sql, names, decoders)


def prepare(name: str, statement: Executable) -> None:
    """Register `statement` under `name` (at import: one name, one statement). It may carry
    no values of its own, only named parameters (`bindparam`)."""
    if name in _prepared:
        raise ValueError(f"a statement named {name!r} is registered already")
    _prepared[name] = _Prepared(
        statement, {dialect: _compile(name, statement, dialect) for dialect in _DIALECTS}
    )


def _direct(db: AsyncConnection | AsyncSession) -> bool:
    return isinstance(db, AsyncConnection) and db.dialect.name in _DIALECTS


async def fetch(
    db: AsyncConnection | AsyncSession, name: str, parameters: Mapping[str, Any]
) -> Sequence[Sequence[Any]]:
    """The rows of the statement named `name`, typed as SQLAlchemy types them."""
    prepared = _prepared[name]
    if not _direct(db):
        return (await db.execute(prepared.statement, parameters)).all()
    assert isinstance(db, AsyncConnection)
    found = prepared.compiled[db.dialect.name]
    driver = (await db.get_raw_connection()).driver_connection
    if db.dialect.name == "sqlite":
        arguments = {key: _sqlite_value(value) for key, value in parameters.items()}
        rows = await driver.execute_fetchall(found.sql, arguments)  # type: ignore[union-attr]
    else:
        arguments = [parameters[key] for key in found.names]
        try:
            rows = await driver.fetch(found.sql, *arguments)  # type: ignore[union-attr]
        except Exception as exc:
            await _lost(db, driver, found.sql, arguments, exc)
            raise
    if not found.decoders:
        return [tuple(row) for row in rows]
    decoded = []
    for row in rows:
        values = list(row)
        for at, decode in found.decoders:
            values[at] = decode(values[at])
        decoded.append(values)
    return decoded


async def execute(
    db: AsyncConnection | AsyncSession, name: str, parameters: Mapping[str, Any]
) -> None:
    """Run the writing statement named `name`: in the unit of work, or on its own (it
    commits: `Store.write_once`)."""
    prepared = _prepared[name]
    if not _direct(db):
        await db.execute(prepared.statement, parameters)
        return
    assert isinstance(db, AsyncConnection)
    found = prepared.compiled[db.dialect.name]
    driver = (await db.get_raw_connection()).driver_connection
    if db.dialect.name == "sqlite":
        script = _PARAMETER.sub(lambda one: _sqlite_literal(parameters[one[1]]), found.sql)
        await driver.executescript(script + ";")  # type: ignore[union-attr]
        return
    arguments = [parameters[key] for key in found.names]
    try:
        await driver.execute(found.sql, *arguments)  # type: ignore[union-attr]
    except Exception as exc:
        await _lost(db, driver, found.sql, arguments, exc)
        raise


async def _lost(
    connection: AsyncConnection, driver: Any, sql: str, arguments: list[Any], exc: Exception
) -> None:
    """A PostgreSQL connection the server dropped: as SQLAlchemy would, the pool forgets it
    and the caller may retry on a new one (`Store.read` and `Store.write_once` do, once)."""
    if driver.is_closed():
        await connection.invalidate(exc)
        raise DBAPIError(sql, arguments, exc, connection_invalidated=True) from exc
