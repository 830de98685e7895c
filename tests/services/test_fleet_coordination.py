"""services.fleet: the shared budget, leases, updates taken once, and their purge."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from debtbot.services import fleet
from debtbot.services.deps import Deps
from debtbot.services.retention import purge_old_messages
from debtbot.settings import Settings
from debtbot.store.fleet import AdvisoryLease

NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
postgres_only = pytest.mark.skipif(os.environ.get("DEBTBOT_TEST_DB", "sqlite").lower() != "postgres", reason="leases are PostgreSQL's")


def _deps(sessions, database_url, now=NOW, **settings) -> Deps:  # type: ignore[no-untyped-def]
    return Deps(settings=Settings(database_url=database_url, **settings), sessions=sessions,
                clock=lambda: now)


async def test_a_local_budget_hands_out_one_slot_per_interval_without_bursts():
    clock = [100.0]
    budget = fleet.LocalBudget(10, clock=lambda: clock[0])
    waits = [await budget.reserve() for _ in range(4)]
    assert waits == pytest.approx([0.0, 0.1, 0.2, 0.3])
    await budget.pause(2.0)
    assert await budget.reserve() == pytest.approx(2.0)


@postgres_only
async def test_two_instances_reserving_from_the_shared_budget_get_consecutive_slots(
    sessions, database_url
):
    one = fleet.SharedBudget(_deps(sessions, database_url), "messages", 20)
    other = fleet.SharedBudget(_deps(sessions, database_url), "messages", 20)
    async def next_free() -> float:
        async with sessions() as session:
            return (await session.execute(
                text("SELECT next_at FROM send_budget WHERE name = 'messages'"))).scalar_one()

    waits = [await budget.reserve() for budget in (one, other, one, other)]
    first = await next_free() - 4 * 0.05
    # One slot every 50 ms for the two together, the first now; each told how long to wait.
    assert waits[0] <= 0.01 and waits == sorted(waits)
    await one.pause(3)
    paused = await next_free()
    assert paused - first > 3.0
    assert await one.reserve(5) > 2.5  # a block of five, after the pause
    assert await next_free() == pytest.approx(paused + 5 * 0.05)
    await other.reserve()
    assert await next_free() == pytest.approx(paused + 6 * 0.05)


@postgres_only
async def test_a_lease_has_one_holder_and_passes_on_when_its_connection_dies(database_url):
    first = AdvisoryLease(database_url, "test-lease")
    second = AdvisoryLease(database_url, "test-lease")
    try:
        assert await first.try_acquire()
        assert not await second.try_acquire()
        assert await first.alive()
        # The holder's connection is cut (as a network failure or a dead process would).
        admin = AdvisoryLease(database_url, "admin")
        await admin.try_acquire()
        await admin._connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name LIKE 'debtbot lease test-lease pid %' "
            "AND pid IN (SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted)"
        )
        await admin.release()
        assert not await first.alive()  # the holder notices and stands down
        assert await second.try_acquire()
    finally:
        await first.release()
        await second.release()


@postgres_only
async def test_leadership_passes_to_the_stand_by_within_seconds(database_url):
    stop = asyncio.Event()
    leader = fleet.Leadership(AdvisoryLease(database_url, "test-lead"), retry=0.1,
                              heartbeat=0.1)
    stand_by = fleet.Leadership(AdvisoryLease(database_url, "test-lead"), retry=0.1,
                                heartbeat=0.1)
    term = await leader.acquire(stop)
    assert term is not None
    waiting = asyncio.create_task(stand_by.acquire(stop))
    await asyncio.sleep(0.3)
    assert not waiting.done()
    await leader.resign()
    assert await asyncio.wait_for(waiting, 2) is not None
    stop.set()
    await stand_by.resign()


async def test_an_update_is_taken_once_and_forgotten_after_a_day(sessions, database_url):
    deps = _deps(sessions, database_url)
    assert await fleet.first_time(deps, 1001)
    assert not await fleet.first_time(deps, 1001)
    later = _deps(sessions, database_url, now=NOW + timedelta(hours=23))
    assert await fleet.first_time(later, 1002)

    result = await purge_old_messages(deps, now=NOW + timedelta(hours=25))

    assert result.updates == 1  # 1001 is forgotten, 1002 (two hours old) is kept
    assert await fleet.first_time(deps, 1001)
    assert not await fleet.first_time(deps, 1002)


async def test_counters_add_up(sessions, database_url):
    deps = _deps(sessions, database_url)
    await fleet.count(deps, fleet.REPLY_QUEUED)
    await fleet.count(deps, fleet.REPLY_QUEUED, 2)
    async with sessions() as session:
        value = (await session.execute(
            text("SELECT value FROM fleet_counters WHERE name = 'reply_queued'")
        )).scalar_one()
    assert value == 3


async def test_a_claim_takes_no_more_than_its_limit(sessions, database_url):
    # Why it matters to the fleet: what one sender holds is what another must recover (and
    # may send twice) when it dies. (PostgreSQL once rescanned the LIMIT subquery for every
    # row it updated, and a claim of 25 took every due row.)
    from debtbot.domain.messages import OutboxPurpose, outbox_row
    from debtbot.store.unit_of_work import Store

    rows = [outbox_row(dedupe_key=f"n{i}", chat_id=100 + i, purpose=OutboxPurpose.NOTICE,
                       payload={"text": "hello"}, not_before=NOW) for i in range(60)]
    store = Store(sessions)
    async with store.uow() as uow:
        await uow.outbox.add_many(rows)
    async with store.uow() as uow:
        claimed = await uow.outbox.claim(worker="w", now=NOW, limit=25)
    counts = await store.read(lambda uow: uow.outbox.counts_by_status())
    assert len(claimed) == 25
    assert counts == {"sending": 25, "pending": 35}
