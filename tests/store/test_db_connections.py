"""Pooled connections: checked before use only when idle for a while, replaced when dead."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from debtbot.store.db import create_engine, read, session_factory
from dropped_connections import drop_pooled_connections


@pytest.fixture
def postgres_only(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("pg_terminate_backend is PostgreSQL's")


async def test_a_connection_idle_past_the_limit_is_pinged_and_replaced_when_dead(
    database_url, postgres_only
):
    engine = create_engine(database_url, ping_idle_after=0)
    try:
        async with engine.connect() as connection:
            assert await connection.scalar(text("select 1")) == 1
        await drop_pooled_connections(engine, database_url)
        async with engine.connect() as connection:  # no retry here: the ping found it dead
            assert await connection.scalar(text("select 2")) == 2
    finally:
        await engine.dispose()


async def test_a_read_on_a_connection_that_died_moments_ago_is_retried_on_a_new_one(
    database_url, postgres_only
):
    engine = create_engine(database_url, ping_idle_after=3600)
    sessions = session_factory(engine)
    try:
        assert await read(sessions, lambda connection: connection.scalar(text("select 1"))) == 1
        await drop_pooled_connections(engine, database_url)
        assert await read(sessions, lambda connection: connection.scalar(text("select 2"))) == 2
    finally:
        await engine.dispose()


async def test_reads_run_outside_a_transaction_on_postgresql(database_url, postgres_only):
    # now() is the transaction's start: inside one BEGIN it would not move between statements.
    engine = create_engine(database_url)
    sessions = session_factory(engine)

    async def two_nows(connection):
        first = await connection.scalar(text("select now()"))
        await connection.execute(text("select pg_sleep(0.01)"))
        return first, await connection.scalar(text("select now()"))

    try:
        first, second = await read(sessions, two_nows)
        assert second > first
    finally:
        await engine.dispose()


async def test_sqlite_reads_of_many_rows_stream_and_come_back_whole(database_url):
    if database_url.startswith("postgresql"):
        pytest.skip("SQLite's driver")
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            count = 1031
            query = text(
                "with recursive n(i) as (select 1 union all select i + 1 from n where i < :count)"
                " select i from n"
            )
            result = await connection.stream(query, {"count": count})
            seen = [row[0] async for row in result]
            assert seen == list(range(1, count + 1))
            rows = (await connection.execute(query, {"count": count})).all()
            assert [row[0] for row in rows] == list(range(1, count + 1))
    finally:
        await engine.dispose()
