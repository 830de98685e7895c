"""Fleet benchmark: N `debtbot run` processes on one PostgreSQL database deliver through the
local Bot API server, which runs in this process and enforces Telegram's limits.

    python bench/fleet_bench.py --instances 3                  # 5,000 reminders, 30/s and 1/s a chat
    python bench/fleet_bench.py --instances 3 --kill-sender    # SIGKILL the sender halfway
    python bench/fleet_bench.py --instances 3 --paid           # paid broadcast, 1,000/s allowed
    python bench/fleet_bench.py --instances 1 --paid

Reminders: 5,000 verified chats, one out-of-court fine each whose 7-day reminder is due
today; the instances start first, then the reminders are planned, and the fleet's one active
sender delivers them at DEBTBOT_SEND_RATE_PER_SECOND (25) while the server answers 429 to
anything beyond 30 a second or 1 a second per chat.
Paid broadcast: 20,000 broadcast rows queued at once, DEBTBOT_ALLOW_PAID_BROADCAST=true and
DEBTBOT_PAID_BROADCAST_RATE_PER_SECOND=1000; the server lets paid messages through up to
1,000 a second.

Figures: delivered rate = (messages - 1) / (last send - first send) as the server saw them,
and its share of the configured rate; 429 answers; duplicates (chats that got a message more
than once); lost (chats that got none); with --kill-sender the gap between the last send
before the kill and the first after it, and the messages in flight at the kill; CPU seconds of
each instance, of this process (the Bot API server) and of PostgreSQL's backends during the
run. The database is made for the run (`fleet_bench_<pid>`) and dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from debtbot.devtools.botapi import FakeBotApi
from debtbot.devtools.fleet import Fleet, plan_all, seed_reminders
from debtbot.domain.messages import OutboxPurpose, outbox_row
from debtbot.services.deps import Deps
from debtbot.services.fleet import SENDER_LEASE
from debtbot.settings import Settings
from debtbot.store.db import create_engine, session_factory
from debtbot.store.migrate import upgrade_database
from debtbot.store.models import OutboxMessage
from debtbot.store.unit_of_work import Store

OUT = Path(__file__).resolve().parent / "out"
SERVER = os.environ.get("DEBTBOT_BENCH_POSTGRES_SERVER",
                        "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
BROADCAST_CHAT_BASE = 4_000_000_000


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime


async def _backend_cpu(database: str) -> float:
    """CPU seconds of PostgreSQL's backends serving the benchmark's database, now."""
    connection = await asyncpg.connect(_dsn(SERVER))
    try:
        pids = await connection.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1", database)
    finally:
        await connection.close()
    return sum(_cpu_seconds(row["pid"]) for row in pids)


async def _queue_broadcast(sessions, n: int) -> list[int]:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    chats = [BROADCAST_CHAT_BASE + i for i in range(1, n + 1)]
    rows = [
        outbox_row(dedupe_key=f"bench-broadcast:{chat}", chat_id=chat,
                   purpose=OutboxPurpose.BROADCAST, not_before=now,
                   payload={"text": f"<b>Notice</b> to chat {chat}: offices close on Friday."})
        for chat in chats
    ]
    async with Store(sessions).uow() as uow:
        for start in range(0, n, 5000):
            await uow.outbox.add_many(rows[start:start + 5000])
    return chats


class LoopLag:
    """How late this process's event loop (the Bot API server's) wakes up: a server that
    stalls handles a backlog of requests at once, and its one-second window then sees a burst
    that the senders never sent."""

    def __init__(self) -> None:
        self.worst = 0.0
        self.over_100ms = 0
        self.lags: list[tuple[float, float]] = []  # (monotonic time woken, seconds late)
        self._task: asyncio.Task[None] | None = None

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(0.01)
            late = loop.time() - before - 0.01
            self.worst = max(self.worst, late)
            self.over_100ms += late > 0.1
            if late > 0.05:
                self.lags.append((loop.time(), late))

    def start(self) -> None:
        self._task = asyncio.create_task(self._watch())

    def stop(self, api: FakeBotApi) -> dict[str, object]:
        if self._task is not None:
            self._task.cancel()
        # For each 429: the server's worst stall in the second and a half before it (the
        # event loop's clock is time.monotonic, as the server's call times are).
        near = [
            round(max((late for at, late in self.lags if call.at - 1.5 <= at <= call.at),
                      default=0.0) * 1000)
            for call in api.calls_to("sendMessage") if call.status == 429
        ]
        return {"server_loop_lag_worst_ms": round(self.worst * 1000),
                "server_loop_lags_over_100ms": self.over_100ms,
                "server_stall_before_each_429_ms": near[:20]}


def _figures(api: FakeBotApi, chats: list[int], configured: float) -> dict[str, object]:
    wanted = set(chats)
    ok = [c for c in api.calls_to("sendMessage") if c.ok and c.chat_id in wanted]
    per_chat = Counter(c.chat_id for c in ok)
    times = sorted(c.at for c in ok)
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    rate = (len(times) - 1) / span if span > 0 else float("nan")
    floods = [c for c in api.calls_to("sendMessage") if c.status == 429]
    return {
        "http_429_at_s": [round(c.at - times[0], 1) for c in floods][:20] if times else [],
        "messages": len(ok),
        "configured_rate": configured,
        "delivered_rate": round(rate, 2),
        "share_of_configured": round(rate / configured, 4),
        "http_429": api.counters["429"],
        "duplicates": sum(count - 1 for count in per_chat.values() if count > 1),
        "lost": len(wanted - set(per_chat)),
        "span_s": round(span, 1),
    }


async def run(args: argparse.Namespace) -> dict[str, object]:
    database = f"fleet_bench_{os.getpid()}"
    admin = await asyncpg.connect(_dsn(SERVER))
    await admin.execute(f'CREATE DATABASE "{database}"')
    url = make_url(SERVER).set(database=database).render_as_string(hide_password=False)
    result: dict[str, object] = {"instances": args.instances}
    try:
        await upgrade_database(url)
        engine = create_engine(url)
        sessions = session_factory(engine)
        async with FakeBotApi() as api:
            api.enforce_limits(per_second=30, per_chat_per_second=1, paid_per_second=1000)
            reached: set[int] = set()
            api.add_listener(lambda kind, message: reached.add(message.chat_id))
            env = {"DEBTBOT_SEND_RATE_PER_SECOND": str(args.rate)}
            if args.paid:
                env.update(DEBTBOT_ALLOW_PAID_BROADCAST="true",
                           DEBTBOT_PAID_BROADCAST_RATE_PER_SECOND=str(args.paid_rate))
            fleet = Fleet(url, api, size=args.instances, env=env,
                          logs=OUT / f"fleet_logs_{os.getpid()}")
            try:
                await fleet.start()
                lag = LoopLag()
                lag.start()
                cpu_before = {i.number: _cpu_seconds(i.pid) for i in fleet.instances}
                own_cpu, pg_cpu = time.process_time(), await _backend_cpu(database)
                started = time.monotonic()
                if args.paid:
                    chats = await _queue_broadcast(sessions, args.broadcast)
                    configured = float(args.paid_rate)
                else:
                    chats = await seed_reminders(sessions, args.reminders,
                                                 now=datetime.now(UTC))
                    settings = Settings(database_url=url, quiet_hours_start="00:00",
                                        quiet_hours_end="00:00")
                    await plan_all(Deps(settings=settings, sessions=sessions), len(chats))
                    configured = float(args.rate)
                total = len(chats)
                sender = await fleet.holder(SENDER_LEASE)
                result["sender_pid"] = sender
                if args.kill_sender:
                    await api.wait_for(lambda: api.counters["messages_sent"] >= total // 2,
                                       timeout=total / configured * 3 + 60)
                    fleet.kill(sender)
                    killed_at = time.monotonic()
                    await fleet.by_pid(sender).process.wait()
                    async with sessions() as session:
                        result["in_flight_at_kill"] = (await session.execute(
                            select(func.count()).select_from(OutboxMessage)
                            .where(OutboxMessage.status == "sending"))).scalar_one()
                    result["sent_at_kill"] = api.counters["messages_sent"]
                timeout = total / configured * 3 + 120
                await api.wait_for(lambda: len(reached) >= total, timeout=timeout)
                await asyncio.sleep(3)  # late duplicates, if any, would come now
                result.update(lag.stop(api))
                result["wall_s"] = round(time.monotonic() - started, 1)
                result["cpu_s"] = {
                    f"instance_{i.number}" + ("_sender" if i.pid == sender else ""):
                        round(_cpu_seconds(i.pid) - cpu_before[i.number], 1)
                    for i in fleet.instances if i.process.returncode is None
                }
                result["cpu_s"]["bot_api_server_and_bench"] = round(
                    time.process_time() - own_cpu, 1)
                result["cpu_s"]["postgres_backends"] = round(
                    await _backend_cpu(database) - pg_cpu, 1)
                if args.kill_sender:
                    after = [c.at for c in api.calls_to("sendMessage")
                             if c.ok and c.at > killed_at]
                    before = [c.at for c in api.calls_to("sendMessage")
                              if c.ok and c.at <= killed_at]
                    result["resumed_after_kill_s"] = round(min(after) - killed_at, 2)
                    result["gap_in_delivery_s"] = round(min(after) - max(before), 2)
                    result["new_sender_pid"] = await fleet.holder(SENDER_LEASE)
            finally:
                result["exit_codes"] = await fleet.stop()
            result.update(_figures(api, chats, configured))
        async with sessions() as session:
            result["outbox"] = dict((await session.execute(
                select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
            )).all())
        await engine.dispose()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--instances", type=int, default=3)
    parser.add_argument("--reminders", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=25.0)
    parser.add_argument("--kill-sender", action="store_true")
    parser.add_argument("--paid", action="store_true")
    parser.add_argument("--paid-rate", type=float, default=1000.0)
    parser.add_argument("--broadcast", type=int, default=20_000)
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    scenario = "paid" if args.paid else "kill_sender" if args.kill_sender else "reminders"
    result = {"scenario": scenario, **asyncio.run(run(args)),
              "load_average": os.getloadavg(),
              "at": datetime.now(UTC).isoformat(timespec="seconds")}
    with (OUT / "fleet_bench.jsonl").open("a") as out:
        out.write(json.dumps(result, default=str) + "\n")
    print(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
