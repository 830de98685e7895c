"""Fixtures for end-to-end Telegram tests: the local Bot API server and PTB running against it.

    async def test_something(botapi, app_builder, polling):
        application = app_builder().build()        # or build_application(deps) with
        ...add handlers...                         # settings.telegram_api_url = botapi.url
        async with polling(application):
            await botapi.user_sends(42, "/start")
            [reply] = await botapi.wait_for_messages(42)

`webhook(application)` does the same in webhook mode: the app's webhook route on an
ephemeral port, registered with the fake through setWebhook (with `WEBHOOK_SECRET`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import pytest
from telegram.ext import Application, ApplicationBuilder

from debtbot.devtools import ptb
from debtbot.devtools.botapi import DEFAULT_TOKEN, FakeBotApi
from debtbot.http.webhook import webhook_server

WEBHOOK_SECRET = "test-webhook-secret"

AnyApplication = Application[Any, Any, Any, Any, Any, Any]


@pytest.fixture
async def botapi() -> AsyncIterator[FakeBotApi]:
    """A started local Bot API server (stopped after the test)."""
    async with FakeBotApi(token=DEFAULT_TOKEN) as api:
        yield api


@pytest.fixture
def app_builder(
    botapi: FakeBotApi,
) -> Callable[[], ApplicationBuilder[Any, Any, Any, Any, Any, Any]]:
    """Makes ApplicationBuilders whose bot talks to `botapi`."""
    return lambda: ptb.application_builder(botapi.url, botapi.token)


@pytest.fixture
def polling() -> Callable[..., AbstractAsyncContextManager[AnyApplication]]:
    """`async with polling(application):` runs the application in polling mode."""
    return ptb.polling


@pytest.fixture
def webhook(botapi: FakeBotApi) -> Callable[..., AbstractAsyncContextManager[str]]:
    """`async with webhook(application) as url:` runs it in webhook mode behind a secret."""

    @asynccontextmanager
    async def run(
        application: AnyApplication, *, secret: str = WEBHOOK_SECRET
    ) -> AsyncIterator[str]:
        async with ptb.started(application), webhook_server(application, secret=secret) as url:
            await application.bot.set_webhook(url, secret_token=secret)
            try:
                yield url
            finally:
                await application.bot.delete_webhook()

    return run
