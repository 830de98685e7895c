"""`debtbot db upgrade` on an empty database gives exactly the schema of store/models.py."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from debtbot.store.db import create_engine
from debtbot.store.migrate import current_revision, head_revision, upgrade_database
from debtbot.store.models import Base


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
