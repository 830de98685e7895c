"""Assembly: settings → database → services → the bot, the scheduler and the HTTP API.

One process runs all three. Polling is the default; with DEBTBOT_WEBHOOK_URL set, Telegram's
updates arrive at a secret path of the same aiohttp server that serves the API.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import Iterator

from aiohttp import web
from telegram.ext import Application

from debtbot.domain.rules import Rulebook
from debtbot.http.app import build_http_app, webhook_path
from debtbot.rulebook import load_rulebook
from debtbot.scheduler import build_scheduler
from debtbot.services import fleet
from debtbot.services.deps import Deps
from debtbot.settings import Settings
from debtbot.store.db import create_engine, session_factory
from debtbot.store.fleet import AdvisoryLease, single_instance
from debtbot.store.health import wait_for_database, watch_database
from debtbot.store.migrate import upgrade_database
from debtbot.telegram.application import build_application
from debtbot.telegram.paced import PacedRequest, ReplyPace
from debtbot.telegram.sender import BotApiSender

log = logging.getLogger(__name__)


async def serve(settings: Settings, *, stop: asyncio.Event | None = None) -> None:
    """Run the bot, the scheduler and the HTTP API until `stop` is set (or SIGINT/SIGTERM).

    Raises UnsafeSettings (the development hash key outside development), RulesFileError (a
    DEBTBOT_RULES_FILE the rule book cannot take) and DatabaseUnavailable (no database within DEBTBOT_DB_STARTUP_WAIT_SECONDS) before serving.
    On SQLite a second instance on the same file is refused (AlreadyRunning). On PostgreSQL
    any number run side by side: one sends the outbox, one polls (each holding a lease, the
    others standing by to take over), all keep one pace and process each update once.
    """
    settings.refuse_if_unsafe()
    rulebook = load_rulebook(settings)  # the law in force, checked before anything starts
    with single_instance(settings.database_url):
        await _serve(settings, rulebook, stop=stop)


async def _serve(settings: Settings, rulebook: Rulebook, *, stop: asyncio.Event | None) -> None:
    engine = create_engine(settings.database_url)
    try:
        await wait_for_database(engine, settings.database_url, settings.db_startup_wait_seconds)
        await upgrade_database(settings.database_url, hash_key=settings.hash_key)
    except BaseException:
        await engine.dispose()
        raise
    deps = Deps(settings=settings, sessions=session_factory(engine), rulebook=rulebook)
    several = fleet.shared_database(deps)
    budgets = fleet.budgets(deps)  # one pace for the outbox and the replies of this process
    webhook = bool(settings.webhook_url)
    application = build_application(
        deps,
        request=PacedRequest(ReplyPace.for_deps(deps, budgets[0])),
        updates_once=several or webhook,
    )
    stop = stop or _stop_on_signals()
    watcher = asyncio.create_task(watch_database(engine, settings.database_url, stop))

    http_app = build_http_app(deps, telegram_application=application if webhook else None)
    runner = web.AppRunner(http_app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.http_host, settings.http_port)

    def lease(name: str) -> fleet.Leadership:
        return fleet.Leadership(AdvisoryLease(settings.database_url, name) if several else None)

    # The outbox sender has its own HTTP client (its own connection pool), so a citizen's
    # reply never waits for a connection behind reminders or broadcasts; it speaks the Bot
    # API directly (BotApiSender: a tenth of the CPU a message that PTB's Bot costs).
    polling: asyncio.Task[None] | None = None
    async with application, BotApiSender(settings) as send:
        scheduler = build_scheduler(
            deps, send, leadership=lease(fleet.SENDER_LEASE), budgets=budgets,
        )
        await site.start()
        log.info("HTTP API on %s:%s", settings.http_host, settings.http_port)
        await application.start()
        if webhook:
            url = settings.webhook_url.rstrip("/") + webhook_path(settings)
            await application.bot.set_webhook(
                url, secret_token=settings.webhook_secret or None, drop_pending_updates=False
            )
            log.info("receiving updates by webhook")
        else:
            # One poller per bot token in the fleet; the others stand by.
            poller = lease(fleet.poller_lease(settings.telegram_token))
            polling = asyncio.create_task(
                fleet.while_leading(poller, stop, lambda term: _poll(application, term))
            )
        scheduler.start()
        try:
            with settled_heap():
                await stop.wait()
        finally:
            log.info("stopping")
            # The sender finishes its messages in flight first: shutting the scheduler down
            # would cancel its job mid-send (APScheduler cancels running coroutine jobs).
            scheduler.stop_sending.set()
            await scheduler.wait_sender_stopped()
            scheduler.shutdown(wait=False)
            if polling is not None:
                await polling
            if application.updater is not None and application.updater.running:
                await application.updater.stop()
            await application.stop()
            await runner.cleanup()
            await watcher
            await engine.dispose()


async def _poll(application: Application, term: asyncio.Event) -> None:  # type: ignore[type-arg]
    """Poll while this instance is the fleet's poller (until `term`)."""
    await application.bot.delete_webhook()
    assert application.updater is not None
    await application.updater.start_polling(allowed_updates=[
        "message", "edited_message", "callback_query", "my_chat_member",
    ])
    log.info("receiving updates by polling")
    try:
        await term.wait()
    finally:
        if application.updater.running:
            await application.updater.stop()
        log.info("polling stopped")


@contextlib.contextmanager
def settled_heap() -> Iterator[None]:
    """While the bot serves: what start-up made (modules, the application, catalogs, pools)
    lives as long as the process, so the cyclic garbage collector stops re-examining it
    (gc.freeze), and young objects are collected after 10,000 allocations instead of 700.

    A /debts update allocates a few thousand short-lived objects; with Python's defaults the
    full collections that follow walk the whole heap, about a tenth of the bot's CPU time
    per update (bench/chat_bench.py). Python's settings come back afterwards.
    """
    thresholds = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 20, 20)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    return stop


def run(settings: Settings) -> None:
    asyncio.run(serve(settings))
