"""The statements every update runs, prepared once under a name.

Building a statement costs more than running it, so the hot ones are module constants,
registered here by name (`prepare`) and run by name (`fetch`, `execute`). In a unit of
work, and on PostgreSQL, a run is SQLAlchemy's public `execute`: its compiled cache holds
the compiled form, and a constant's cache key is worked out once.

On SQLite, outside a unit of work (`Store.read`, `Store.write_once`), that path costs five
trips to aiosqlite's thread per statement (cursor, execute, fetchall, close, and the
rollback of the transaction SQLAlchemy began), each a thread hand-over and an event-loop
wake-up, more than the statement itself. There the SQL, compiled once with named
parameters (which sqlite3 takes as they are), goes to aiosqlite's `execute_fetchall`: one
trip. SQLite stores what these statements read and write in the forms below; the
repositories' tests check that both paths give the same.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Boolean, Date, DateTime, Integer, String
from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql import Executable

from debtbot.store.types import Cents, UTCDateTime

_SQLITE = SQLiteDialect_aiosqlite(paramstyle="named")
_STORED_DATETIME = "%Y-%m-%d %H:%M:%S.%f"  # SQLAlchemy's DATETIME storage format on SQLite
_CENTS = Cents()


def _date(value: Any) -> date | None:
    return None if value is None else date.fromisoformat(value)


def _datetime(value: Any) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value).replace(tzinfo=UTC)


def _bool(value: Any) -> bool | None:
    return None if value is None else bool(value)


def _cents(value: Any) -> Any:
    return _CENTS.process_result_value(value, _SQLITE)


def _stored(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware UTC datetime")
        return value.astimezone(UTC).strftime(_STORED_DATETIME)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _decoder(column_type: Any) -> Callable[[Any], Any] | None:
    if isinstance(column_type, Cents):
        return _cents
    if isinstance(column_type, UTCDateTime | DateTime):
        return _datetime
    if isinstance(column_type, Date):
        return _date
    if isinstance(column_type, Boolean):
        return _bool
    if isinstance(column_type, Integer | String):
        return None
    raise TypeError(f"no SQLite decoder for {column_type!r}")


@dataclass(frozen=True, slots=True)
class _Prepared:
    statement: Executable
    sqlite: str  # SQLite's SQL, with named parameters
    constants: dict[str, Any]  # the values the statement itself carries (stored forms)
    decoders: tuple[tuple[int, Callable[[Any], Any]], ...]  # (column, SQLite's form to Python)


_prepared: dict[str, _Prepared] = {}


def prepare(name: str, statement: Executable) -> None:
    """Register `statement` under `name` (at import: one name, one statement)."""
    if name in _prepared:
        raise ValueError(f"a statement named {name!r} is registered already")
    compiled = statement.compile(dialect=_SQLITE)
    columns = list(getattr(statement, "selected_columns", ()))
    decoders = tuple(
        (at, decode) for at, column in enumerate(columns)
        if (decode := _decoder(column.type)) is not None
    )
    constants = {key: _stored(value) for key, value in compiled.params.items()
                 if value is not None}
    _prepared[name] = _Prepared(statement, compiled.string, constants, decoders)


def _on_sqlite(db: AsyncConnection | AsyncSession) -> bool:
    return isinstance(db, AsyncConnection) and db.dialect.name == "sqlite"


def _arguments(prepared: _Prepared, parameters: Mapping[str, Any]) -> dict[str, Any]:
    return {**prepared.constants, **{k: _stored(v) for k, v in parameters.items()}}


async def fetch(
    db: AsyncConnection | AsyncSession, name: str, parameters: Mapping[str, Any]
) -> Sequence[Sequence[Any]]:
    """The rows of the statement named `name`, typed as SQLAlchemy types them."""
    prepared = _prepared[name]
    if not _on_sqlite(db):
        return (await db.execute(prepared.statement, parameters)).all()
    driver = (await db.get_raw_connection()).driver_connection  # type: ignore[union-attr]
    rows = await driver.execute_fetchall(prepared.sqlite, _arguments(prepared, parameters))
    if not prepared.decoders:
        return [tuple(row) for row in rows]
    decoded = []
    for row in rows:
        values = list(row)
        for at, decode in prepared.decoders:
            values[at] = decode(values[at])
        decoded.append(values)
    return decoded


async def execute(
    db: AsyncConnection | AsyncSession, name: str, parameters: Mapping[str, Any]
) -> None:
    """Run the writing statement named `name`: in the unit of work, or for
    `Store.write_once`, which commits it."""
    prepared = _prepared[name]
    if not _on_sqlite(db):
        await db.execute(prepared.statement, parameters)
        return
    driver = (await db.get_raw_connection()).driver_connection  # type: ignore[union-attr]
    await driver.execute_fetchall(prepared.sqlite, _arguments(prepared, parameters))
    await driver.commit()
