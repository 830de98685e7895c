"""The child process of tests/test_crash_safety.py: the outbox sender and nothing else, from
the environment's settings (DEBTBOT_DATABASE_URL, DEBTBOT_TELEGRAM_API_URL, ...).

It sends until nothing is pending or being sent, then exits 0. The test kills it with
SIGKILL halfway and starts it again.
"""

from __future__ import annotations

import asyncio
import sys

from debtbot.services.deps import Deps
from debtbot.settings import load_settings
from debtbot.store.db import create_engine, session_factory
from debtbot.telegram.sender import build_sender, sender_bot


async def main() -> int:
    settings = load_settings()
    engine = create_engine(settings.database_url)
    deps = Deps(settings=settings, sessions=session_factory(engine))
    bot = sender_bot(settings)
    await bot.initialize()
    sender = build_sender(deps, bot, maintenance_seconds=0.5)
    print("ready", flush=True)
    try:
        while True:
            await sender.deliver_due()
            counts = await deps.read(lambda uow: uow.outbox.counts_by_status())
            if not counts.get("pending") and not counts.get("sending"):
                return 0
            await asyncio.sleep(0.2)
    finally:
        await bot.shutdown()
        await engine.dispose()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
