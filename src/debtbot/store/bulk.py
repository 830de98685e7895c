"""Set-based writes that behave the same on SQLite and PostgreSQL.

Imports and the ingest API write thousands of rows per transaction. Going through the ORM (or
even Core's per-row parameter processing) costs more than the database's own work, so these
helpers talk to the driver under the session's connection (aiosqlite or asyncpg), inside the
session's transaction: one executemany per kind of change, keys looked up in chunks, values
converted once to what the column stores (whole cents, ISO dates on SQLite, …).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from itertools import islice
from operator import itemgetter
from typing import Any, TypeVar

from sqlalchemy import Boolean, Date, Table, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from debtbot.store.types import Cents, UTCDateTime

# Bound parameters per statement stay well under SQLite's 32766 and asyncpg's 32767.
IN_CHUNK = 2000

T = TypeVar("T")
Convert = Callable[[Any], Any]


async def defer_commit_flush(session: AsyncSession) -> None:
    """PostgreSQL: this transaction's COMMIT returns without waiting for its WAL to reach
    disk (SET LOCAL synchronous_commit = off). A crash of the server in the next fraction of
    a second may then lose the whole transaction, never part of it. SQLite: nothing changes.
    """
    if await dialect_name(session) == "postgresql":
        await session.execute(text("SET LOCAL synchronous_commit = off"))


async def refresh_statistics(session: AsyncSession, tables: Sequence[Table]) -> None:
    """PostgreSQL: ANALYZE these tables now (SQLite: nothing).

    A bulk import grows tables faster than autovacuum re-analyses them (and some servers run
    without it). Planned with the statistics of a nearly empty table, a lookup of 1,000 keys
    by (source, reference) reads every row of the source instead of 1,000 index entries, and
    a lookup by identifier hash scans the whole persons table: tens of milliseconds per
    batch, growing with every batch. The bot's own queries after an import gain as well.
    """
    if await dialect_name(session) == "postgresql":
        await session.execute(text("ANALYZE " + ", ".join(table.name for table in tables)))


def chunks(items: Iterable[T], size: int = IN_CHUNK) -> Iterator[list[T]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


async def dialect_name(session: AsyncSession) -> str:
    connection = await session.connection()
    return connection.dialect.name


async def insert_ignoring_conflicts(
    session: AsyncSession, table: Table, rows: Sequence[dict[str, Any]], *, keys: Sequence[str]
) -> None:
    """INSERT … ON CONFLICT (keys) DO NOTHING for a few rows, through Core."""
    if not rows:
        return
    insert = postgresql.insert if await dialect_name(session) == "postgresql" else sqlite.insert
    statement = insert(table).on_conflict_do_nothing(index_elements=list(keys))
    await session.execute(statement, list(rows))


def _cents(value: Decimal) -> int:
    cents = (value if value.__class__ is Decimal else Decimal(value)) * 100
    whole = int(cents)
    if whole != cents:
        raise ValueError("amount has fractions of a cent")
    return whole


def _sqlite_datetime(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("naive datetime: pass an aware UTC datetime")
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")  # as SQLAlchemy stores it


def _sqlite_date(value: date) -> str:
    return value.isoformat()


def _sqlite_bool(value: bool) -> int:
    return int(value)


def stored_converter(dialect: str, table: Table, column: str) -> Convert | None:
    """How a Python value becomes what the column holds on this dialect (None: as it is)."""
    kind = table.c[column].type
    if isinstance(kind, Cents):
        return _cents
    if dialect == "postgresql":
        return None
    if isinstance(kind, UTCDateTime):
        return _sqlite_datetime
    if isinstance(kind, Date):
        return _sqlite_date
    if isinstance(kind, Boolean):
        return _sqlite_bool
    return None


def row_converter(
    dialect: str, table: Table, columns: Sequence[str]
) -> Callable[[Sequence[Any]], tuple[Any, ...]]:
    """A function turning one row of Python values (in `columns` order) into stored values;
    it touches only the columns that need converting (a million rows add up). Needs no
    connection: an import converts the next batch while this one is written."""
    todo = [
        (at, convert)
        for at, name in enumerate(columns)
        if (convert := stored_converter(dialect, table, name)) is not None
    ]
    if not todo:
        return tuple

    def convert_row(values: Sequence[Any]) -> tuple[Any, ...]:
        row = list(values)
        for at, convert in todo:
            value = row[at]
            if value is not None:
                row[at] = convert(value)
        return tuple(row)

    return convert_row


_DRIVER = "debtbot.bulk.driver"
_UNIQUE_VIOLATION = "23505"  # PostgreSQL's SQLSTATE  # session.info: (the transaction, its Driver)


class Driver:
    """The session's own driver connection, for bulk statements inside its transaction."""

    def __init__(self, dialect: str, connection: Any) -> None:
        self.dialect = dialect
        self.connection = connection
        self.postgres = dialect == "postgresql"

    @classmethod
    async def of(cls, session: AsyncSession) -> Driver:
        # Once per transaction: an import batch asks for it three times, and each round trip
        # to the database counts when a million rows are written 5,000 at a time.
        current = session.get_nested_transaction() or session.get_transaction()
        cached = session.info.get(_DRIVER)
        if current is not None and cached is not None and cached[0] is current:
            return cached[1]  # type: ignore[no-any-return]
        # A statement through SQLAlchemy first: it opens the transaction on the connection,
        # so what the driver does below commits or rolls back with the session.
        await session.execute(text("SELECT 1"))
        connection = await session.connection()
        raw = await connection.get_raw_connection()
        driver = cls(connection.dialect.name, raw.driver_connection)
        if not driver.postgres and not driver.connection.in_transaction:
            # pysqlite begins a transaction only at the first INSERT/UPDATE: begin it now, and
            # as the writer, so that what the lookups below find (or do not find) still holds
            # when the rows are written (see insert_rows).
            await driver.connection.execute("BEGIN IMMEDIATE")
        if driver.postgres:
            # asyncpg prepares statements; after five runs PostgreSQL may keep a generic plan
            # made while the table was still small (a sequential scan), and an import grows
            # the table by a million rows. Plan each lookup for the table as it is now.
            # The keys a batch looks up sit in pages the import keeps in memory; at the default
            # random_page_cost (4, for spinning disks) 2,000 identifier hashes out of 300,000
            # persons are planned as a whole-table scan: 35 ms instead of 6.
            await driver.connection.execute(
                "SET LOCAL plan_cache_mode = force_custom_plan; SET LOCAL random_page_cost = 1.1"
            )
        current = session.get_nested_transaction() or session.get_transaction()
        session.info[_DRIVER] = (current, driver)
        return driver

    def placeholders(self, count: int, start: int = 1) -> list[str]:
        if self.postgres:
            return [f"${n}" for n in range(start, start + count)]
        return ["?"] * count

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        await self.connection.executemany(sql, rows)

    async def fetch_in(
        self,
        table: Table,
        columns: Sequence[str],
        key: str,
        values: Sequence[Any],
        *,
        where: Sequence[tuple[str, Any]] = (),
    ) -> list[tuple[Any, ...]]:
        """SELECT columns FROM table WHERE key IN (values) [AND column = value …], chunked."""
        found: list[tuple[Any, ...]] = []
        names = ", ".join(columns)
        fixed = [value for _, value in where]
        for chunk in chunks(values):
            params = self.placeholders(len(where) + 1)
            conditions = [f"{column} = {p}" for (column, _), p in zip(where, params, strict=False)]
            if self.postgres:
                conditions.append(f"{key} = ANY({params[-1]})")
                records = await self.connection.fetch(
                    f"SELECT {names} FROM {table.name} WHERE {' AND '.join(conditions)}",  # noqa: S608
                    *fixed, chunk,
                )
                found.extend(tuple(record) for record in records)
            else:
                marks = ", ".join("?" * len(chunk))
                conditions.append(f"{key} IN ({marks})")
                cursor = await self.connection.execute(
                    f"SELECT {names} FROM {table.name} WHERE {' AND '.join(conditions)}",  # noqa: S608
                    [*fixed, *chunk],
                )
                found.extend(tuple(row) for row in await cursor.fetchall())
                await cursor.close()
        return found

    def insert_sql(
        self,
        table: Table,
        columns: Sequence[str],
        *,
        conflict: Sequence[str],
        update: Sequence[str] = (),
    ) -> str:
        """INSERT … ON CONFLICT (conflict) DO NOTHING, or DO UPDATE SET the `update` columns."""
        sql = (
            f"INSERT INTO {table.name} ({', '.join(columns)}) "  # noqa: S608 (names are ours)
            f"VALUES ({', '.join(self.placeholders(len(columns)))}) "
            f"ON CONFLICT ({', '.join(conflict)}) "
        )
        if not update:
            return sql + "DO NOTHING"
        assignments = [f"{name} = excluded.{name}" for name in update]
        if "updated_at" in table.c:
            assignments.append("updated_at = CURRENT_TIMESTAMP")
        return sql + "DO UPDATE SET " + ", ".join(assignments)

    async def insert_rows(
        self,
        table: Table,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        *,
        conflict: Sequence[str],
        update: Sequence[str] = (),
        returning: Sequence[str] = (),
    ) -> list[tuple[Any, ...]]:
        """Insert many rows (stored values, no repeated conflict keys) with ON CONFLICT.

        PostgreSQL: COPY into a temporary table, then one INSERT … SELECT: the server does a
        fraction of the work of one execution per row; it returns the `returning` columns of
        the rows it wrote. SQLite: one executemany, which returns nothing.
        """
        if not rows:
            return []
        # In key order: each index on the key is then filled page after page.
        rows = sorted(rows, key=itemgetter(*(list(columns).index(name) for name in conflict)))
        if not self.postgres:
            # The callers pass rows whose keys they looked up in this transaction and did not
            # find; SQLite has one writer at a time and Driver.of made this transaction it, so
            # no one can have added them since. Hence a plain INSERT, which costs SQLite half
            # what an upsert does (a repeated key would fail the batch, never half-write it).
            names = ", ".join(columns)
            await self.executemany(
                f"INSERT INTO {table.name} ({names}) "  # noqa: S608 (names are ours)
                f"VALUES ({', '.join(self.placeholders(len(columns)))})",
                rows,
            )
            return []
        if not returning and await self.copy_unless_taken(table, columns, rows):
            return []
        sql = self.insert_sql(table, columns, conflict=conflict, update=update)
        names = ", ".join(columns)
        # Named after its columns: a pooled connection never reuses a stage of another shape.
        stage = f"bulk_{table.name}_{zlib.crc32(names.encode()):08x}"
        await self.connection.execute(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {stage} ON COMMIT DELETE ROWS AS "  # noqa: S608
            f"SELECT {names} FROM {table.name} WITH NO DATA"
        )
        await self.connection.copy_records_to_table(stage, records=rows, columns=list(columns))
        values_at = sql.index(" VALUES (")
        on_conflict = sql.index(" ON CONFLICT ")
        statement = sql[:values_at] + f" SELECT {names} FROM {stage}" + sql[on_conflict:]  # noqa: S608
        if returning:
            statement += " RETURNING " + ", ".join(returning)
        written = await self.connection.fetch(statement)
        await self.connection.execute(f"DELETE FROM {stage}")  # noqa: S608
        return [tuple(record) for record in written]

    async def copy_unless_taken(
        self, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> bool:
        """PostgreSQL: COPY the rows straight into the table, under a savepoint. The callers
        looked their keys up in this transaction and did not find them, so this is the usual
        outcome, at about two thirds of the server's work for a staged upsert. False when a
        concurrent writer took one of the keys meanwhile: the savepoint is rolled back, and
        the staged INSERT … ON CONFLICT path does its work instead."""
        await self.connection.execute("SAVEPOINT bulk_copy")
        try:
            await self.connection.copy_records_to_table(
                table.name, records=rows, columns=list(columns)
            )
        except Exception as exc:
            if getattr(exc, "sqlstate", None) != _UNIQUE_VIOLATION:
                raise
            await self.connection.execute("ROLLBACK TO SAVEPOINT bulk_copy")
            return False
        await self.connection.execute("RELEASE SAVEPOINT bulk_copy")
        return True

    def update_sql(self, table: Table, columns: Sequence[str]) -> str:
        """UPDATE table SET columns … WHERE id = the last parameter."""
        params = self.placeholders(len(columns) + 1)
        assignments = [f"{name} = {p}" for name, p in zip(columns, params, strict=False)]
        if "updated_at" in table.c:
            assignments.append("updated_at = CURRENT_TIMESTAMP")
        return f"UPDATE {table.name} SET {', '.join(assignments)} WHERE id = {params[-1]}"  # noqa: S608


async def update_by_id(
    driver: Driver, table: Table, changes: Sequence[tuple[int, dict[str, Any]]]
) -> None:
    """Apply (id, {column: stored value}) changes: one executemany per set of columns."""
    by_columns: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
    for row_id, change in changes:
        columns = tuple(change)
        by_columns.setdefault(columns, []).append((*change.values(), row_id))
    for columns, rows in by_columns.items():
        await driver.executemany(driver.update_sql(table, columns), rows)
