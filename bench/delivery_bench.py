"""Delivery benchmark: 5,000 reminders through the local Bot API server enforcing Telegram's
limits (30 messages a second overall, 1 a second per chat).

    python bench/delivery_bench.py --backend postgres \
        --postgres-url postgresql+asyncpg://postgres@127.0.0.1:5432/h_remind_bench
    python bench/delivery_bench.py --backend sqlite --reminders 1000

What it does: 5,000 verified chats (languages el/en/tr), one out-of-court fine each served 24
days ago, so the 7-day reminder before the surcharge is due today; one planner sweep plans
them (rendered in each chat's language); then the real sender (debtbot.services.
deliver_outbox with debtbot.telegram.sender, python-telegram-bot over HTTP) delivers them at
the configured rate (DEBTBOT_SEND_RATE_PER_SECOND, default 25) while the server answers 429
to anything beyond 30 a second or 1 a second per chat.
Figures: achieved rate = (messages - 1) / (last send - first send) as the server saw them,
as a share of the configured rate (goal >= 95 %); 429 answers (goal 0); peak memory of the
process, which also hosts the fake server (goal < 300 MB).
The database is emptied first: give it one of its own. Quiet hours are off for the run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select, text

from debtbot.devtools.botapi import FakeBotApi
from debtbot.domain.calendar import local_date
from debtbot.services.deliver_outbox import OutboxSender
from debtbot.services.deps import Deps
from debtbot.services.plan_reminders import plan_reminders
from debtbot.settings import Settings
from debtbot.store.db import create_engine, session_factory
from debtbot.store.models import Base, Chat, ChatLink, DebtRow, OutboxMessage, Person
from debtbot.telegram.sender import TelegramSender, sender_bot

OUT = Path(__file__).resolve().parent / "out"
DEFAULT_PG = os.environ.get(
    "DEBTBOT_BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/h_remind_bench"
)
CHAT_BASE = 2_000_000_000


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def _seed(engine, sessions, n: int, now: datetime) -> None:  # type: ignore[no-untyped-def]
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.drop_all)
        await connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
        await connection.run_sync(Base.metadata.create_all)
    served = local_date(now) - timedelta(days=24)
    async with sessions() as session, session.begin():
        await session.execute(insert(Person), [
            {"id": i, "id_type": "id_card", "id_hash": f"h{i}", "name": f"P{i}"}
            for i in range(1, n + 1)
        ])
        await session.execute(insert(Chat), [
            {"id": CHAT_BASE + i, "language": ("el", "en", "tr")[i % 3]} for i in range(1, n + 1)
        ])
        await session.execute(insert(ChatLink), [
            {"chat_id": CHAT_BASE + i, "person_id": i, "verified_by": "dob"}
            for i in range(1, n + 1)
        ])
        await session.execute(insert(DebtRow), [
            {"source": "police", "reference": f"OC-{i:06d}", "kind": "out_of_court_fine",
             "person_id": i, "amount": 100 + i % 400, "served_on": served,
             "status": "outstanding"}
            for i in range(1, n + 1)
        ])


async def run(url: str, n: int) -> dict[str, object]:
    settings = Settings(database_url=url, quiet_hours_start="00:00", quiet_hours_end="00:00")
    engine = create_engine(url)
    sessions = session_factory(engine)
    now = datetime.now(UTC)
    await _seed(engine, sessions, n, now)
    deps = Deps(settings=settings, sessions=sessions)
    plan = await plan_reminders(deps)
    result: dict[str, object] = {"reminders_planned": plan.planned,
                                 "plan_s": round(plan.seconds, 2)}
    async with FakeBotApi() as api:
        api.enforce_limits(per_second=30, per_chat_per_second=1)
        settings = settings.model_copy(update={"telegram_api_url": api.url,
                                               "telegram_token": api.token})
        deps = Deps(settings=settings, sessions=sessions)
        bot = sender_bot(settings)
        async with bot:
            sender = OutboxSender(deps, TelegramSender(bot))
            stop = asyncio.Event()
            cpu = time.process_time()
            started = time.monotonic()
            task = asyncio.create_task(sender.run(stop))
            await api.wait_for(
                lambda: sum(1 for c in api.calls_to("sendMessage") if c.ok) >= plan.planned,
                timeout=plan.planned / settings.send_rate_per_second * 2 + 60,
            )
            stop.set()
            await task
            wall = time.monotonic() - started
            cpu = time.process_time() - cpu
        ok = [call.at for call in api.calls_to("sendMessage") if call.ok]
        span = max(ok) - min(ok)
        achieved = (len(ok) - 1) / span if span > 0 else float("nan")
        result.update(
            messages=len(ok),
            configured_rate=settings.send_rate_per_second,
            achieved_rate=round(achieved, 2),
            achieved_share=round(achieved / settings.send_rate_per_second, 4),
            http_429=api.counters["429"],
            wall_s=round(wall, 1),
            cpu_s=round(cpu, 1),
            stats=vars(sender.stats) if hasattr(sender.stats, "__dict__") else {
                name: getattr(sender.stats, name) for name in sender.stats.__slots__
            },
        )
        per_chat = {}
        for call in api.calls_to("sendMessage"):
            per_chat[call.chat_id] = per_chat.get(call.chat_id, 0) + 1
        result["chats_with_more_than_one_message"] = sum(1 for c in per_chat.values() if c > 1)
    async with sessions() as session:
        result["outbox"] = dict((await session.execute(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        )).all())
    await engine.dispose()
    result["peak_mb"] = round(_peak_mb(), 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--postgres-url", default=DEFAULT_PG)
    parser.add_argument("--sqlite-path", default=str(OUT / "delivery_bench.sqlite3"))
    parser.add_argument("--reminders", type=int, default=5000)
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    url = (args.postgres_url if args.backend == "postgres"
           else f"sqlite+aiosqlite:///{args.sqlite_path}")
    result = {"backend": args.backend, **asyncio.run(run(url, args.reminders)),
              "at": datetime.now(UTC).isoformat(timespec="seconds")}
    with (OUT / "delivery_bench.jsonl").open("a") as out:
        out.write(json.dumps(result) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
