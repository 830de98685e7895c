"""What a server restart or failover does to a bot's pool, on demand (PostgreSQL only)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from debtbot.store.db import create_engine


async def drop_pooled_connections(engine: AsyncEngine, database_url: str) -> list[int]:
    """Terminate, from another connection, every connection idle in `engine`'s pool; the
    backends' process ids."""
    pooled = [await engine.connect() for _ in range(engine.sync_engine.pool.checkedin())]
    pids = [await connection.scalar(text("select pg_backend_pid()")) for connection in pooled]
    for connection in pooled:
        await connection.close()
    killer = create_engine(database_url)
    try:
        async with killer.connect() as connection:
            for pid in pids:
                await connection.execute(text("select pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        await killer.dispose()
    return pids
