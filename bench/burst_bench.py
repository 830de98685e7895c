"""The burst benchmark: 1,000 citizens send `/start <deep-link token>` within one second (what
follows a broadcast with a link), through the local Bot API server, to debtbot in a process of
its own.

    .venv/bin/python bench/burst_bench.py [--users 1000] [--within 1.0]
        [--concurrent-updates 0] [--database-url postgresql+asyncpg://...]
        (default: a temporary SQLite file; 0 = debtbot's own bound, matched to the store)

Each token links its chat to one registry person (verify_identity.redeem_link_token: the
token checked, spent once, the link and the audit entry written, in one transaction). Reports
errors (answers that are not the "linked" message, and no answer within 60 s; goal: zero),
p50/p99/max time from the update to the answer, and the bot process's peak memory.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import platform
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from sqlalchemy import insert, text

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bot_process import HASH_KEY, NOW, BotProcess  # noqa: E402

from debtbot.devtools.botapi import DEFAULT_TOKEN, BotMessage, FakeBotApi  # noqa: E402
from debtbot.domain.identifiers import identifier_hash, normalise_identifier  # noqa: E402
from debtbot.services.link_tokens import mint_link_token  # noqa: E402
from debtbot.settings import Settings  # noqa: E402
from debtbot.store.db import create_engine, is_sqlite  # noqa: E402
from debtbot.store.models import Base, Person  # noqa: E402

FIRST_CHAT = 10_000
LINKED = "Thank you. This chat is now linked to"
ANSWER_TIMEOUT = 60.0


def _number(user: int) -> str:
    return str(4_000_000 + user)


async def seed(url: str, users: int) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            if not is_sqlite(url):
                await connection.run_sync(Base.metadata.drop_all)
                await connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
            await connection.run_sync(Base.metadata.create_all)
            await connection.execute(insert(Person), [
                {"id": user + 1, "id_type": "id_card", "name": f"Citizen {user + 1}",
                 "id_hash": identifier_hash(normalise_identifier("id_card", _number(user)),
                                            HASH_KEY),
                 "date_of_birth": date(1970 + user % 30, 1 + user % 12, 1 + user % 28)}
                for user in range(users)
            ])
    finally:
        await engine.dispose()


async def burst(args: argparse.Namespace, url: str) -> dict[str, float]:
    settings = Settings(hash_key=HASH_KEY)
    tokens = [mint_link_token(settings, id_type="id_card", id_number=_number(user), now=NOW)
              for user in range(args.users)]
    async with FakeBotApi(token=DEFAULT_TOKEN) as api:
        sent_at: dict[int, float] = {}
        answers: dict[int, tuple[float, str]] = {}
        everyone = asyncio.Event()

        def on_message(kind: str, message: BotMessage) -> None:
            if kind == "sent" and message.chat_id in sent_at and message.chat_id not in answers:
                answers[message.chat_id] = (time.perf_counter(), message.text)
                if len(answers) == args.users:
                    everyone.set()

        api.add_listener(on_message)
        with BotProcess("debtbot", api, database_url=url,
                        concurrent_updates=args.concurrent_updates) as bot:
            await bot.started(api)
            started = time.perf_counter()
            for user, token in enumerate(tokens):  # evenly spread over `within` seconds
                due = started + user * args.within / args.users
                if (delay := due - time.perf_counter()) > 0:
                    await asyncio.sleep(delay)
                chat = FIRST_CHAT + user
                sent_at[chat] = time.perf_counter()
                await api.user_sends(chat, f"/start {token}", language_code="en")
            sent_seconds = time.perf_counter() - started
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(everyone.wait(), ANSWER_TIMEOUT)
            finished = time.perf_counter()
        latencies = sorted((answers[chat][0] - sent_at[chat]) * 1000 for chat in answers)
        wrong = sum(1 for _, answer in answers.values() if not answer.startswith(LINKED))
        unanswered = args.users - len(answers)

        def percentile(fraction: float) -> float:
            if not latencies:
                return float("nan")
            return latencies[min(len(latencies) - 1, max(0, round(fraction * len(latencies)) - 1))]

        return {
            "sent_seconds": sent_seconds, "all_answered_seconds": finished - started,
            "errors": wrong + unanswered, "wrong": wrong, "unanswered": unanswered,
            "p50_ms": percentile(0.5), "p99_ms": percentile(0.99),
            "max_ms": latencies[-1] if latencies else float("nan"),
            "peak_rss_mb": bot.peak_rss_mb or float("nan"),
        }


async def main_async(args: argparse.Namespace) -> tuple[dict[str, float], str]:
    with tempfile.TemporaryDirectory(prefix="debtbot-burst-") as folder:
        url = args.database_url or f"sqlite+aiosqlite:///{Path(folder) / 'burst.sqlite3'}"
        await seed(url, args.users)
        figures = await burst(args, url)
    return figures, "PostgreSQL" if args.database_url else "SQLite"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--within", type=float, default=1.0, help="seconds to send them all in")
    parser.add_argument("--concurrent-updates", type=int, default=0,
                        help="DEBTBOT_CONCURRENT_UPDATES for the bot (0: its default)")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", ""))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    figures, backend = asyncio.run(main_async(args))
    print(
        f"burst benchmark ({backend}, {platform.python_implementation()} "
        f"{platform.python_version()}, {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f}): {args.users} x /start <token> sent in "
        f"{figures['sent_seconds']:.2f} s, concurrent updates "
        f"{args.concurrent_updates or 'default'}"
    )
    print(
        f"  errors {figures['errors']:.0f} (wrong answer {figures['wrong']:.0f}, no answer in "
        f"{ANSWER_TIMEOUT:.0f} s {figures['unanswered']:.0f}); all answered after "
        f"{figures['all_answered_seconds']:.1f} s"
    )
    print(
        f"  time to answer: p50 {figures['p50_ms']:.0f} ms, p99 {figures['p99_ms']:.0f} ms, "
        f"max {figures['max_ms']:.0f} ms; bot peak memory {figures['peak_rss_mb']:.0f} MB"
    )
    print(f"  goal: zero errors: {'met' if figures['errors'] == 0 else 'NOT met'}")


if __name__ == "__main__":
    main()
