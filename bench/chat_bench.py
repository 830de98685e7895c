"""The chat benchmark: `/debts` through the local Bot API server, against a bare echo bot.

    /work/venv/bin/python bench/chat_bench.py [--updates 10000] [--users 1000]
        [--debts-per-user 20] [--concurrency 20] [--mode polling|webhook]
        [--database-url postgresql+asyncpg://...]   (default: a temporary SQLite file)

1,000 verified users with 20 debts each send 10,000 `/debts` updates (each user waits for
the answer before writing again; `concurrency` users write at once). The real application
(build_application) answers through the fake Bot API server over HTTP: touch_chat, the
debts report (amounts due now, next deadlines) and page 1 rendered in the user's language.
Then a bare python-telegram-bot echo bot (debtbot.devtools.echo) runs on the same harness,
same load, in the same process. Printed: updates/s, p50/p99 latency, and the goal check
(>= 50 % of the echo bot's throughput, p99 < 100 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import platform
import random
import tempfile
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text

from debtbot.devtools.botapi import DEFAULT_TOKEN, FakeBotApi
from debtbot.devtools.echo import build_echo_application
from debtbot.devtools.load import LoadResult, run_load
from debtbot.devtools.ptb import polling, started
from debtbot.domain.identifiers import identifier_hash, normalise_identifier
from debtbot.http.webhook import webhook_server
from debtbot.services.deps import Deps
from debtbot.settings import Settings
from debtbot.store.db import create_engine, is_sqlite, session_factory
from debtbot.store.models import Base, Chat, ChatLink, DebtRow, Person
from debtbot.telegram.application import build_application

SECRET = "bench-secret"
WARM_UP = 200
HASH_KEY = "bench-hash-key"
FIRST_CHAT = 1
KINDS = ("out_of_court_fine", "fine_warrant", "admin_fine", "tax", "customs")
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


async def seed(url: str, *, users: int, debts_per_user: int) -> None:
    """Users 1..N, each verified in chat N with `debts_per_user` debts of every kind and age."""
    engine = create_engine(url)
    rng = random.Random(1)  # noqa: S311 - sample data, not secrets
    today = NOW.date()
    try:
        async with engine.begin() as connection:
            if not is_sqlite(url):
                await connection.run_sync(Base.metadata.drop_all)
                await connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
            await connection.run_sync(Base.metadata.create_all)
            persons, chats, links, debts = [], [], [], []
            for user in range(users):
                number = str(3_000_000 + user)
                persons.append({
                    "id": user + 1, "id_type": "id_card", "name": f"Citizen {user + 1}",
                    "id_hash": identifier_hash(normalise_identifier("id_card", number), HASH_KEY),
                    "date_of_birth": date(1970 + user % 30, 1 + user % 12, 1 + user % 28),
                })
                chats.append({"id": FIRST_CHAT + user, "language": ("el", "en", "tr")[user % 3]})
                links.append({"chat_id": FIRST_CHAT + user, "person_id": user + 1,
                              "verified_by": "dob"})
                for index in range(debts_per_user):
                    kind = KINDS[index % len(KINDS)]
                    day0 = today - timedelta(days=rng.randint(0, 120))
                    debts.append({
                        "source": "bench", "reference": f"B{user:05d}-{index:02d}", "kind": kind,
                        "authority": "Bench Authority", "person_id": user + 1,
                        "amount": Decimal(rng.randint(20, 9000)),
                        "served_on": None if kind == "tax" else day0,
                        "due_on": day0 if kind == "tax" else None,
                        "status": "outstanding",
                    })
            await connection.execute(insert(Person), persons)
            await connection.execute(insert(Chat), chats)
            await connection.execute(insert(ChatLink), links)
            for start in range(0, len(debts), 5000):
                await connection.execute(insert(DebtRow), debts[start : start + 5000])
    finally:
        await engine.dispose()


@contextlib.asynccontextmanager
async def serving(application: Any, mode: str) -> AsyncIterator[None]:
    if mode == "polling":
        async with polling(application, poll_timeout=10):
            yield
        return
    async with started(application), webhook_server(application, secret=SECRET) as url:
        await application.bot.set_webhook(url, secret_token=SECRET)
        yield


async def measure(
    api: FakeBotApi, application: Any, args: argparse.Namespace
) -> tuple[LoadResult, LoadResult | None]:
    """The loaded run, then (if asked) a light one: one user at a time, no queueing."""
    chats = range(FIRST_CHAT, FIRST_CHAT + args.users)
    light = None
    async with serving(application, args.mode):
        await run_load(api, list(chats)[:100], "/debts", WARM_UP, args.concurrency)
        result = await run_load(
            api, chats, "/debts", n_updates=args.updates, concurrency=args.concurrency
        )
        if args.light_updates:
            light = await run_load(
                api, chats, "/debts", n_updates=args.light_updates, concurrency=1
            )
    assert api.counters["429"] == 0 and api.counters["5xx"] == 0, api.counters
    return result, light


Results = tuple[tuple[LoadResult, LoadResult | None], tuple[LoadResult, LoadResult | None], str]


async def bench(args: argparse.Namespace) -> Results:
    with tempfile.TemporaryDirectory(prefix="debtbot-bench-") as folder:
        url = args.database_url or f"sqlite+aiosqlite:///{Path(folder) / 'bench.sqlite3'}"
        await seed(url, users=args.users, debts_per_user=args.debts_per_user)
        async with FakeBotApi(token=DEFAULT_TOKEN) as api:
            engine = create_engine(url)
            settings = Settings(
                hash_key=HASH_KEY, database_url=url, telegram_token=api.token,
                telegram_api_url=api.url,
            )
            deps = Deps(settings=settings, sessions=session_factory(engine), clock=lambda: NOW)
            try:
                debtbot = await measure(api, build_application(deps), args)
                sample = api.last_message(FIRST_CHAT)
                reports = sum(
                    1 for call in api.calls_to("sendMessage")
                    if "20" in str(call.params.get("text", ""))
                    and "<b>1.</b>" in str(call.params.get("text", ""))
                )
            finally:
                await engine.dispose()
        async with FakeBotApi(token=DEFAULT_TOKEN) as api:
            echo = await measure(api, build_echo_application(api.url, api.token), args)
    assert sample is not None and "20" in sample.text, "the bot did not answer with the report"
    # Every answer must be the real report (page 1 of 20 debts), not an apology.
    expected = args.updates + WARM_UP + args.light_updates
    assert reports == expected, f"only {reports} of {expected} answers were debt reports"
    return debtbot, echo, "PostgreSQL" if args.database_url else "SQLite"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=1_000)
    parser.add_argument("--debts-per-user", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--mode", choices=("polling", "webhook"), default="polling")
    parser.add_argument(
        "--light-updates", type=int, default=500,
        help="then this many updates from one user at a time (latency without queueing)",
    )
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", ""))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    (debtbot, debtbot_light), (echo, echo_light), backend = asyncio.run(bench(args))
    ratio = debtbot.updates_per_second / echo.updates_per_second
    print(
        f"chat benchmark ({args.mode}, {backend}, {platform.python_implementation()} "
        f"{platform.python_version()}, {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f}): {args.updates} /debts updates from {args.users} users "
        f"with {args.debts_per_user} debts each, concurrency {args.concurrency}"
    )
    rows = [("debtbot /debts", debtbot), ("echo bot", echo)]
    if debtbot_light and echo_light:
        rows += [("debtbot, 1 user", debtbot_light), ("echo, 1 user", echo_light)]
    for name, result in rows:
        print(
            f"  {name:16} {result.updates_per_second:6.0f} updates/s  p50 {result.p50_ms:6.1f} ms"
            f"  p99 {result.p99_ms:6.1f} ms  max {result.max_ms:7.1f} ms"
            f"  CPU {result.cpu_ms_per_update:5.1f} ms/update"
            f"  answered {result.answered}/{result.updates}"
        )
    print(
        f"  throughput vs echo: {ratio:.0%} (goal >= 50 %): {'met' if ratio >= 0.5 else 'NOT met'};"
        f" p99 {debtbot.p99_ms:.1f} ms (goal < 100 ms): "
        f"{'met' if debtbot.p99_ms < 100 else 'NOT met'}"
    )

if __name__ == "__main__":
    main()
