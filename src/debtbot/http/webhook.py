"""The Telegram webhook: Telegram POSTs each update here; it goes on the application's queue.

Mount it in the main aiohttp app::

    app.add_routes(telegram_webhook_routes(application, path="/telegram/webhook",
                                           secret=settings.webhook_secret))

and tell Telegram: `await application.bot.set_webhook(url, secret_token=secret)`. The
application must be initialised and started (`application.start()`), not polling.
`webhook_server` runs the route alone on its own port (tests, benchmarks).
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web
from telegram import Update
from telegram.ext import Application

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name)


def telegram_webhook_routes(
    application: Application[Any, Any, Any, Any, Any, Any], *, path: str, secret: str
) -> list[web.RouteDef]:
    """The POST route receiving Telegram's updates, refusing any without the secret token."""
    if not secret:
        raise ValueError("a webhook needs a secret token (DEBTBOT_WEBHOOK_SECRET)")
    expected = secret.encode()

    async def receive_update(request: web.Request) -> web.Response:
        """Check the secret, parse the update, queue it; answer at once."""
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, expected):
            log.warning("webhook call refused: missing or wrong secret token")
            return web.json_response({"ok": False, "error": "forbidden"}, status=403)
        try:
            data = json.loads(await request.read())
            if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
                raise ValueError("not an update")
            update = Update.de_json(data, application.bot)
        except Exception as exc:  # whatever the body holds, the answer is 400, never 500
            log.warning("webhook call refused: not a Telegram update (%s)", type(exc).__name__)
            return web.json_response({"ok": False, "error": "bad update"}, status=400)
        await application.update_queue.put(update)
        return web.json_response({"ok": True})

    return [web.post(path, receive_update)]


@asynccontextmanager
async def webhook_server(
    application: Application[Any, Any, Any, Any, Any, Any],
    *,
    secret: str,
    path: str = "/telegram/webhook",
    host: str = "127.0.0.1",
    port: int = 0,
) -> AsyncIterator[str]:
    """Serve only the webhook route (port 0: an ephemeral one); yields the URL to register."""
    app = web.Application()
    app.add_routes(telegram_webhook_routes(application, path=path, secret=secret))
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://{host}:{bound}{path}"
    finally:
        await runner.cleanup()
