"""Run a python-telegram-bot Application against a Bot API server (fake or real) in-process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from telegram.ext import Application, ApplicationBuilder

AnyApplication = Application[Any, Any, Any, Any, Any, Any]


def application_builder(
    api_url: str, token: str
) -> ApplicationBuilder[Any, Any, Any, Any, Any, Any]:
    """A builder whose bot talks to the Bot API at `api_url` (e.g. a FakeBotApi's url)."""
    root = api_url.rstrip("/")
    return (
        ApplicationBuilder().token(token).base_url(f"{root}/bot").base_file_url(f"{root}/file/bot")
    )


@asynccontextmanager
async def polling(
    application: AnyApplication, *, poll_timeout: int = 1, drop_pending_updates: bool = False
) -> AsyncIterator[AnyApplication]:
    """Initialise, start and long-poll inside the block; stop and shut down cleanly after."""
    await application.initialize()
    try:
        await application.start()
        try:
            assert application.updater is not None, "the application was built without an updater"
            await application.updater.start_polling(
                poll_interval=0.0, timeout=poll_timeout, drop_pending_updates=drop_pending_updates
            )
            try:
                yield application
            finally:
                await application.updater.stop()
        finally:
            await application.stop()
    finally:
        await application.shutdown()


@asynccontextmanager
async def started(application: AnyApplication) -> AsyncIterator[AnyApplication]:
    """Initialise and start without polling (webhook mode: updates arrive on update_queue)."""
    await application.initialize()
    try:
        await application.start()
        try:
            yield application
        finally:
            await application.stop()
    finally:
        await application.shutdown()
