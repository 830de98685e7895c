"""Replies on the fleet's pace, and never lost.

A citizen's reply goes straight out from the instance that received the update (it never
waits behind the outbox), but it counts against the same budget as everything else
(services.fleet: shared by every instance on PostgreSQL) and keeps one message a second per
chat. What Telegram answers is handled as the outbox sender handles it:

- 429: the whole budget pauses for `retry_after`, then the same request goes again (up to
  MAX_FLOOD_WAITS times);
- 5xx, timeouts, network failures: tried again with the outbox's backoff, up to
  DEBTBOT_SEND_MAX_ATTEMPTS in all;
- after the last try a message (sendMessage; an edit becomes a new message) goes to the
  outbox at the highest priority (services.replies) and the handler gets `ReplyQueued`.

A timeout after the request reached Telegram may mean it was delivered: trying again may show
the message twice; each such case is counted (`debtbot_messages_possible_duplicates_total`).
Everything else (getUpdates, setMyCommands, ...) passes straight through.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from telegram.error import NetworkError, TelegramError, TimedOut
from telegram.request import BaseRequest, RequestData

from debtbot.services import fleet
from debtbot.services.deliver_outbox import Backoff
from debtbot.services.deps import Deps
from debtbot.services.fleet import Budget
from debtbot.services.replies import queue_reply
from debtbot.telegram.request import JsonRequest, TimedOutAfterSending

log = logging.getLogger(__name__)

# Methods Telegram's message limits count (as the local Bot API server counts them).
COUNTED = frozenset({"sendMessage", "sendPhoto", "sendDocument"})
# Methods whose failures are retried: what a citizen sees in the chat.
RETRIED = COUNTED | {"editMessageText", "editMessageReplyMarkup", "answerCallbackQuery",
                     "deleteMessage", "sendChatAction"}
# What goes to the outbox after the last try (an edit is sent as a new message).
QUEUED = frozenset({"sendMessage", "editMessageText"})
MAX_FLOOD_WAITS = 5


class ReplyQueued(TelegramError):
    """The reply could not go straight out and waits in the outbox (sent first from there)."""


@dataclass(slots=True)
class ReplyPace:
    """What the replies of this process share with its outbox sender and the fleet."""

    deps: Deps
    budget: Budget
    backoff: Backoff
    max_attempts: int
    chat_interval: float

    @classmethod
    def for_deps(cls, deps: Deps, budget: Budget) -> ReplyPace:
        settings = deps.settings
        return cls(
            deps=deps,
            budget=budget,
            backoff=Backoff(initial=settings.send_backoff_initial_seconds,
                            maximum=settings.send_backoff_max_seconds),
            max_attempts=settings.send_max_attempts,
            chat_interval=settings.send_rate_per_chat_seconds,
        )


class _Failure(Exception):
    def __init__(self, answer: tuple[int, bytes] | None, error: Exception | None) -> None:
        super().__init__()
        self.answer = answer
        self.error = error


class PacedRequest(JsonRequest):
    """JsonRequest for the bot that answers citizens: paced, retried, never lost."""

    def __init__(self, pace: ReplyPace, **options: Any) -> None:
        super().__init__(**options)
        self.pace = pace
        self._chat_next: dict[int, float] = {}
        self._chat_locks: dict[int, asyncio.Lock] = {}
        self._chat_users: dict[int, int] = {}

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        name = url.rsplit("/", 1)[-1]
        timeouts = {"read_timeout": read_timeout, "write_timeout": write_timeout,
                    "connect_timeout": connect_timeout, "pool_timeout": pool_timeout}
        if name not in RETRIED:
            return await super().do_request(url, method, request_data, **timeouts)
        params = request_data.parameters if request_data is not None else {}
        chat_id = _chat_id(params.get("chat_id"))
        if name in COUNTED and chat_id is not None:
            # One message at a time per chat; the lock lives while someone uses it.
            lock = self._chat_locks.setdefault(chat_id, asyncio.Lock())
            self._chat_users[chat_id] = self._chat_users.get(chat_id, 0) + 1
            try:
                async with lock:
                    return await self._tries(name, chat_id, url, method, request_data, timeouts)
            finally:
                users = self._chat_users.pop(chat_id) - 1
                if users:
                    self._chat_users[chat_id] = users
                else:
                    del self._chat_locks[chat_id]
        return await self._tries(name, chat_id, url, method, request_data, timeouts)

    async def _tries(
        self,
        name: str,
        chat_id: int | None,
        url: str,
        method: str,
        request_data: RequestData | None,
        timeouts: dict[str, Any],
    ) -> tuple[int, bytes]:
        pace = self.pace
        counted = name in COUNTED
        attempts, floods = 1, 0
        while True:
            if counted:
                await self._wait_for_slot(chat_id)
            try:
                answer = await self._once(url, method, request_data, timeouts, counted=counted)
            except _Failure as failure:
                if attempts >= pace.max_attempts:
                    return await self._last_try(name, chat_id, request_data, failure)
                await fleet.count(pace.deps, fleet.REPLY_RETRIED + "transient")
                await asyncio.sleep(pace.backoff.delay(attempts))
                attempts += 1
                continue
            status, body = answer
            if status != 429:
                return answer
            wait = _retry_after(body)
            floods += 1
            await pace.budget.pause(wait)
            if chat_id is not None:
                self._chat_next[chat_id] = time.monotonic() + wait
            if floods > MAX_FLOOD_WAITS:
                return await self._last_try(name, chat_id, request_data, _Failure(answer, None))
            await fleet.count(pace.deps, fleet.REPLY_RETRIED + "flood")
            log.info("reply to chat %s: 429, again in %.1f s", chat_id, wait)

    async def _once(
        self,
        url: str,
        method: str,
        request_data: RequestData | None,
        timeouts: dict[str, Any],
        *,
        counted: bool,
    ) -> tuple[int, bytes]:
        try:
            status, body = await JsonRequest.do_request(self, url, method, request_data,
                                                        **timeouts)
        except TimedOut as exc:
            if isinstance(exc, TimedOutAfterSending) and counted:
                log.warning("reply timed out after reaching Telegram: it may show twice")
                await fleet.count(self.pace.deps, fleet.POSSIBLE_DUPLICATE + "reply")
            raise _Failure(None, exc) from exc
        except NetworkError as exc:
            raise _Failure(None, exc) from exc
        if status >= 500:
            raise _Failure((status, body), None)
        return status, body

    async def _wait_for_slot(self, chat_id: int | None) -> None:
        if chat_id is not None:
            wait = self._chat_next.get(chat_id, 0.0) - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        wait = await self.pace.budget.reserve(1)
        if wait > 0:
            await asyncio.sleep(wait)
        if chat_id is not None:
            now = time.monotonic()
            self._chat_next[chat_id] = now + self.pace.chat_interval
            if len(self._chat_next) > 10_000:
                self._chat_next = {c: t for c, t in self._chat_next.items() if t > now}

    async def _last_try(
        self,
        name: str,
        chat_id: int | None,
        request_data: RequestData | None,
        failure: _Failure,
    ) -> tuple[int, bytes]:
        params = request_data.parameters if request_data is not None else {}
        payload = _payload(params) if name in QUEUED and chat_id is not None else None
        if payload is None:
            if failure.answer is not None:
                return failure.answer  # PTB raises what it says, as without retries
            assert failure.error is not None
            raise failure.error
        assert chat_id is not None
        await queue_reply(self.pace.deps, chat_id=chat_id, payload=payload)
        raise ReplyQueued("the reply waits in the outbox")


def _chat_id(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _retry_after(body: bytes) -> float:
    try:
        parameters = json.loads(body).get("parameters") or {}
        return max(1.0, float(parameters.get("retry_after", 1)))
    except (ValueError, AttributeError, TypeError):
        return 1.0


def _payload(params: dict[str, Any]) -> dict[str, Any] | None:
    """A Bot API message (its request parameters) as an outbox payload: HTML text and inline
    buttons. A reply keyboard (the contact button) cannot wait in the outbox; it is left
    off, and the citizen gets it again from the next step."""
    text = params.get("text")
    if not isinstance(text, str) or not text.strip():
        return None
    if str(params.get("parse_mode") or "").lower() != "html":
        text = html.escape(text)
    buttons: list[list[dict[str, str]]] = []
    markup = params.get("reply_markup")
    if isinstance(markup, str):
        try:
            markup = json.loads(markup)
        except ValueError:
            markup = None
    if isinstance(markup, dict):
        for row in markup.get("inline_keyboard") or []:
            kept = [
                {"text": b["text"], key: b[key]}
                for b in row
                for key in ("url", "callback_data")
                if isinstance(b, dict) and key in b and "text" in b
            ]
            if kept:
                buttons.append(kept)
    return {"text": text, "buttons": buttons,
            "disable_notification": bool(params.get("disable_notification"))}
