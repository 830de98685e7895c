"""Engines and sessions. Built when asked for, never at import time."""

from __future__ import annotations

import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

T = TypeVar("T")

Sessions = async_sessionmaker[AsyncSession]

# A pooled connection unused for longer than this is checked (one round trip) before it is
# handed out: server restarts, failovers and idle timeouts of proxies or NAT close the idle
# ones. Checking every checkout instead (pool_pre_ping) costs three round trips (BEGIN, ping,
# ROLLBACK) on each /debts. A connection that died within the window fails its statement;
# read() retries that once, on a new connection.
PING_IDLE_AFTER = 10.0


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


# Connections each engine keeps open (and may add on top, briefly). The bot works on at most
# `pool_size(url)` updates at once, so an update never waits for a connection.
SQLITE_POOL_SIZE, SQLITE_OVERFLOW = 20, 10
POSTGRES_POOL_SIZE, POSTGRES_OVERFLOW = 10, 10


def pool_size(url: str) -> int:
    """The connections an engine for `url` keeps open."""
    return SQLITE_POOL_SIZE if is_sqlite(url) else POSTGRES_POOL_SIZE


def create_engine(
    url: str, *, echo: bool = False, ping_idle_after: float = PING_IDLE_AFTER
) -> AsyncEngine:
    """An async engine for SQLite (aiosqlite) or PostgreSQL (asyncpg)."""
    if is_sqlite(url):
        engine = create_async_engine(
            url, echo=echo, connect_args={"timeout": 30},
            # Enough kept open for the bot's concurrent updates: with 5 (the default) a busy
            # bot closed and reopened connections all the time (900 in 5,000 /debts), each
            # a new driver thread and its PRAGMAs.
            pool_size=SQLITE_POOL_SIZE, max_overflow=SQLITE_OVERFLOW,
            # Reset below, only when a transaction is open: aiosqlite makes every call a trip
            # to its thread, and most connections come back with none (reads open none).
            pool_reset_on_return=None,
        )

        @event.listens_for(engine.sync_engine, "reset")
        def _rollback_if_open(dbapi_connection, _record, state):  # type: ignore[no-untyped-def]
            if state.terminate_only or not state.asyncio_safe or state.transaction_was_reset:
                return
            if dbapi_connection.driver_connection.in_transaction:
                dbapi_connection.rollback()

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            # Imports insert into indexes on random keys (identifier hashes): a page cache
            # larger than the 2 MB default keeps them from re-reading pages all the time.
            cursor.execute("PRAGMA cache_size=-32768")
            cursor.close()

        return engine
    engine = create_async_engine(
        url, echo=echo, pool_size=POSTGRES_POOL_SIZE, max_overflow=POSTGRES_OVERFLOW
    )
    _ping_when_idle(engine, ping_idle_after)
    return engine


def _ping_when_idle(engine: AsyncEngine, idle_after: float) -> None:
    dialect = engine.dialect

    @event.listens_for(engine.sync_engine, "checkin")
    def _returned(_dbapi_connection, record):  # type: ignore[no-untyped-def]
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _ping(dbapi_connection, record, _proxy):  # type: ignore[no-untyped-def]
        returned = record.info.get("returned_at")
        if returned is None or time.monotonic() - returned <= idle_after:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            if dialect.is_disconnect(error, dbapi_connection, None):
                # The pool drops this connection and checks out (or opens) another.
                raise DisconnectionError(str(error)) from error
            raise


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def dialect_of(sessions: async_sessionmaker[AsyncSession]) -> str:
    """The sessions' database dialect ("sqlite", "postgresql"), known without connecting."""
    engine: AsyncEngine = sessions.kw["bind"]
    return engine.dialect.name


@asynccontextmanager
async def transaction(
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """One unit of work: commit on success, roll back on any error."""
    async with sessions() as session, session.begin():
        yield session


_readers: weakref.WeakKeyDictionary[AsyncEngine, AsyncEngine] = weakref.WeakKeyDictionary()


def _reader(engine: AsyncEngine) -> AsyncEngine:
    # PostgreSQL: autocommit, so a read sends no BEGIN and no ROLLBACK. SQLite (pysqlite's
    # transaction handling) opens no transaction for a SELECT anyway, and switching its
    # isolation level would cost a trip to the driver's thread each way.
    reader = _readers.get(engine)
    if reader is None:
        reader = engine
        if engine.dialect.name != "sqlite":
            reader = engine.execution_options(isolation_level="AUTOCOMMIT")
        _readers[engine] = reader
    return reader


async def read(
    sessions: async_sessionmaker[AsyncSession], work: Callable[[AsyncConnection], Awaitable[T]]
) -> T:
    """`work(connection)` for statements that only read and need no snapshot across them
    (no transaction on PostgreSQL), retried once if the connection turned out to be dead."""
    return await _retried_once(sessions, work, commit=False)


async def write_once(
    sessions: async_sessionmaker[AsyncSession], work: Callable[[AsyncConnection], Awaitable[T]]
) -> T:
    """`work(connection)` for one statement that writes and may safely run twice: on
    PostgreSQL it commits on its own (autocommit: no BEGIN and COMMIT round trips), on SQLite
    it is committed here. Retried once if the connection turned out to be dead."""
    return await _retried_once(sessions, work, commit=True)


async def _retried_once(
    sessions: async_sessionmaker[AsyncSession],
    work: Callable[[AsyncConnection], Awaitable[T]],
    *,
    commit: bool,
) -> T:
    engine: Any = sessions.kw["bind"]
    connections = _reader(engine)
    for attempt in (1, 2):
        try:
            async with connections.connect() as connection:
                done = await work(connection)
                if commit:
                    await connection.commit()
                return done
        except DBAPIError as error:
            if attempt == 2 or not error.connection_invalidated:
                raise
    raise AssertionError("unreachable")
