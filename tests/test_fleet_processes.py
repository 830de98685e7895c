"""Several `debtbot run` processes on one PostgreSQL database: one pace, one sender, one
poller, fast failover, nothing lost (debtbot.devtools.fleet runs them). The local Bot API
server runs in this process and enforces Telegram's limits. PostgreSQL only: SQLite serves
one instance (the last test checks that a second one is refused)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from debtbot.devtools.botapi import FakeBotApi
from debtbot.devtools.fleet import Fleet, plan_all, seed_reminders
from debtbot.services.deps import Deps
from debtbot.services.fleet import SENDER_LEASE, poller_lease
from debtbot.settings import Settings
from debtbot.store.db import create_engine, session_factory
from debtbot.store.fleet import single_instance
from debtbot.store.migrate import upgrade_database
from debtbot.store.models import FleetCounter, OutboxMessage

postgres_only = pytest.mark.skipif(os.environ.get("DEBTBOT_TEST_DB", "sqlite").lower() != "postgres",
                                   reason="several instances need PostgreSQL")


async def _plan(database_url: str, n: int) -> tuple[list[int], object]:
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    now = datetime.now(UTC)
    chats = await seed_reminders(sessions, n, now=now)
    settings = Settings(database_url=database_url, quiet_hours_start="00:00",
                        quiet_hours_end="00:00")
    await plan_all(Deps(settings=settings, sessions=sessions), n)
    return chats, engine


async def _statuses(engine) -> dict[str, int]:  # type: ignore[no-untyped-def]
    async with session_factory(engine)() as session:
        return dict((await session.execute(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        )).all())


def _delivered(api: FakeBotApi, chats: list[int]) -> Counter[int]:
    wanted = set(chats)
    return Counter(c.chat_id for c in api.calls_to("sendMessage") if c.ok and c.chat_id in wanted)


@postgres_only
@pytest.mark.slow
async def test_three_instances_keep_one_pace_send_each_reminder_once_and_answer_citizens(
    empty_database_url, tmp_path
):
    await upgrade_database(empty_database_url)
    async with FakeBotApi() as api:
        api.enforce_limits(per_second=30, per_chat_per_second=1)
        fleet = Fleet(empty_database_url, api, size=3, logs=tmp_path,
                      env={"DEBTBOT_SEND_RATE_PER_SECOND": "25"})
        try:
            await fleet.start()
            chats, engine = await _plan(empty_database_url, 200)
            # Citizens write meanwhile: the poller's instance answers, on the same budget.
            # One reply gets a 429, one is delivered but answered after the 5 s read timeout.
            api.inject_flood(count=1, retry_after=2, chat_id=9_000, methods="sendMessage")
            api.inject_timeout_after_delivery(count=1, seconds=6, chat_id=9_001,
                                              methods="sendMessage")
            for n in range(5):
                await asyncio.sleep(1)
                await api.user_sends(9_000 + n, "/start")
            await api.wait_for(lambda: sum(_delivered(api, chats).values()) >= 200, timeout=60)
            for n in range(5):
                await api.wait_for_messages(9_000 + n, 2 if n == 1 else 1, timeout=15)
            await asyncio.sleep(1.0)
            senders = {await fleet.holder(SENDER_LEASE)}
        finally:
            codes = await fleet.stop()
        per_chat = _delivered(api, chats)
        ok = sorted(c.at for c in api.calls_to("sendMessage") if c.ok)

    assert set(per_chat) == set(chats) and max(per_chat.values()) == 1  # none lost, none twice
    # No 429 for a citizen but the one injected; the citizen it hit got the answer once, after
    # it. (The Bot API stand-in runs in this test's process on a 2-core machine beside three
    # bots and PostgreSQL: after it stalls it counts a backlog as one burst, so one reminder
    # may meet a 429 of its own. That one is retried and still delivered once, above; the pace
    # is checked below from when messages were accepted.)
    refused = [c.chat_id for c in api.calls_to("sendMessage") if c.status == 429]
    assert [chat for chat in refused if chat >= 9_000 and chat < 10_000] == [9_000]
    assert len(refused) <= 2 and set(refused) - {9_000} <= set(chats)
    assert [c.status for c in api.calls_to("sendMessage") if c.chat_id == 9_000] == [429, 200]
    # The one answered late was sent again (it shows twice) and counted as a possible duplicate.
    assert len(api.messages(9_001)) == 2
    async with session_factory(engine)() as session:
        counters = dict((await session.execute(select(FleetCounter.name, FleetCounter.value))).all())
    assert counters["possible_duplicate:reply"] == 1 and counters["reply_retried:flood"] == 1
    assert (len(ok) - 1) / (ok[-1] - ok[0]) <= 25 * 1.05  # one pace for the three
    assert len(senders) == 1
    assert await _statuses(engine) == {"sent": 200}  # the replies went straight out
    await engine.dispose()
    assert set(codes.values()) == {0}


@postgres_only
@pytest.mark.slow
async def test_sigkill_of_the_sender_another_takes_over_within_seconds_nothing_lost(
    empty_database_url, tmp_path
):
    await upgrade_database(empty_database_url)
    async with FakeBotApi() as api:
        api.enforce_limits(per_second=150, per_chat_per_second=1)
        fleet = Fleet(empty_database_url, api, size=2, logs=tmp_path,
                      env={"DEBTBOT_SEND_RATE_PER_SECOND": "100"})
        try:
            await fleet.start()
            chats, engine = await _plan(empty_database_url, 600)
            await api.wait_for(lambda: sum(_delivered(api, chats).values()) >= 200, timeout=60)
            sender = await fleet.holder(SENDER_LEASE)
            fleet.kill(sender)
            killed_at = time.monotonic()
            await fleet.by_pid(sender).process.wait()
            async with session_factory(engine)() as session:
                in_flight = set((await session.execute(
                    select(OutboxMessage.chat_id).where(OutboxMessage.status == "sending")
                )).scalars())
            await api.wait_for(lambda: set(_delivered(api, chats)) == set(chats), timeout=60)
            resumed = min(c.at for c in api.calls_to("sendMessage") if c.ok and c.at > killed_at)
            new_sender = await fleet.holder(SENDER_LEASE)
        finally:
            await fleet.stop()
        per_chat = _delivered(api, chats)

    assert new_sender != sender
    assert resumed - killed_at < 10
    duplicated = {chat for chat, count in per_chat.items() if count > 1}
    assert duplicated <= in_flight and max(per_chat.values()) <= 2
    assert await _statuses(engine) == {"sent": 600}
    await engine.dispose()
    print(f"resumed {resumed - killed_at:.2f} s after the kill; {len(in_flight)} in flight, "
          f"{len(duplicated)} duplicates")


@postgres_only
@pytest.mark.slow
async def test_one_poller_per_bot_the_other_takes_over_when_it_dies(empty_database_url, tmp_path):
    await upgrade_database(empty_database_url)
    async with FakeBotApi() as api:
        fleet = Fleet(empty_database_url, api, size=2, logs=tmp_path)
        try:
            await fleet.start()
            poller = await fleet.holder(poller_lease(api.token))
            for n in range(10):
                await api.user_sends(8_000 + n, "/start")
            for n in range(10):
                await api.wait_for_messages(8_000 + n, timeout=10)
            fleet.kill(poller)
            killed_at = time.monotonic()
            await api.user_sends(8_100, "/start")
            await api.wait_for_messages(8_100, timeout=15)
            answered_after = time.monotonic() - killed_at
            new_poller = await fleet.holder(poller_lease(api.token))
        finally:
            await fleet.stop()

    assert new_poller != poller
    assert answered_after < 10
    answers = Counter(c.chat_id for c in api.calls_to("sendMessage") if c.ok)
    assert all(answers[8_000 + n] == 1 for n in range(10))  # each update answered once
    assert answers[8_100] == 1


def test_a_second_run_on_the_same_sqlite_file_says_so_and_exits(tmp_path: Path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'one.sqlite3'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEBTBOT_")}
    env.update(DEBTBOT_DATABASE_URL=url, DEBTBOT_TELEGRAM_TOKEN="1:x", DEBTBOT_HASH_KEY="k",
               DEBTBOT_TELEGRAM_API_URL="http://127.0.0.1:9")
    with single_instance(url):  # as a first `debtbot run` holds it
        second = subprocess.run(
            [sys.executable, "-c", "from debtbot.cli import main; main()", "run"],
            env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path,
        )
    assert second.returncode == 1
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1 and "already running" in lines[0] and "SQLite" in lines[0]
    with single_instance(url):  # released when its holder ended
        pass


@postgres_only
@pytest.mark.slow
async def test_a_sender_that_loses_its_database_connection_stands_down_and_sending_resumes(
    empty_database_url, tmp_path
):
    await upgrade_database(empty_database_url)
    async with FakeBotApi() as api:
        api.enforce_limits(per_second=150, per_chat_per_second=1)
        fleet = Fleet(empty_database_url, api, size=2, logs=tmp_path,
                      env={"DEBTBOT_SEND_RATE_PER_SECOND": "100"})
        try:
            await fleet.start()
            chats, engine = await _plan(empty_database_url, 500)
            await api.wait_for(lambda: sum(_delivered(api, chats).values()) >= 150, timeout=60)
            sender = await fleet.holder(SENDER_LEASE)
            # The lease's connection is cut, as a network failure would cut it.
            async with engine.connect() as connection:
                await connection.execute(text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = :name"
                ), {"name": f"debtbot lease {SENDER_LEASE} pid {sender}"})
            cut_at = time.monotonic()
            await api.wait_for(lambda: set(_delivered(api, chats)) == set(chats), timeout=60)
            sends = sorted(c.at for c in api.calls_to("sendMessage") if c.ok)
            # Every row is recorded as sent, by whichever instance sent it.
            for _ in range(75):
                if await _statuses(engine) == {"sent": 500}:
                    break
                await asyncio.sleep(0.2)
        finally:
            codes = await fleet.stop()
        per_chat = _delivered(api, chats)

    # Sending goes on (by either instance) with no gap of 10 s or more, nothing lost.
    after = [t for t in sends if t > cut_at - 1]
    assert max(b - a for a, b in zip(after, after[1:], strict=False)) < 10
    assert set(per_chat) == set(chats) and max(per_chat.values()) <= 2
    assert api.counters["429"] == 0
    assert await _statuses(engine) == {"sent": 500}
    await engine.dispose()
    assert set(codes.values()) == {0}  # the instance that lost its lease carried on
