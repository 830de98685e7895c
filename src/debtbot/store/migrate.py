"""Run the Alembic migrations programmatically (`debtbot db upgrade`, `debtbot run`)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection

from debtbot.store.db import create_engine, is_sqlite

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Several instances may start at once against one PostgreSQL: one migrates, the others wait.
_ADVISORY_LOCK = 0x64656274  # "debt"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


async def upgrade_database(
    url: str, revision: str = "head", *, hash_key: str | None = None
) -> None:
    """Bring the database at `url` up to `revision` (idempotent; safe to run concurrently).

    `hash_key`: the DEBTBOT_HASH_KEY that migrations hashing data use (default: read from
    the environment)."""
    config = alembic_config(url)
    if hash_key:
        config.attributes["hash_key"] = hash_key
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            if not is_sqlite(url):
                await connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK}
                )
            await connection.run_sync(_upgrade, config, revision)
    finally:
        await engine.dispose()


def upgrade_database_blocking(
    url: str, revision: str = "head", *, hash_key: str | None = None
) -> None:
    """The same, for callers without a running event loop."""
    asyncio.run(upgrade_database(url, revision, hash_key=hash_key))


async def current_revision(url: str) -> str | None:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_revision()
            )
    finally:
        await engine.dispose()


def _upgrade(connection: Connection, config: Config, revision: str) -> None:
    config.attributes["connection"] = connection
    command.upgrade(config, revision)
