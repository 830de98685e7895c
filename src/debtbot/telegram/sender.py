"""The outbox's Telegram port: one `sendMessage` with python-telegram-bot, and the errors
Telegram answers translated into the delivery service's own (debtbot.services.deliver_outbox
decides what to retry; this module only says what happened).

Give the sender a Bot whose HTTP pool allows a few requests at once (PTB's plain `Bot` has a
pool of one, which caps the rate at one round trip at a time): `sender_bot(settings)`.
"""

from __future__ import annotations

import json
import warnings
from datetime import timedelta
from typing import Any

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.warnings import PTBDeprecationWarning

from debtbot.services.deliver_outbox import (
    ChatUnreachable,
    MessageRejected,
    OutboxSender,
    OutgoingMessage,
    TransientError,
)
from debtbot.services.deliver_outbox import RetryAfter as RetryLater
from debtbot.services.deps import Deps
from debtbot.settings import Settings
from debtbot.telegram.request import JsonRequest, TimedOutAfterSending

# 400 answers that mean the chat is gone for good, like a 403.
_GONE = ("chat not found", "user is deactivated", "peer_id_invalid", "bot was kicked")


def _markup(rows: list[list[dict[str, str]]]) -> InlineKeyboardMarkup | None:
    if not rows:
        return None
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(b["text"], url=b["url"]) if "url" in b
                else InlineKeyboardButton(b["text"], callback_data=b["callback_data"])
                for b in row
            ]
            for row in rows
        ]
    )


def _seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():
        # PTB 22 warns that retry_after becomes a timedelta; both are handled here.
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class TelegramSender:
    """`SendMessage` with PTB's Bot: HTML text, inline buttons, no link previews."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def __call__(self, message: OutgoingMessage) -> int:
        extra: dict[str, Any] = {}
        if message.paid_broadcast:
            extra["allow_paid_broadcast"] = True
        try:
            sent = await self.bot.send_message(
                chat_id=message.chat_id,
                text=message.text,
                parse_mode=ParseMode.HTML,
                reply_markup=_markup(message.buttons),
                disable_notification=message.disable_notification,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
                **extra,
            )
        except RetryAfter as exc:
            raise RetryLater(_seconds(exc)) from exc
        except Forbidden as exc:  # 403: blocked by the user, deactivated, kicked
            raise ChatUnreachable(exc.message) from exc
        except BadRequest as exc:
            if any(marker in exc.message.lower() for marker in _GONE):
                raise ChatUnreachable(exc.message) from exc
            raise MessageRejected(exc.message) from exc
        except TimedOut as exc:
            raise TransientError(
                f"timed out: {exc.message}", maybe_delivered=isinstance(exc, TimedOutAfterSending)
            ) from exc
        except NetworkError as exc:  # 5xx and connection failures (BadRequest is caught above)
            raise TransientError(exc.message) from exc
        return sent.message_id


def sender_bot(settings: Settings, *, pool_size: int = 32, timeout: float = 10.0) -> Bot:
    """A Bot for the outbox sender, pointed at settings.telegram_api_url."""
    root = settings.telegram_api_url.rstrip("/")
    request = JsonRequest(
        connection_pool_size=pool_size, read_timeout=timeout, write_timeout=timeout,
        connect_timeout=timeout, pool_timeout=timeout,
    )
    return Bot(
        settings.telegram_token, base_url=f"{root}/bot", base_file_url=f"{root}/file/bot",
        request=request,
    )


def build_sender(deps: Deps, bot: Bot, **options: Any) -> OutboxSender:
    """The one outbox sender for this process, sending through `bot`."""
    return OutboxSender(deps, TelegramSender(bot), **options)


class BotApiSender:
    """`SendMessage` straight over HTTP with aiohttp: the same request and the same answers as
    TelegramSender, for much less CPU a message (no PTB objects built from the answer, and
    aiohttp's connection pool instead of httpcore's, which polls every pooled socket on each
    request). The outbox sender of `debtbot run` uses it: at paid-broadcast rates the CPU a
    message costs is what bounds the rate.

        async with BotApiSender(settings) as send:
            message_id = await send(OutgoingMessage(chat_id=42, text="<b>Hello</b>"))
    """

    def __init__(self, settings: Settings, *, pool_size: int = 64, timeout: float = 10.0) -> None:
        root = settings.telegram_api_url.rstrip("/")
        self._url = f"{root}/bot{settings.telegram_token}/sendMessage"
        self._pool_size = pool_size
        self._timeout = timeout
        self._session: Any = None

    async def __aenter__(self) -> BotApiSender:
        import aiohttp

        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self._pool_size),
            timeout=aiohttp.ClientTimeout(total=None, connect=self._timeout,
                                          sock_connect=self._timeout, sock_read=self._timeout),
            json_serialize=lambda value: json.dumps(value, ensure_ascii=False),
        )
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __call__(self, message: OutgoingMessage) -> int:
        import aiohttp

        body: dict[str, Any] = {
            "chat_id": message.chat_id,
            "text": message.text,
            "parse_mode": "HTML",
            "link_preview_options": {"is_disabled": True},
        }
        if message.buttons:
            body["reply_markup"] = {"inline_keyboard": message.buttons}
        if message.disable_notification:
            body["disable_notification"] = True
        if message.paid_broadcast:
            body["allow_paid_broadcast"] = True
        try:
            async with self._session.post(self._url, json=body) as response:
                status = response.status
                answer = await response.json(content_type=None)
        except (aiohttp.ConnectionTimeoutError, aiohttp.ClientConnectorError) as exc:
            # Never connected: the request did not go out.
            raise TransientError(f"connection failed: {type(exc).__name__}") from exc
        except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
            # The request went out and no (whole) answer came back: Telegram may have sent it.
            raise TransientError(f"no answer: {type(exc).__name__}",
                                 maybe_delivered=True) from exc
        if status == 200 and isinstance(answer, dict) and answer.get("ok"):
            return int(answer["result"]["message_id"])
        description = str((answer or {}).get("description") or f"HTTP {status}")
        if status == 429:
            retry = ((answer or {}).get("parameters") or {}).get("retry_after", 1)
            raise RetryLater(float(retry))
        if status == 403:
            raise ChatUnreachable(description)
        if status >= 500 or status in (408, 409):
            raise TransientError(description)
        if any(marker in description.lower() for marker in _GONE):
            raise ChatUnreachable(description)
        raise MessageRejected(description)
