"""A bot in a process of its own, for the benchmarks: the load generator and the local Bot
API server stay in the benchmark's process, so neither takes CPU from the bot's event loop.

    with BotProcess("debtbot", api, database_url=url) as bot:
        await bot.started(api)          # it has asked the server for updates
        ... run the load ...
    bot.peak_rss_mb                     # the bot process's peak resident memory
    bot.cpu_seconds()                   # its CPU time so far (Linux), for CPU per update

DEBTBOT_BENCH_PROFILE=<folder> profiles each bot process with cProfile and writes
<folder>/<kind>-<concurrent_updates>-<pid>.prof (read it with `python -m pstats`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import resource
import sys
from datetime import UTC, datetime
from typing import Any

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
HASH_KEY = "bench-hash-key"


def _serve(kind: str, api_url: str, token: str, database_url: str, concurrent_updates: int,
           stop: Any, results: Any) -> None:
    logging.basicConfig(level=logging.WARNING)
    # Its last getUpdates at shutdown may time out against a busy server: harmless here.
    logging.getLogger("telegram.ext.Updater").setLevel(logging.CRITICAL)
    serving = _serve_async(kind, api_url, token, database_url, concurrent_updates, stop)
    if folder := os.environ.get("DEBTBOT_BENCH_PROFILE"):
        import cProfile

        with cProfile.Profile() as profile:
            asyncio.run(serving)
        profile.dump_stats(f"{folder}/{kind}-{concurrent_updates}-{os.getpid()}.prof")
    else:
        asyncio.run(serving)
    # ru_maxrss is in kilobytes on Linux, bytes on macOS.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    results.put(peak / (1024 * 1024 if sys.platform == "darwin" else 1024))


async def _serve_async(kind: str, api_url: str, token: str, database_url: str,
                       concurrent_updates: int, stop: Any) -> None:
    from debtbot.app import settled_heap
    from debtbot.devtools.echo import build_echo_application
    from debtbot.devtools.ptb import polling

    engine = None
    if kind == "debtbot":
        from debtbot.services.deps import Deps
        from debtbot.settings import Settings
        from debtbot.store.db import create_engine, session_factory
        from debtbot.telegram.application import build_application

        engine = create_engine(database_url)
        settings = Settings(
            hash_key=HASH_KEY, database_url=database_url, telegram_token=token,
            telegram_api_url=api_url, concurrent_updates=concurrent_updates,
        )
        deps = Deps(settings=settings, sessions=session_factory(engine), clock=lambda: NOW)
        application = build_application(deps)
    else:
        application = build_echo_application(
            api_url, token, concurrent_updates=concurrent_updates or True
        )
    try:
        async with polling(application, poll_timeout=10):
            with settled_heap():  # as `debtbot run` serves, once started
                await asyncio.to_thread(stop.wait)
    finally:
        if engine is not None:
            await engine.dispose()


class BotProcess:
    """debtbot ("debtbot") or the bare echo bot ("echo"), polling the server at `api_url`."""

    def __init__(self, kind: str, api: Any, *, database_url: str = "",
                 concurrent_updates: int = 0) -> None:
        api_url, token = api.url, api.token
        self._since = len(api.calls)
        context = multiprocessing.get_context("spawn")
        self._stop = context.Event()
        self._results = context.Queue()
        self._process = context.Process(
            target=_serve,
            args=(kind, api_url, token, database_url, concurrent_updates, self._stop,
                  self._results),
            daemon=True,
        )
        self.peak_rss_mb: float | None = None

    def __enter__(self) -> BotProcess:
        self._process.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        with contextlib.suppress(Exception):
            self.peak_rss_mb = self._results.get(timeout=30)
        self._process.join(timeout=30)
        if self._process.is_alive():
            self._process.kill()

    def cpu_seconds(self) -> float | None:
        """The bot process's CPU time (user and system) so far; None where /proc is not."""
        try:
            with open(f"/proc/{self._process.pid}/stat") as stat:
                fields = stat.read().rpartition(")")[2].split()
        except OSError:
            return None
        # After the command's closing parenthesis: state is field 3, utime 14 and stime 15.
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    async def started(self, api: Any, timeout: float = 60.0) -> None:  # noqa: ASYNC109
        """Wait until the bot polls the server (it is then ready for updates)."""
        await api.wait_for_calls("getUpdates", timeout=timeout, since=self._since)
