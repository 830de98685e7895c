"""Crash safety: SIGKILL the sender while it delivers 2,000 reminders, start it again, and
every reminder arrives; duplicates only among the messages in flight at the kill.

The local Bot API server runs in this process; the sender runs in a child process on the
same database (SQLite file or PostgreSQL, per DEBTBOT_TEST_DB).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select

from debtbot.devtools.botapi import FakeBotApi
from debtbot.domain.calendar import local_date
from debtbot.services.deps import Deps
from debtbot.services.plan_reminders import plan_reminders
from debtbot.settings import Settings
from debtbot.store.models import Chat, ChatLink, DebtRow, OutboxMessage, Person

REMINDERS = 2000
CHILD = Path(__file__).with_name("crash_sender.py")


async def _seed(sessions, now: datetime) -> None:
    # Out-of-court fines served 24 days ago: their 7-day surcharge reminder is due today.
    served = local_date(now) - timedelta(days=24)
    async with sessions() as session, session.begin():
        await session.execute(insert(Person), [
            {"id": n, "id_type": "id_card", "id_hash": f"h{n}", "name": f"P{n}"}
            for n in range(1, REMINDERS + 1)
        ])
        await session.execute(insert(Chat), [
            {"id": 10_000 + n, "language": ("el", "en", "tr")[n % 3]}
            for n in range(1, REMINDERS + 1)
        ])
        await session.execute(insert(ChatLink), [
            {"chat_id": 10_000 + n, "person_id": n, "verified_by": "dob"}
            for n in range(1, REMINDERS + 1)
        ])
        await session.execute(insert(DebtRow), [
            {"source": "police", "reference": f"R{n:05d}", "kind": "out_of_court_fine",
             "person_id": n, "amount": 100, "served_on": served, "status": "outstanding"}
            for n in range(1, REMINDERS + 1)
        ])


def _child_env(database_url: str, api: FakeBotApi) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DEBTBOT_DATABASE_URL=database_url,
        DEBTBOT_TELEGRAM_API_URL=api.url,
        DEBTBOT_TELEGRAM_TOKEN=api.token,
        DEBTBOT_SEND_RATE_PER_SECOND="400",
        DEBTBOT_SEND_CLAIM_TIMEOUT_SECONDS="3",
        DEBTBOT_QUIET_HOURS_START="00:00",  # start == end: no quiet hours, whatever the time
        DEBTBOT_QUIET_HOURS_END="00:00",
    )
    return env


async def _start_child(env: dict[str, str]) -> asyncio.subprocess.Process:
    child = await asyncio.create_subprocess_exec(
        sys.executable, str(CHILD), env=env, stdout=asyncio.subprocess.PIPE
    )
    assert child.stdout is not None
    assert (await asyncio.wait_for(child.stdout.readline(), 30)).strip() == b"ready"
    return child


@pytest.mark.slow
async def test_sigkill_while_delivering_loses_no_reminder(database_url, sessions):
    now = datetime.now(UTC)
    settings = Settings(database_url=database_url, quiet_hours_start="00:00",
                        quiet_hours_end="00:00")
    deps = Deps(settings=settings, sessions=sessions, clock=lambda: now)
    await _seed(sessions, now)
    assert (await plan_reminders(deps)).planned == REMINDERS

    async with FakeBotApi() as api:
        env = _child_env(database_url, api)
        child = await _start_child(env)
        await api.wait_for(lambda: len(api.calls_to("sendMessage")) >= REMINDERS // 3,
                           timeout=60)
        child.send_signal(signal.SIGKILL)
        assert await child.wait() == -signal.SIGKILL
        delivered_at_kill = len(api.calls_to("sendMessage"))
        async with sessions() as session:
            in_flight = set((await session.execute(
                select(OutboxMessage.chat_id).where(OutboxMessage.status == "sending")
            )).scalars())
        assert delivered_at_kill < REMINDERS  # it really died halfway

        again = await _start_child(env)
        assert await asyncio.wait_for(again.wait(), 120) == 0

        per_chat = Counter(call.chat_id for call in api.calls_to("sendMessage") if call.ok)

    assert set(per_chat) == {10_000 + n for n in range(1, REMINDERS + 1)}  # none lost
    duplicated = {chat_id for chat_id, count in per_chat.items() if count > 1}
    assert duplicated <= in_flight  # only what was in flight at the kill went out twice
    assert max(per_chat.values()) <= 2
    async with sessions() as session:
        statuses = dict((await session.execute(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        )).all())
    assert statuses == {"sent": REMINDERS}
    print(f"killed after {delivered_at_kill} sends; {len(in_flight)} in flight; "
          f"{len(duplicated)} duplicates")
