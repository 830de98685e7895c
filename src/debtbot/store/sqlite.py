"""The SQLite driver: aiosqlite, with fewer trips to its thread per statement.

aiosqlite runs every call on one thread per connection, and each call is a round trip
(queue, thread wake-up, call_soon_threadsafe, event-loop wake-up). SQLAlchemy's adapter
makes six of them for a one-row-set read: cursor(), execute(), fetchall(), close(), and a
rollback() each from the session and the pool, although a read never opened a transaction.
Here a statement is one trip: the cursor is made, the statement run and its first rows
fetched on the driver's thread together; commit and rollback without an open transaction
are skipped (sqlite3 would do nothing for them either). Large results still stream:
beyond PREFETCH rows the rest is fetched as asked for.
"""

from __future__ import annotations

import sqlite3
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any

import aiosqlite
from aiosqlite.context import contextmanager

PREFETCH = 512


class Cursor(aiosqlite.Cursor):
    def __init__(self, connection: Connection) -> None:  # no sqlite3 cursor yet
        self.iter_chunk_size = connection._iter_chunk_size
        self._conn = connection
        self._cursor: sqlite3.Cursor | None = None
        self._rows: deque[Any] = deque()
        self._more = False  # rows left on the sqlite3 cursor beyond self._rows
        self._arraysize = 1

    def _run(self, method: str, sql: str, parameters: Any) -> tuple[sqlite3.Cursor, list[Any]]:
        # On the driver's thread.
        cursor = self._cursor if self._cursor is not None else self._conn._conn.cursor()
        getattr(cursor, method)(sql, parameters)
        return cursor, cursor.fetchmany(PREFETCH) if cursor.description else []

    async def _start(self, method: str, sql: str, parameters: Any) -> Cursor:
        self._cursor, rows = await self._execute(self._run, method, sql, parameters)
        self._rows = deque(rows)
        self._more = len(rows) == PREFETCH
        return self

    async def execute(self, sql: str, parameters: Iterable[Any] | None = None) -> Cursor:
        return await self._start("execute", sql, [] if parameters is None else parameters)

    async def executemany(self, sql: str, parameters: Iterable[Iterable[Any]]) -> Cursor:
        return await self._start("executemany", sql, parameters)

    async def executescript(self, sql_script: str) -> Cursor:
        cursor = self._cursor if self._cursor is not None else await self._execute(
            self._conn._conn.cursor
        )
        self._cursor, self._rows, self._more = cursor, deque(), False
        await self._execute(cursor.executescript, sql_script)
        return self

    async def _fetch_more(self, size: int) -> None:
        assert self._cursor is not None
        rows = await self._execute(self._cursor.fetchmany, size)
        self._rows.extend(rows)
        self._more = len(rows) == size

    async def fetchone(self) -> Any:
        if not self._rows and self._more:
            await self._fetch_more(PREFETCH)
        return self._rows.popleft() if self._rows else None

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        if size is None:
            size = self._arraysize
        if len(self._rows) < size and self._more:
            await self._fetch_more(max(size - len(self._rows), PREFETCH))
        return [self._rows.popleft() for _ in range(min(size, len(self._rows)))]

    async def fetchall(self) -> list[Any]:
        rows = list(self._rows)
        self._rows.clear()
        if self._more:
            assert self._cursor is not None
            rows.extend(await self._execute(self._cursor.fetchall))
            self._more = False
        return rows

    async def close(self) -> None:
        # A cursor whose rows were all fetched holds nothing (sqlite3 reset its statement);
        # one that still has rows keeps a read open until it is closed.
        self._rows.clear()
        if self._more and self._cursor is not None:
            self._more = False
            await self._execute(self._cursor.close)

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount if self._cursor is not None else -1

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid if self._cursor is not None else None

    @property
    def arraysize(self) -> int:
        return self._arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._arraysize = value

    @property
    def description(self) -> Any:
        return self._cursor.description if self._cursor is not None else None


class Connection(aiosqlite.Connection):
    @contextmanager
    async def cursor(self) -> Cursor:  # type: ignore[override]
        return Cursor(self)

    async def write_and_commit(self, sql: str, parameters: Sequence[Any]) -> None:
        """One statement and its commit in a single trip to the driver's thread (a write
        may wait for SQLite's lock, so it never runs in the event loop's thread)."""

        def write() -> None:
            self._conn.execute(sql, parameters)
            self._conn.commit()

        await self._execute(write)

    def read_here(self, sql: str, parameters: Sequence[Any]) -> list[Any]:
        """Run a short read in the calling thread (the event loop's), not the driver's: for
        a statement of tens of microseconds (the /debts read takes about 70) the hand-over to
        the driver's thread and back costs more than the statement. Only while this
        connection is checked out from the pool: its driver thread is idle then."""
        return self._conn.execute(sql, parameters).fetchall()

    async def commit(self) -> None:
        if self._conn.in_transaction:
            await super().commit()

    async def rollback(self) -> None:
        if self._conn.in_transaction:
            await super().rollback()


def connect(database: str, **kwargs: Any) -> Connection:
    """aiosqlite.connect, with this module's Connection (for create_async_engine's
    async_creator)."""

    def connector() -> sqlite3.Connection:
        return sqlite3.connect(database, **kwargs)

    connection = Connection(connector, 64)
    connection._thread.daemon = True  # as SQLAlchemy does for aiosqlite's own connect()
    return connection
