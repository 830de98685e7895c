"""The chat benchmark's baseline: a bare python-telegram-bot echo bot behind the fake Bot API.

    /work/venv/bin/python bench/echo_bench.py [--updates 10000] [--users 1000]
        [--concurrency 50] [--mode polling|webhook]

Everything runs in one process and one event loop (server, bot, simulated users), so the
figures are what one core gives the whole chain; compare them with the debtbot chat
benchmark run the same way.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import platform
from collections.abc import AsyncIterator

from debtbot.devtools.botapi import DEFAULT_TOKEN, FakeBotApi
from debtbot.devtools.echo import build_echo_application
from debtbot.devtools.load import LoadResult, run_load
from debtbot.devtools.ptb import polling, started
from debtbot.http.webhook import webhook_server

SECRET = "bench-secret"


@contextlib.asynccontextmanager
async def running(api: FakeBotApi, mode: str) -> AsyncIterator[None]:
    application = build_echo_application(api.url, api.token)
    if mode == "polling":
        async with polling(application, poll_timeout=10):
            yield
        return
    async with started(application), webhook_server(application, secret=SECRET) as url:
        await application.bot.set_webhook(url, secret_token=SECRET)
        yield


async def bench(*, updates: int, users: int, concurrency: int, mode: str) -> LoadResult:
    async with FakeBotApi(token=DEFAULT_TOKEN) as api, running(api, mode):
        await run_load(api, range(10_001, 10_001 + min(users, 50)), "warm up", 100, 50)
        result = await run_load(
            api,
            range(1, users + 1),
            "/debts",
            n_updates=updates,
            concurrency=concurrency,
        )
        assert api.counters["429"] == 0 and api.counters["5xx"] == 0
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=1_000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--mode", choices=("polling", "webhook"), default="polling")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    result = asyncio.run(
        bench(
            updates=args.updates,
            users=args.users,
            concurrency=args.concurrency,
            mode=args.mode,
        )
    )
    print(
        f"echo baseline ({args.mode}, {platform.python_implementation()} "
        f"{platform.python_version()}): {result.answered}/{result.updates} updates from "
        f"{args.users} users, concurrency {args.concurrency}, in {result.seconds:.1f} s\n"
        f"  {result.updates_per_second:.0f} updates/s, p50 {result.p50_ms:.1f} ms, "
        f"p99 {result.p99_ms:.1f} ms, max {result.max_ms:.1f} ms, timeouts {result.timeouts}\n"
        f"  CPU {result.cpu_ms_per_update:.2f} ms per update (fake server + bot + users), "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )


if __name__ == "__main__":
    main()
