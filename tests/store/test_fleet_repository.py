"""FleetRepository on SQLite and PostgreSQL, under concurrency: an update is taken once even
when several tasks take it at the same moment; the send budget's reservations never overlap
(PostgreSQL: SQLite serves one instance, whose budget is in memory); counters add up."""

from __future__ import annotations

import asyncio
import os
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from debtbot.store.unit_of_work import Store

NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
postgres_only = pytest.mark.skipif(
    os.environ.get("DEBTBOT_TEST_DB", "sqlite").lower() != "postgres",
    reason="the shared send budget is PostgreSQL's",
)


@pytest.fixture
def store(sessions: async_sessionmaker[AsyncSession]) -> Store:
    return Store(sessions)


async def test_an_update_taken_by_several_tasks_at_once_is_taken_once(store: Store) -> None:
    updates = range(1000, 1030)

    async def take(update_id: int) -> bool:
        return await store.write_once(
            lambda uow: uow.fleet.take_update(update_id=update_id, now=NOW))

    results = await asyncio.gather(*(take(u) for u in updates for _ in range(3)))

    by_update = [results[i:i + 3] for i in range(0, len(results), 3)]
    assert all(sum(taken) == 1 for taken in by_update)
    assert not any(await asyncio.gather(*(take(u) for u in updates)))  # and never again


async def test_updates_are_forgotten_after_their_time_in_batches(store: Store) -> None:
    for update_id, age in ((1, 30), (2, 25), (3, 1)):
        await store.write_once(lambda uow, u=update_id, a=age: uow.fleet.take_update(
            update_id=u, now=NOW - timedelta(hours=a)))

    async with store.uow() as uow:
        first = await uow.fleet.forget_updates_before(before=NOW - timedelta(hours=24), limit=1)
        second = await uow.fleet.forget_updates_before(before=NOW - timedelta(hours=24), limit=1)
        third = await uow.fleet.forget_updates_before(before=NOW - timedelta(hours=24), limit=1)

    assert (first, second, third) == (1, 1, 0)
    assert await store.write_once(lambda uow: uow.fleet.take_update(update_id=1, now=NOW))
    assert not await store.write_once(lambda uow: uow.fleet.take_update(update_id=3, now=NOW))


async def test_counters_add_up_under_concurrent_writers(store: Store) -> None:
    amounts = [1, 2, 3, 4, 5] * 8

    await asyncio.gather(*(
        store.write_once(lambda uow, a=a, n=n: uow.fleet.add_to_counter(
            "reply_retried:flood" if n % 2 else "possible_duplicate:reminder", a))
        for n, a in enumerate(amounts)
    ))

    counters = await store.read(lambda uow: uow.fleet.counters())
    assert counters == {
        "reply_retried:flood": sum(a for n, a in enumerate(amounts) if n % 2),
        "possible_duplicate:reminder": sum(a for n, a in enumerate(amounts) if not n % 2),
    }


@postgres_only
async def test_concurrent_reservations_in_the_send_budget_never_overlap(
    store: Store, sessions: async_sessionmaker[AsyncSession],
) -> None:
    interval = 0.5  # long slots: a few milliseconds of timing noise cannot hide an overlap
    counts = [1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3]

    async def reserve(count: int) -> tuple[float, float]:
        wait = await store.write_once(lambda uow: uow.fleet.reserve_slots(
            name="messages", count=count, interval=interval, lateness=0.05))
        start = time.time() + wait
        return start, start + count * interval

    spans = sorted(await asyncio.gather(*(reserve(c) for c in counts)))

    assert spans[0][0] == pytest.approx(time.time(), abs=2.0)  # an idle budget starts now
    for (_start, end), (next_start, _end) in zip(spans, spans[1:], strict=False):
        assert next_start == pytest.approx(end, abs=0.1)  # back to back, never overlapping
    async with sessions() as session:
        next_at = (await session.execute(
            text("SELECT next_at FROM send_budget WHERE name = 'messages'"))).scalar_one()
    assert next_at == pytest.approx(spans[-1][1], abs=0.1)


@postgres_only
async def test_a_pause_pushes_every_reservation_past_it(store: Store) -> None:
    await store.write_once(lambda uow: uow.fleet.push_back(name="paid", seconds=30))

    wait = await store.write_once(lambda uow: uow.fleet.reserve_slots(
        name="paid", count=1, interval=1.0, lateness=0.05))

    assert wait == pytest.approx(30, abs=1.0)
