"""Shared fixtures.

The store-backed tests run on the backend named by `DEBTBOT_TEST_DB` (`sqlite`, the default,
or `postgres`); CI runs the whole suite once with each. PostgreSQL is the server named by
`DEBTBOT_TEST_POSTGRES_URL` (default: the local server, connecting as `postgres`); the tests
create databases of their own there and drop them afterwards (`tests/postgres_databases.py`),
never touching one that existed before. Outside CI a missing PostgreSQL server skips those tests
with the reason; in CI (`CI=true`) it fails them.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

import postgres_databases
from debtbot.store.db import create_engine, session_factory
from debtbot.store.health import OUTAGE
from debtbot.store.models import Base

TEST_HASH_KEY = "test-hash-key"

# The tests serve with the development hash key; outside development `debtbot run` refuses it.
os.environ.setdefault("DEBTBOT_ENV", "development")


def backend() -> str:
    return os.environ.get("DEBTBOT_TEST_DB", "sqlite").lower()


async def _postgres_reachable(url: str) -> str | None:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.execute(text("select 1"))
        return None
    except Exception as exc:  # any failure to connect is the reason to report
        return f"{type(exc).__name__}: {exc}"
    finally:
        await engine.dispose()


async def _require_postgres() -> None:
    """Skip when PostgreSQL is unreachable; in CI, fail instead (it must be there)."""
    url = postgres_databases.server_url()
    problem = await _postgres_reachable(url)
    if problem:
        shown = make_url(url).render_as_string(hide_password=True)
        message = f"PostgreSQL at {shown} is unreachable ({problem})"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(message)
        pytest.skip(message)


_shared_database: list[str] = []


async def _shared_postgres_database() -> str:
    """One database for the run, made by it, with every table; each test starts it empty."""
    if not _shared_database:
        url = postgres_databases.create_database()
        engine = create_engine(url)
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        await engine.dispose()
        _shared_database.append(url)
        return url
    url = _shared_database[0]
    engine = create_engine(url)
    async with engine.begin() as connection:
        tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
        await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    await engine.dispose()
    return url


@pytest.fixture
async def database_url(tmp_path: Path) -> AsyncIterator[str]:
    """A clean database on the selected backend, with every table created."""
    if backend() == "postgres":
        await _require_postgres()
        yield await _shared_postgres_database()
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'debtbot.sqlite3'}"
        engine = create_engine(url)
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        await engine.dispose()
        yield url


@pytest.fixture
async def empty_database_url(tmp_path: Path) -> AsyncIterator[str]:
    """An empty database (no tables at all) on the selected backend, for code that migrates
    it itself. On PostgreSQL a database of its own, dropped after the test."""
    if backend() != "postgres":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.sqlite3'}"
        return
    await _require_postgres()
    url = postgres_databases.create_database()
    try:
        yield url
    finally:
        postgres_databases.drop_database(url)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return session_factory(engine)


@pytest.fixture(autouse=True)
def _no_outage_left_over() -> None:
    """The process's outage log starts each test with the database up."""
    OUTAGE.recovered_quietly()
