"""Broadcast benchmark: a broadcast to 100,000 chats.

    python bench/broadcast_bench.py                                   # PostgreSQL, 100,000 chats
    python bench/broadcast_bench.py --backend sqlite --chats 20000
    python bench/broadcast_bench.py --postgres-url postgresql+asyncpg://postgres@127.0.0.1:5432/h_staff

What it measures, in one process (the worst case: bot, sender, planner and the fake Telegram
share one event loop and the machine's cores):
  1. approve → first message: from the second supervisor's approve_broadcast() call to the
     first broadcast sendMessage reaching the local Bot API server, with the real outbox
     sender (debtbot.telegram.sender) already running. Also: approve() returning (the first
     5,000-row batch is queued set-based inside it), and the first row being claimable.
  2. planning: how long run_broadcasts() takes to queue all rows (INSERT … SELECT batches).
  3. /debts latency: p50/p99 of the real bot (build_application, polling the fake server)
     answering /debts from verified citizens, idle and then while the broadcast is being
     planned and sent. Goal: p99 during ≤ 2 × idle.
Goals (issue): approve → first message < 5 s; p99 of /debts during within 2× of idle.

The database is emptied first (tables dropped and re-created): give it one of its own.
Quiet hours are switched off for the run (the sender would hold broadcasts at night).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, insert, select, text

from debtbot.devtools.botapi import FakeBotApi
from debtbot.devtools.load import run_load
from debtbot.services import broadcasts, notices, staff
from debtbot.services.broadcasts import Segment, SegmentKind
from debtbot.services.deps import Deps
from debtbot.services.staff import CLI_ACTOR, Actor, Role
from debtbot.settings import Settings
from debtbot.store.db import create_engine, session_factory
from debtbot.store.models import Base, Chat, ChatLink, DebtRow, OutboxMessage, Person

OUT = Path(__file__).resolve().parent / "out"
DEFAULT_PG = os.environ.get(
    "DEBTBOT_BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/h_staff"
)
CHAT_BASE = 10_000_000
SEED_BATCH = 10_000


async def _reset(engine) -> None:  # type: ignore[no-untyped-def]
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.drop_all)
        await connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
        await connection.run_sync(Base.metadata.create_all)


async def _seed(sessions, n_chats: int, n_debtors: int) -> None:  # type: ignore[no-untyped-def]
    """n_chats verified chats (el/en/tr in turn), each linked to its own person; the first
    n_debtors of them hold two open debts each (they are the ones asking /debts)."""
    served = date.today() - timedelta(days=10)
    for start in range(0, n_chats, SEED_BATCH):
        numbers = range(start, min(start + SEED_BATCH, n_chats))
        async with sessions() as session, session.begin():
            await session.execute(
                insert(Person),
                [{"id": i + 1, "id_type": "id_card", "id_hash": f"{i:064x}", "name": f"Citizen {i}"}
                 for i in numbers],
            )
            await session.execute(
                insert(Chat),
                [{"id": CHAT_BASE + i, "language": ("el", "en", "tr")[i % 3], "active": True,
                  "discreet": False, "reminders_enabled": True, "muted_kinds": []}
                 for i in numbers],
            )
            await session.execute(
                insert(ChatLink),
                [{"chat_id": CHAT_BASE + i, "person_id": i + 1, "verified_by": "dob"} for i in numbers],
            )
            debtors = [i for i in numbers if i < n_debtors]
            if debtors:
                await session.execute(
                    insert(DebtRow),
                    [{"source": "police", "reference": f"OCF-{i}-{k}", "kind": "out_of_court_fine",
                      "authority": "Cyprus Police", "person_id": i + 1,
                      "amount": Decimal("85.00") + k, "served_on": served, "status": "outstanding",
                      "post_clearance": False, "enforcement_suspended": False}
                     for i in debtors for k in range(2)],
                )
    if "postgresql" in str(sessions.kw["bind"].url):
        async with sessions() as session, session.begin():
            await session.execute(text("SELECT setval('persons_id_seq', (SELECT max(id) FROM persons))"))
            await session.execute(text("ANALYZE"))


async def _load(api, chats, n_updates, concurrency):  # type: ignore[no-untyped-def]
    result = await run_load(api, chat_ids=chats, text="/debts", n_updates=n_updates,
                            concurrency=concurrency)
    return {"answered": result.answered, "timeouts": result.timeouts,
            "p50_ms": round(result.p50_ms, 1), "p99_ms": round(result.p99_ms, 1),
            "max_ms": round(result.max_ms, 1), "seconds": round(result.seconds, 2),
            "updates_per_second": round(result.updates_per_second, 1)}


async def bench(url: str, n_chats: int, n_debtors: int, n_updates: int, concurrency: int,
                measure_debts: bool) -> dict:
    engine = create_engine(url)
    await _reset(engine)
    sessions = session_factory(engine)
    t = time.perf_counter()
    await _seed(sessions, n_chats, n_debtors)
    seed_seconds = time.perf_counter() - t
    result: dict = {"backend": engine.dialect.name, "chats": n_chats, "seed_seconds": round(seed_seconds, 1)}

    async with FakeBotApi() as api:
        settings = Settings(
            telegram_token=api.token, telegram_api_url=api.url, database_url=url,
            quiet_hours_start=dtime(0, 0), quiet_hours_end=dtime(0, 0),
        )
        deps = Deps(settings=settings, sessions=sessions)
        for user_id, role in ((1, "admin"), (2, "supervisor"), (3, "supervisor")):
            await staff.add_staff(deps, actor=CLI_ACTOR, telegram_user_id=user_id, name=f"S{user_id}", role=role)
        await notices.save_template(
            deps, actor=CLI_ACTOR, name="closing",
            bodies={"el": "Οι πληρωμές κλείνουν στις {deadline}.",
                    "en": "Payments close on {deadline}.",
                    "tr": "Ödemeler {deadline} tarihinde kapanıyor."},
        )
        author, approver = Actor("staff:2", Role.SUPERVISOR), Actor("staff:3", Role.SUPERVISOR)
        created = await broadcasts.create_broadcast(
            deps, actor=author, segment=Segment(SegmentKind.ALL), template="closing",
            values={"deadline": "2026-12-24"},
        )

        application = None
        load_chats = [CHAT_BASE + i for i in range(n_debtors)]
        stack = contextlib.AsyncExitStack()
        if measure_debts:
            from debtbot.devtools import ptb
            from debtbot.telegram.application import build_application

            application = build_application(deps)
            await stack.enter_async_context(ptb.polling(application, poll_timeout=1))
            await _load(api, load_chats[:50], 100, 20)  # warm-up: connections, caches
            result["debts_idle"] = await _load(api, load_chats, n_updates, concurrency)

        from debtbot.telegram.sender import build_sender, sender_bot

        bot = sender_bot(settings)
        await stack.enter_async_context(bot)
        sender = build_sender(deps, bot)
        stop = asyncio.Event()
        sender_task = asyncio.create_task(sender.run(stop))
        await asyncio.sleep(0.5)

        def first_broadcast_message() -> bool:
            return any(call.method == "sendMessage" and int(call.params.get("chat_id", 0)) >= CHAT_BASE
                       for call in api.calls)

        t0 = time.perf_counter()
        await broadcasts.approve_broadcast(deps, actor=approver, broadcast_id=created.id)
        approve_returned = time.perf_counter() - t0
        async with sessions() as session:
            claimable = await session.scalar(
                select(func.count()).select_from(OutboxMessage).where(
                    OutboxMessage.broadcast_id == created.id)
            )
        first_row_visible = time.perf_counter() - t0
        sender.wake()

        async def plan_all() -> float:
            started = time.perf_counter()
            await broadcasts.run_broadcasts(deps, max_batches=10_000)
            return time.perf_counter() - started

        planner = asyncio.create_task(plan_all())
        load_task = (asyncio.create_task(_load(api, load_chats, n_updates, concurrency))
                     if measure_debts else None)
        await api.wait_for(lambda: True if first_broadcast_message() else None, timeout=60)
        first_message = time.perf_counter() - t0
        planning_seconds = await planner
        if load_task is not None:
            result["debts_during"] = await load_task
        progress = await broadcasts.broadcast_progress(deps, broadcast_id=created.id)
        stop.set()
        await sender_task
        await stack.aclose()

    result.update({
        "approve_returned_s": round(approve_returned, 3),
        "rows_after_approve": claimable,
        "first_row_visible_s": round(first_row_visible, 3),
        "approve_to_first_message_s": round(first_message, 3),
        "planning_all_rows_s": round(planning_seconds, 2),
        "queued_rows": await _queued(sessions, created.id),
        "sent_during_run": progress.sent,
    })
    if measure_debts:
        idle, during = result["debts_idle"]["p99_ms"], result["debts_during"]["p99_ms"]
        result["debts_p99_ratio"] = round(during / idle, 2) if idle else None
    await engine.dispose()
    return result


async def _queued(sessions, broadcast_id: int) -> int:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        return int(await session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.broadcast_id == broadcast_id)
        ) or 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--backend", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--postgres-url", default=DEFAULT_PG)
    parser.add_argument("--chats", type=int, default=100_000)
    parser.add_argument("--debtors", type=int, default=300, help="chats asking /debts")
    parser.add_argument("--updates", type=int, default=1500, help="/debts per load phase")
    parser.add_argument("--concurrency", type=int, default=30)
    parser.add_argument("--no-debts", action="store_true", help="skip the /debts latency part")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    url = args.postgres_url if args.backend == "postgres" else (
        f"sqlite+aiosqlite:///{OUT / 'broadcast_bench.sqlite3'}")
    if args.backend == "sqlite":
        (OUT / "broadcast_bench.sqlite3").unlink(missing_ok=True)
    result = asyncio.run(bench(url, args.chats, args.debtors, args.updates, args.concurrency,
                               not args.no_debts))
    result["at"] = datetime.now(UTC).isoformat(timespec="seconds")
    line = json.dumps(result)
    sys.stdout.write(line + "\n")
    with (OUT / "broadcast_bench.jsonl").open("a") as log:
        log.write(line + "\n")


if __name__ == "__main__":
    main()
