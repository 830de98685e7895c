"""`debtbot db upgrade` on an empty database gives exactly the schema of store/models.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from debtbot.store.db import create_engine
from debtbot.store.migrate import current_revision, head_revision, upgrade_database
from debtbot.store.models import Base


def backend() -> str:  # as in tests/conftest.py
    return os.environ.get("DEBTBOT_TEST_DB", "sqlite").lower()


def postgres_url() -> str:
    return os.environ.get(
        "DEBTBOT_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
    )


@pytest.fixture
async def empty_database_url(tmp_path: Path) -> str:
    """An empty database (no tables at all) on the selected backend. On PostgreSQL the test
    database's schema is emptied; the upgrade recreates every table, so the shared fixtures
    (which truncate the tables) keep working afterwards."""
    if backend() != "postgres":
        return f"sqlite+aiosqlite:///{tmp_path / 'empty.sqlite3'}"
    url = postgres_url()
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
    except Exception as exc:  # any failure to connect is the reason to report
        message = f"PostgreSQL at {url} is unreachable ({exc})"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(message)
        pytest.skip(message)
    finally:
        await engine.dispose()
    return url


def _differences(sync_connection) -> list:  # type: ignore[no-untyped-def]
    context = MigrationContext.configure(sync_connection, opts={"compare_type": True})
    return compare_metadata(context, Base.metadata)


async def test_upgrading_an_empty_database_gives_exactly_the_models_schema(
    empty_database_url: str,
) -> None:
    await upgrade_database(empty_database_url)

    engine = create_engine(empty_database_url)
    try:
        async with engine.connect() as connection:
            differences = await connection.run_sync(_differences)
            tables = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    finally:
        await engine.dispose()
    assert differences == []
    assert tables == {*Base.metadata.tables, "alembic_version"}
    assert await current_revision(empty_database_url) == head_revision()


async def test_upgrade_is_idempotent(empty_database_url: str) -> None:
    await upgrade_database(empty_database_url)
    await upgrade_database(empty_database_url)

    assert await current_revision(empty_database_url) == head_revision()
