"""Shared fixtures.

The store-backed tests run on the backend named by `DEBTBOT_TEST_DB` (`sqlite`, the default,
or `postgres`); CI runs the whole suite once with each. PostgreSQL comes from
`DEBTBOT_TEST_POSTGRES_URL` (default: the local server's `test` database). Outside CI a
missing PostgreSQL server skips those tests with the reason; in CI (`CI=true`) it fails them.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from debtbot.store.db import create_engine, session_factory
from debtbot.store.models import Base

DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
TEST_HASH_KEY = "test-hash-key"


def backend() -> str:
    return os.environ.get("DEBTBOT_TEST_DB", "sqlite").lower()


def postgres_url() -> str:
    return os.environ.get("DEBTBOT_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


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


async def _require_postgres(url: str) -> None:
    """Skip when PostgreSQL is unreachable; in CI, fail instead (it must be there)."""
    problem = await _postgres_reachable(url)
    if problem:
        message = f"PostgreSQL at {url} is unreachable ({problem})"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(message)
        pytest.skip(message)


_schema_ready: set[str] = set()


@pytest.fixture
async def database_url(tmp_path: Path) -> AsyncIterator[str]:
    """A clean database on the selected backend, with every table created."""
    if backend() == "postgres":
        url = postgres_url()
        await _require_postgres(url)
        engine = create_engine(url)
        async with engine.begin() as connection:
            if url not in _schema_ready:
                await connection.run_sync(Base.metadata.drop_all)
                await connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
                await connection.run_sync(Base.metadata.create_all)
                _schema_ready.add(url)
            else:
                tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
                await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        await engine.dispose()
        yield url
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'debtbot.sqlite3'}"
        engine = create_engine(url)
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        await engine.dispose()
        yield url


@pytest.fixture
async def empty_database_url(tmp_path: Path) -> str:
    """An empty database (no tables at all) on the selected backend, for code that migrates
    it itself. On PostgreSQL the test database's schema is emptied; the migrations recreate
    every table, so the fixtures above (which truncate the tables) keep working afterwards."""
    if backend() != "postgres":
        return f"sqlite+aiosqlite:///{tmp_path / 'empty.sqlite3'}"
    url = postgres_url()
    await _require_postgres(url)
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
    finally:
        await engine.dispose()
    return url


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return session_factory(engine)
