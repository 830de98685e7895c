"""Regenerate the single initial migration from debtbot.store.models.

    python -m debtbot.store.migrations.regenerate

Deletes versions/*.py, upgrades nothing, and autogenerates `0001_initial_schema.py` against an
empty temporary SQLite database. Review the file, then run the schema test
(tests/store/test_migrations.py) on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

from alembic import command
from sqlalchemy.engine import Connection

from debtbot.store.db import create_engine
from debtbot.store.migrate import MIGRATIONS, alembic_config


def _revision(connection: Connection, url: str) -> None:
    config = alembic_config(url)
    config.attributes["connection"] = connection
    command.revision(config, message="initial schema", autogenerate=True, rev_id="0001")


async def regenerate() -> Path:
    versions = MIGRATIONS / "versions"
    versions.mkdir(exist_ok=True)
    for old in versions.glob("*.py"):
        old.unlink()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'empty.sqlite3'}"
        engine = create_engine(url)
        try:
            async with engine.begin() as connection:
                await connection.run_sync(_revision, url)
        finally:
            await engine.dispose()
    (created,) = versions.glob("0001_*.py")
    return created


def main() -> None:
    created = asyncio.run(regenerate())
    sys.stdout.write(f"wrote {created}\n")


if __name__ == "__main__":
    main()
