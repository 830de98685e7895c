"""A fleet of `debtbot run` processes on one PostgreSQL database, for tests and benchmarks.

    async with FakeBotApi() as api:
        fleet = Fleet(database_url, api, size=3, env={"DEBTBOT_SEND_RATE_PER_SECOND": "25"})
        await fleet.start()                   # three `debtbot run`, each with its HTTP port
        await seed_reminders(sessions, 5000, now=now)   # debts whose reminder is due today
        ...plan them (services.plan_reminders); the fleet delivers...
        pid = await fleet.holder(SENDER_LEASE)          # who sends now
        fleet.kill(pid)                                 # SIGKILL
        await fleet.stop()                              # SIGTERM the rest, wait

Each instance is a real process (`python -c "from debtbot.cli import main; main()" run`)
with the environment's settings plus the ones given; its log goes to `logs/<n>.log`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

import aiohttp
from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from debtbot.devtools.botapi import FakeBotApi
from debtbot.domain.calendar import local_date
from debtbot.services.deps import Deps
from debtbot.services.plan_reminders import plan_reminders
from debtbot.store.db import create_engine
from debtbot.store.fleet import lease_holder
from debtbot.store.models import Chat, ChatLink, DebtRow, OutboxMessage, Person, PlannerState

CHAT_BASE = 3_000_000_000


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def seed_reminders(
    sessions: async_sessionmaker[AsyncSession], n: int, *, now: datetime,
    chat_base: int = CHAT_BASE,
) -> list[int]:
    """`n` verified chats, each with an out-of-court fine served 24 days ago (its 7-day
    reminder before the surcharge is due today). Returns the chat ids.

    The planner's memory is cleared too, so the next sweep (which may be an instance's own
    at start-up, or one run by the caller) looks back and plans these reminders."""
    served = local_date(now) - timedelta(days=24)
    async with sessions() as session, session.begin():
        await session.execute(delete(PlannerState))
        await session.execute(insert(Person), [
            {"id": i, "id_type": "id_card", "id_hash": f"fleet{i}", "name": f"P{i}"}
            for i in range(1, n + 1)
        ])
        await session.execute(insert(Chat), [
            {"id": chat_base + i, "language": ("el", "en", "tr")[i % 3]}
            for i in range(1, n + 1)
        ])
        await session.execute(insert(ChatLink), [
            {"chat_id": chat_base + i, "person_id": i, "verified_by": "dob"}
            for i in range(1, n + 1)
        ])
        await session.execute(insert(DebtRow), [
            {"source": "police", "reference": f"FL-{i:06d}", "kind": "out_of_court_fine",
             "person_id": i, "amount": 100 + i % 400, "served_on": served,
             "status": "outstanding"}
            for i in range(1, n + 1)
        ])
    return [chat_base + i for i in range(1, n + 1)]


async def plan_all(deps: Deps, n: int, *, timeout: float = 60.0) -> None:  # noqa: ASYNC109
    """Sweep until the outbox holds `n` rows. An instance's own sweep may have started before
    the debts were there and moved the planner's memory past them (or hold the planner's lock
    right now): then the memory is cleared and the sweep runs again."""
    deadline = time.monotonic() + timeout
    while True:
        await plan_reminders(deps)
        async with deps.sessions() as session:
            planned = (await session.execute(
                select(func.count()).select_from(OutboxMessage)
            )).scalar_one()
        if planned >= n:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {planned} of {n} reminders planned")
        async with deps.sessions() as session, session.begin():
            await session.execute(delete(PlannerState))
        await asyncio.sleep(0.2)


@dataclass
class Instance:
    number: int
    port: int
    process: asyncio.subprocess.Process
    log: IO[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid


@dataclass
class Fleet:
    database_url: str
    api: FakeBotApi
    size: int
    env: dict[str, str] = field(default_factory=dict)
    logs: Path = Path("fleet-logs")
    instances: list[Instance] = field(default_factory=list)

    def _environment(self, port: int) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DEBTBOT_")}
        env.update(
            DEBTBOT_DATABASE_URL=self.database_url,
            DEBTBOT_TELEGRAM_API_URL=self.api.url,
            DEBTBOT_TELEGRAM_TOKEN=self.api.token,
            DEBTBOT_HASH_KEY="fleet-test-hash-key",
            DEBTBOT_HTTP_PORT=str(port),
            DEBTBOT_QUIET_HOURS_START="00:00",  # start == end: no quiet hours
            DEBTBOT_QUIET_HOURS_END="00:00",
            DEBTBOT_LOG_LEVEL="INFO",
            PYTHONUNBUFFERED="1",
        )
        env.update(self.env)
        return env

    async def start_one(self) -> Instance:
        self.logs.mkdir(parents=True, exist_ok=True)
        number = len(self.instances) + 1
        port = free_port()
        log_path = self.logs / f"{number}.log"
        log = log_path.open("wb")
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-c", "from debtbot.cli import main; main()", "run",
            env=self._environment(port), stdout=log, stderr=asyncio.subprocess.STDOUT,
        )
        instance = Instance(number, port, process, log, log_path)
        self.instances.append(instance)
        return instance

    async def start(self, *, timeout: float = 60.0) -> None:  # noqa: ASYNC109
        """Start the instances (all at once) and wait until each answers /readyz."""
        started = [await self.start_one() for _ in range(self.size - len(self.instances))]
        await asyncio.gather(*(self.ready(instance, timeout=timeout) for instance in started))

    async def ready(self, instance: Instance, *, timeout: float = 60.0) -> None:  # noqa: ASYNC109
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                if instance.process.returncode is not None:
                    raise RuntimeError(
                        f"instance {instance.number} exited ({instance.process.returncode}): "
                        f"{instance.log_path.read_text()[-2000:]}"
                    )
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(f"http://127.0.0.1:{instance.port}/readyz") as answer:
                        if answer.status == 200:
                            return
                await asyncio.sleep(0.1)
        raise TimeoutError(f"instance {instance.number} not ready in {timeout} s")

    async def holder(self, lease: str, *, timeout: float = 30.0) -> int:  # noqa: ASYNC109
        """The process id of the instance holding `lease` (waits until someone does)."""
        engine = create_engine(self.database_url)
        deadline = time.monotonic() + timeout
        try:
            while True:
                async with engine.connect() as connection:
                    pid = await lease_holder(connection, lease)
                if pid is not None:
                    return int(pid)
                if time.monotonic() > deadline:
                    raise TimeoutError(f"nobody holds {lease}")
                await asyncio.sleep(0.1)
        finally:
            await engine.dispose()

    def by_pid(self, pid: int) -> Instance:
        return next(instance for instance in self.instances if instance.pid == pid)

    def kill(self, pid: int) -> None:
        """SIGKILL one instance (no clean-up of any kind)."""
        self.by_pid(pid).process.send_signal(signal.SIGKILL)

    async def stop(self, *, timeout: float = 30.0) -> dict[int, Any]:  # noqa: ASYNC109
        """SIGTERM every instance still running; their exit codes by instance number."""
        for instance in self.instances:
            if instance.process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    instance.process.send_signal(signal.SIGTERM)
        codes: dict[int, Any] = {}
        for instance in self.instances:
            try:
                codes[instance.number] = await asyncio.wait_for(instance.process.wait(), timeout)
            except TimeoutError:
                instance.process.kill()
                codes[instance.number] = "killed after timeout"
            instance.log.close()
        return codes
