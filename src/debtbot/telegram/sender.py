"""The outbox's Telegram port: one `sendMessage` with python-telegram-bot, and the errors
Telegram answers translated into the delivery service's own (debtbot.services.deliver_outbox
decides what to retry; this module only says what happened).

Give the sender a Bot whose HTTP pool allows a few requests at once (PTB's plain `Bot` has a
pool of one, which caps the rate at one round trip at a time): `sender_bot(settings)`.
"""

from __future__ import annotations

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
