"""A local server speaking the Telegram Bot API, for tests, `debtbot shell` and benchmarks.

The real python-telegram-bot client talks to it over real HTTP, exactly as it talks to
api.telegram.org: nothing inside PTB is patched. The server records every call, keeps each
chat's "screen" (the bot's messages by message_id; edits update them in place), plays the
users (messages, commands, button presses, shared contacts, blocking the bot), delivers
updates by long polling (`getUpdates`) or by webhook, and can enforce Telegram's rate limits
and inject faults.

Start it and point the bot at it::

    from debtbot.devtools.botapi import FakeBotApi

    async with FakeBotApi() as api:            # 127.0.0.1, ephemeral port
        api.url                                # "http://127.0.0.1:41234" = DEBTBOT_TELEGRAM_API_URL
        application = (
            ApplicationBuilder().token(api.token)
            .base_url(f"{api.url}/bot").base_file_url(f"{api.url}/file/bot").build()
        )
        ...  # polling: application.updater.start_polling(poll_interval=0, timeout=1)
             # webhook: await application.bot.set_webhook(url, secret_token=secret)

In tests use the fixtures of tests/telegram/conftest.py: `botapi` (this server, started),
`app_builder()` (an ApplicationBuilder pointed at it), `polling(application)` and
`webhook(application)` (async context managers running the application in either mode;
`debtbot.devtools.ptb.polling` is the same outside pytest). A conversation::

    await api.user_sends(42, "/start", language_code="el")    # a private chat with user 42
    [reply] = await api.wait_for_messages(42)                 # the bot's answer(s)
    assert "Καλώς" in reply.text                              # text as the user sees it
    await api.user_presses_button(42, "Pay")                  # or user_presses(42, id, data)
    [edited] = await api.wait_for_messages(42)                # edits count as new messages
    await api.user_shares_contact(42, "+35799123456")          # contact.user_id == 42
    url = await api.user_opens_login_url(42, message_id, "Sign in")  # a login_url button:
                                                              # the URL Telegram opens, signed
    api.screen(42)                                            # what the chat shows now

`wait_for_messages(chat_id, count)` returns every bot message sent or edited in that chat
since the user's last action (a snapshot per send/edit), waiting until there are `count`;
it raises TimeoutError, naming what did arrive, when they do not come in time.
`wait_for_calls(method, predicate, count)` waits for recorded API calls; `wait_for(predicate)`
waits until any condition on the server's state holds. `api.calls` lists every call
(method, parsed params, time, HTTP status); `api.counters` counts them ("calls", "429",
"403", "400", "5xx", "stalls", "webhook_deliveries", "webhook_failures", ...).

Limits and faults::

    api.enforce_limits(per_second=30, per_chat_per_second=1)  # 429 + retry_after beyond them
    assert api.counters["429"] == 0
    api.inject_server_error(count=2, status=502)   # the next two bot calls answer 502
    api.inject_stall(count=1, seconds=3)           # the next call answers after 3 s
    api.inject_flood(count=1, retry_after=2, chat_id=42)   # 429 "retry after 2", whatever the rate
    api.inject_timeout_after_delivery(count=1, seconds=10)  # delivered, answered 10 s later
    api.inject_blocked(chat_id=42)                 # 403 "Forbidden: bot was blocked by the user"
    api.inject_chat_not_found(chat_id=42)          # 400 "Bad Request: chat not found"
    await api.user_blocks_bot(42)                  # my_chat_member member -> kicked, then 403s

Limits count the send* methods (RateLimits.methods); messages with allow_paid_broadcast
count on their own, up to RateLimits.paid_per_second (1,000, Telegram's paid ceiling). Faults hit the chat methods (send*,
edit*, delete*, answerCallbackQuery, sendChatAction) unless `methods=` names others;
`methods="*"` includes getUpdates and the rest. `count=None` keeps a fault until
`clear_faults()`. A user who blocked the bot and writes again unblocks it first (another
my_chat_member update), as Telegram's "Restart" does. Sending to a chat no user has written
from creates it (pass `known_chats_only=True` for 400 "chat not found" instead).
Other user input: `user_sends_update(chat_id, kind)` with kind sticker, photo, voice, audio,
video, document, location or dice; `user_edits(chat_id, message_id, text)`;
`user_starts(chat_id, payload)`; `push_update(raw_dict)` for anything else.

The server checks what Telegram checks and a bot can get wrong: HTML parse_mode (unknown or
unbalanced tags answer 400 "can't parse entities"), message length, empty text, callback_data
of more than 64 bytes, button URLs, "message is not modified", unknown messages and callback
queries, webhook secret tokens. Only the methods listed in `METHODS` exist; others answer
404 as Telegram does.

`debtbot shell` uses the same object: `api.add_listener(callback)` is told about every message
the bot sends, edits or deletes, `api.render_screen(chat_id)` draws the chat as text.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import html
import itertools
import json
import logging
import math
import re
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlencode

from aiohttp import ClientError, ClientSession, ClientTimeout, web

__all__ = [
    "DEFAULT_TOKEN",
    "METHODS",
    "BotMessage",
    "Call",
    "FakeBotApi",
    "RateLimits",
    "login_data_hash",
]

log = logging.getLogger(__name__)

DEFAULT_TOKEN = "123456789:TEST-fake-bot-api-token"  # noqa: S105 (not a secret)

METHODS = (
    "getMe",
    "getUpdates",
    "setWebhook",
    "deleteWebhook",
    "getWebhookInfo",
    "sendMessage",
    "sendPhoto",
    "sendDocument",
    "editMessageText",
    "editMessageReplyMarkup",
    "deleteMessage",
    "deleteMessages",
    "answerCallbackQuery",
    "setMyCommands",
    "getMyCommands",
    "deleteMyCommands",
    "setChatMenuButton",
    "getChatMenuButton",
    "sendChatAction",
    "getChat",
    "close",
    "logOut",
)
_CANONICAL = {name.lower(): name for name in METHODS}

# Methods that send a message: Telegram's rate limits count these.
SENDING = frozenset({"sendMessage", "sendPhoto", "sendDocument"})
# Methods acting on a chat the user can block; faults target these unless told otherwise.
CHAT_METHODS = frozenset(
    SENDING
    | {
        "editMessageText",
        "editMessageReplyMarkup",
        "deleteMessage",
        "deleteMessages",
        "answerCallbackQuery",
        "sendChatAction",
    }
)
_BLOCKABLE = frozenset(SENDING | {"editMessageText", "editMessageReplyMarkup", "sendChatAction"})

# Parameters whose value is a plain string; PTB JSON-encodes every other non-string value.
_STRING_PARAMS = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "url",
        "secret_token",
        "callback_query_id",
        "inline_message_id",
        "action",
        "language_code",
        "ip_address",
        "emoji",
        "title",
        "description",
        "short_description",
        "name",
        "business_connection_id",
        "message_effect_id",
        "photo",
        "document",
        "phone_number",
        "first_name",
        "last_name",
        "address",
        "question",
        "payload",
        "currency",
    }
)

_DEFAULT_UPDATE_TYPES = None  # all but the three below, as Telegram
_OPT_IN_UPDATE_TYPES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})

_HTML_TAGS = frozenset(
    {
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "a",
        "code",
        "pre",
        "tg-spoiler",
        "span",
        "blockquote",
        "tg-emoji",
    }
)
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[^<>]*)?)\s*>")
_SECRET_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_COMMAND = re.compile(r"^[a-z0-9_]{1,32}$")
_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)


class ApiError(Exception):
    """A Telegram error answer: HTTP status, description, optional parameters."""

    def __init__(self, status: int, description: str, parameters: dict | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters


def _bad_request(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


@dataclass(frozen=True, slots=True)
class Call:
    """One request the bot made, as the server understood it."""

    index: int
    method: str  # canonical spelling, e.g. "sendMessage" (as requested if unknown)
    params: dict[str, Any]
    at: float  # time.monotonic() when the answer was sent
    status: int  # HTTP status answered
    chat_id: int | None = None
    description: str | None = None  # the error description, when status != 200
    result: Any = None

    @property
    def ok(self) -> bool:
        return self.status == 200


@dataclass(slots=True)
class BotMessage:
    """A message the bot sent, as the chat shows it (a snapshot when returned by waits)."""

    chat_id: int
    message_id: int
    text: str  # what the user reads: HTML tags removed, entities unescaped
    raw_text: str  # as sent, with markup
    parse_mode: str | None
    buttons: list[list[dict[str, Any]]]  # the inline keyboard rows, as sent
    date: int
    kind: str = "text"  # text | photo | document
    edit_date: int | None = None
    edits: int = 0
    deleted: bool = False
    disable_notification: bool = False
    reply_keyboard: list[list[dict[str, Any]]] | None = None  # a keyboard sent with it
    file: dict[str, Any] | None = None
    params: dict[str, Any] = field(default_factory=dict)  # the call that made it (or edited)

    @property
    def edited(self) -> bool:
        return self.edits > 0

    @property
    def button_texts(self) -> list[str]:
        return [button.get("text", "") for row in self.buttons for button in row]

    def button(self, text: str) -> dict[str, Any]:
        """The inline button labelled `text` (KeyError if there is none)."""
        for row in self.buttons:
            for button in row:
                if button.get("text") == text:
                    return button
        raise KeyError(f"no button {text!r} on message {self.message_id}: {self.button_texts}")

    def to_telegram(self, bot: dict[str, Any], chat: dict[str, Any]) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": self.message_id,
            "from": bot,
            "chat": chat,
            "date": self.date,
        }
        if self.kind == "text":
            message["text"] = self.text
        else:
            if self.text:
                message["caption"] = self.text
            message.update(_media_object(self.kind, self.message_id, self.file))
        if self.buttons:
            message["reply_markup"] = {"inline_keyboard": self.buttons}
        if self.edit_date is not None:
            message["edit_date"] = self.edit_date
        return message


@dataclass(slots=True)
class RateLimits:
    """Telegram's limits: about 30 messages a second overall, one a second per chat."""

    per_second: float = 30.0
    per_chat_per_second: float = 1.0
    per_chat_burst: int = 1
    tolerance: float = 0.05  # seconds of timer jitter forgiven
    methods: frozenset[str] = SENDING
    # Messages sent with allow_paid_broadcast: Telegram lets them through up to 1,000 a second
    # (charging for those beyond the free rate); they are counted on their own.
    paid_per_second: float = 1000.0


@dataclass(slots=True)
class _Fault:
    kind: str  # blocked | chat_not_found | server_error | stall | flood | late_answer
    remaining: int | None  # None: until cleared
    chat_id: int | None
    methods: frozenset[str] | None  # None: every method
    status: int = 500
    seconds: float = 0.0


@dataclass(slots=True)
class _Chat:
    id: int
    user: dict[str, Any]
    next_message_id: int = 1
    messages: dict[int, BotMessage] = field(default_factory=dict)
    user_messages: dict[int, dict[str, Any]] = field(default_factory=dict)
    events: list[BotMessage] = field(default_factory=list)
    cursor: int = 0
    blocked: bool = False
    reply_keyboard: list[list[dict[str, Any]]] | None = None
    actions: list[str] = field(default_factory=list)
    counters: Counter[str] = field(default_factory=Counter)

    @property
    def telegram(self) -> dict[str, Any]:
        chat = {"id": self.id, "type": "private", "first_name": self.user["first_name"]}
        for key in ("last_name", "username"):
            if self.user.get(key):
                chat[key] = self.user[key]
        return chat


def login_data_hash(fields: dict[str, str], token: str) -> str:
    """Telegram's signature of Login Widget (and login_url) data: hex HMAC-SHA256 of the
    fields but `hash`, sorted, `key=value` joined by line feeds, under SHA256(bot token)."""
    check = "\n".join(f"{key}={fields[key]}" for key in sorted(fields) if key != "hash")
    secret = hashlib.sha256(token.encode()).digest()
    return hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()


def _media_object(kind: str, message_id: int, file: dict[str, Any] | None) -> dict[str, Any]:
    file_id = f"{kind}-{message_id}"
    size = (file or {}).get("size", 1024)
    if kind == "photo":
        return {
            "photo": [
                {
                    "file_id": file_id,
                    "file_unique_id": f"u{file_id}",
                    "width": 320,
                    "height": 240,
                    "file_size": size,
                }
            ]
        }
    document = {"file_id": file_id, "file_unique_id": f"u{file_id}", "file_size": size}
    if file and file.get("filename"):
        document["file_name"] = file["filename"]
    if file and file.get("content_type"):
        document["mime_type"] = file["content_type"]
    return {kind: document}


def _byte_offset(text: str, at: int) -> int:
    # Telegram counts in UTF-8 bytes; worked out only for an error (it costs a copy).
    return len(text[:at].encode())


def parse_html(text: str) -> str:
    """The text a user reads from Telegram HTML; ApiError 400 where Telegram refuses it."""
    stack: list[str] = []
    out: list[str] = []
    pos = 0
    while True:
        lt = text.find("<", pos)
        if lt < 0:
            out.append(text[pos:])
            break
        out.append(text[pos:lt])
        match = _TAG.match(text, lt)
        if not match:
            raise _bad_request(
                "can't parse entities: Unexpected end of name token at byte offset "
                f"{_byte_offset(text, lt)}"
            )
        closing, name, attributes = match.group(1), match.group(2).lower(), match.group(3)
        if name not in _HTML_TAGS:
            kind = "end" if closing else "start"
            raise _bad_request(
                f'can\'t parse entities: Unsupported {kind} tag "{name}" at byte offset '
                f"{_byte_offset(text, lt)}"
            )
        if closing:
            if not stack or stack[-1] != name:
                raise _bad_request(
                    "can't parse entities: Unexpected end tag at byte offset "
                    f"{_byte_offset(text, lt)}"
                )
            stack.pop()
        else:
            if name == "a" and "href=" not in attributes:
                raise _bad_request(
                    "can't parse entities: Can't find href attribute at byte offset "
                    f"{_byte_offset(text, lt)}"
                )
            stack.append(name)
        pos = match.end()
    if stack:
        raise _bad_request(
            f"can't parse entities: Can't find end tag corresponding to start tag \"{stack[-1]}\""
        )
    return html.unescape("".join(out))


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return int(value)
    return None


def _method_set(
    methods: Iterable[str] | str | None, default: frozenset[str]
) -> frozenset[str] | None:
    if methods is None:
        return default
    if methods == "*":
        return None
    if isinstance(methods, str):
        methods = [methods]
    return frozenset(_CANONICAL.get(name.lower(), name) for name in methods)


class FakeBotApi:
    """The Bot API on 127.0.0.1 for one bot. Use `async with FakeBotApi() as api:`."""

    def __init__(
        self,
        *,
        token: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        bot_first_name: str = "Debtbot",
        bot_username: str = "debtbot_test_bot",
        limits: RateLimits | None = None,
        known_chats_only: bool = False,
        webhook_retries: int = 3,
        webhook_retry_delay: float = 0.05,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`token`: accept only this token (401 otherwise); None accepts any.

        `known_chats_only`: sending to a chat no user ever wrote from answers 400 "chat not
        found" (by default such a private chat is created on the fly, as if the user had
        started the bot earlier).
        """
        self.token = token or DEFAULT_TOKEN
        self._only_token = token
        self._host = host
        self._port = port
        bot_id = _as_int(self.token.split(":", 1)[0]) or 123456789
        self.bot: dict[str, Any] = {
            "id": bot_id,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
            "can_join_groups": False,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
        self.limits = limits
        self.known_chats_only = known_chats_only
        self.webhook_retries = webhook_retries
        self.webhook_retry_delay = webhook_retry_delay
        self._clock = clock

        self.calls: list[Call] = []
        self.counters: Counter[str] = Counter()
        self.callback_answers: dict[str, dict[str, Any]] = {}
        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.menu_buttons: dict[int | None, dict[str, Any]] = {}

        self._chats: dict[int, _Chat] = {}
        self._faults: list[_Fault] = []
        self._sent_at: deque[float] = deque()
        self._paid_sent_at: deque[float] = deque()
        self._chat_sent_at: dict[int, deque[float]] = {}
        self._update_ids = itertools.count(1)
        self._query_ids = itertools.count(1)
        self._pending: dict[int, dict[str, Any]] = {}
        self._queries: dict[str, tuple[int, bool]] = {}  # id -> (chat_id, answered)
        self._allowed_updates: frozenset[str] | None = _DEFAULT_UPDATE_TYPES
        self._poll_generation = 0
        self._webhook: dict[str, Any] | None = None
        self._webhook_error: tuple[int, str] | None = None
        self._webhook_queues: dict[int, deque[int]] = {}
        self._webhook_tasks: set[asyncio.Task[None]] = set()
        self._webhook_gate: asyncio.Semaphore | None = None
        self._listeners: list[Callable[[str, BotMessage], None]] = []
        self._tick = asyncio.Event()
        self._closing = False
        self._closed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._session: ClientSession | None = None
        self.url = ""

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> FakeBotApi:
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_route("*", "/file/bot{token}/{path:.*}", self._file)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://{self._host}:{port}"
        self._session = ClientSession(timeout=ClientTimeout(total=30))
        self._closing = False
        self._closed.clear()
        return self

    async def stop(self) -> None:
        self._closing = True
        self._closed.set()
        self._bump()
        for task in list(self._webhook_tasks):
            task.cancel()
        for task in list(self._webhook_tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeBotApi:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """What `ApplicationBuilder.base_url` takes."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self.url}/file/bot"

    # ------------------------------------------------------------------ limits and faults

    def enforce_limits(
        self,
        *,
        per_second: float = 30.0,
        per_chat_per_second: float = 1.0,
        per_chat_burst: int = 1,
        tolerance: float = 0.05,
        paid_per_second: float = 1000.0,
    ) -> RateLimits:
        """Answer 429 with retry_after beyond these rates (counted in counters["429"])."""
        self.limits = RateLimits(per_second, per_chat_per_second, per_chat_burst, tolerance,
                                 paid_per_second=paid_per_second)
        return self.limits

    def inject_server_error(
        self,
        count: int | None = 1,
        *,
        status: int = 500,
        chat_id: int | None = None,
        methods: Iterable[str] | str | None = None,
    ) -> None:
        """The next `count` calls answer `status` (5xx). `methods="*"` includes getUpdates."""
        self._faults.append(
            _Fault("server_error", count, chat_id, _method_set(methods, CHAT_METHODS), status)
        )

    def inject_stall(
        self,
        count: int | None = 1,
        *,
        seconds: float = 5.0,
        chat_id: int | None = None,
        methods: Iterable[str] | str | None = None,
    ) -> None:
        """The next `count` calls wait `seconds` before they are answered (normally)."""
        self._faults.append(
            _Fault("stall", count, chat_id, _method_set(methods, CHAT_METHODS), seconds=seconds)
        )

    def inject_blocked(
        self,
        chat_id: int | None = None,
        *,
        count: int | None = None,
        methods: Iterable[str] | str | None = None,
    ) -> None:
        """Calls to the chat (every chat if None) answer 403 "bot was blocked by the user"."""
        self._faults.append(
            _Fault("blocked", count, chat_id, _method_set(methods, CHAT_METHODS), 403)
        )

    def inject_chat_not_found(
        self,
        chat_id: int | None = None,
        *,
        count: int | None = None,
        methods: Iterable[str] | str | None = None,
    ) -> None:
        """Calls to the chat (every chat if None) answer 400 "Bad Request: chat not found"."""
        self._faults.append(
            _Fault("chat_not_found", count, chat_id, _method_set(methods, CHAT_METHODS), 400)
        )

    def inject_flood(
        self,
        count: int | None = 1,
        *,
        retry_after: int = 1,
        chat_id: int | None = None,
        methods: Iterable[str] | str | None = None,
    ) -> None:
        """The next `count` calls answer 429 "Too Many Requests: retry after N" (whatever the
        rate), e.g. on a reply: `inject_flood(chat_id=42, methods="sendMessage")`."""
        self._faults.append(
            _Fault("flood", count, chat_id, _method_set(methods, CHAT_METHODS), 429,
                   seconds=float(retry_after))
        )

    def inject_timeout_after_delivery(
        self,
        count: int | None = 1,
        *,
        seconds: float = 10.0,
        chat_id: int | None = None,
        methods: Iterable[str] | str | None = None,
    ) -> None:
        """The next `count` calls are carried out (the message is delivered) and answered
        only after `seconds`: a client with a shorter read timeout gives up on a message that
        the user has already got (counters["late_answers"])."""
        self._faults.append(
            _Fault("late_answer", count, chat_id, _method_set(methods, CHAT_METHODS),
                   seconds=seconds)
        )

    def clear_faults(self) -> None:
        self._faults.clear()

    def _take_fault(self, method: str, chat_id: int | None) -> _Fault | None:
        for fault in self._faults:
            if fault.methods is not None and method not in fault.methods:
                continue
            if fault.chat_id is not None and fault.chat_id != chat_id:
                continue
            if fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
            return fault
        return None

    def _check_limits(self, method: str, chat_id: int | None, *, paid: bool = False) -> None:
        limits = self.limits
        if limits is None or method not in limits.methods:
            return
        now = time.monotonic()
        window = max(1.0 - limits.tolerance, 0.9)
        sent_overall = self._paid_sent_at if paid else self._sent_at
        allowed = limits.paid_per_second if paid else limits.per_second
        while sent_overall and now - sent_overall[0] >= window:
            sent_overall.popleft()
        if len(sent_overall) >= allowed:
            self._too_many(1.0 - (now - sent_overall[0]), chat_id)
        if chat_id is not None:
            sent_at = self._chat_sent_at.setdefault(chat_id, deque())
            full = limits.per_chat_burst / limits.per_chat_per_second
            chat_window = max(full - limits.tolerance, full * 0.9)
            while sent_at and now - sent_at[0] >= chat_window:
                sent_at.popleft()
            if len(sent_at) >= limits.per_chat_burst:
                self._too_many(chat_window - (now - sent_at[0]), chat_id)
            sent_at.append(now)
        sent_overall.append(now)

    def _too_many(self, wait: float, chat_id: int | None) -> None:
        retry_after = max(1, math.ceil(wait))
        raise ApiError(
            429,
            f"Too Many Requests: retry after {retry_after}",
            {"retry_after": retry_after},
        )

    # ------------------------------------------------------------------ HTTP

    async def _file(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
        )

    async def _read_params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            body = await request.json()
            if isinstance(body, dict):
                params.update(body)
            return params
        if request.can_read_body:
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    content = value.file.read()
                    params[key] = {
                        "filename": value.filename,
                        "content_type": value.content_type,
                        "size": len(content),
                        "content": content,  # what tests read back (an .ics, a photo)
                    }
                else:
                    params[key] = value
        for key, value in list(params.items()):
            if isinstance(value, str) and key not in _STRING_PARAMS:
                with contextlib.suppress(ValueError):
                    params[key] = json.loads(value)
        return params

    async def _handle(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        requested = request.match_info["method"]
        method = _CANONICAL.get(requested.lower(), requested)
        try:
            params = await self._read_params(request)
        except ValueError:
            params = {}
            return self._answer(method, params, None, ApiError(400, "Bad Request: invalid JSON"))
        chat_id = _as_int(params.get("chat_id"))
        if chat_id is None and method == "answerCallbackQuery":
            chat_id = self._queries.get(str(params.get("callback_query_id")), (None, False))[0]
        if self._only_token is not None and token != self._only_token:
            return self._answer(method, params, chat_id, ApiError(401, "Unauthorized"))
        if requested.lower() not in _CANONICAL:
            return self._answer(method, params, chat_id, ApiError(404, "Not Found"))
        try:
            fault = self._take_fault(method, chat_id)
            if fault is not None and fault.kind == "stall":
                self.counters["stalls"] += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closed.wait(), fault.seconds)
            elif fault is not None and fault.kind == "server_error":
                raise ApiError(fault.status, "Internal Server Error")
            elif fault is not None and fault.kind == "blocked":
                raise ApiError(403, "Forbidden: bot was blocked by the user")
            elif fault is not None and fault.kind == "chat_not_found":
                raise _bad_request("chat not found")
            elif fault is not None and fault.kind == "flood":
                self._too_many(fault.seconds, chat_id)
            chat = self._chats.get(chat_id) if chat_id is not None else None
            if chat is not None and chat.blocked and method in _BLOCKABLE:
                raise ApiError(403, "Forbidden: bot was blocked by the user")
            self._check_limits(method, chat_id, paid=bool(params.get("allow_paid_broadcast")))
            handler = getattr(self, f"_api_{method}")
            result = await handler(params)
            if fault is not None and fault.kind == "late_answer":
                self.counters["late_answers"] += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closed.wait(), fault.seconds)
        except ApiError as error:
            # The client may have given up meanwhile (PTB cancels its long poll on stop):
            # nobody reads that answer, so it is not counted as an error.
            gone = request.transport is None or request.transport.is_closing()
            return self._answer(method, params, chat_id, error, gone=gone)
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            # Telegram answers malformed parameters with 400, never 500.
            error = _bad_request(f"{type(exc).__name__}: {exc}")
            return self._answer(method, params, chat_id, error)
        return self._answer(method, params, chat_id, None, result)

    def _answer(
        self,
        method: str,
        params: dict[str, Any],
        chat_id: int | None,
        error: ApiError | None,
        result: Any = None,
        *,
        gone: bool = False,
    ) -> web.Response:
        status = error.status if error else 200
        self.calls.append(
            Call(
                index=len(self.calls),
                method=method,
                params=params,
                at=time.monotonic(),
                status=status,
                chat_id=chat_id,
                description=error.description if error else None,
                result=result,
            )
        )
        self.counters["calls"] += 1
        self.counters[f"calls:{method}"] += 1
        chat = self._chats.get(chat_id) if chat_id is not None else None
        if error is not None and gone:
            self.counters["abandoned"] += 1
        elif error is not None:
            bucket = "5xx" if status >= 500 else str(status)
            self.counters[bucket] += 1
            self.counters["errors"] += 1
            if chat is not None:
                chat.counters[bucket] += 1
        if chat is not None:
            chat.counters["calls"] += 1
        self._bump()
        if error is not None:
            body: dict[str, Any] = {
                "ok": False,
                "error_code": status,
                "description": error.description,
            }
            if error.parameters:
                body["parameters"] = error.parameters
            return web.json_response(body, status=status)
        return web.json_response({"ok": True, "result": result})

    # ------------------------------------------------------------------ methods

    async def _api_getMe(self, params: dict[str, Any]) -> Any:
        return self.bot

    async def _api_close(self, params: dict[str, Any]) -> Any:
        return True

    async def _api_logOut(self, params: dict[str, Any]) -> Any:
        return True

    async def _api_getUpdates(self, params: dict[str, Any]) -> Any:
        if self._webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = _as_int(params.get("offset")) or 0
        limit = min(max(_as_int(params.get("limit")) or 100, 1), 100)
        timeout = float(params.get("timeout") or 0)
        if params.get("allowed_updates") is not None:
            allowed = params["allowed_updates"]
            self._allowed_updates = frozenset(allowed) if allowed else None
        if offset < 0:
            keep = list(self._pending)[offset:]
            self._pending = {key: self._pending[key] for key in keep}
        else:
            for update_id in list(self._pending):
                if update_id >= offset:
                    break
                del self._pending[update_id]
        self._poll_generation += 1
        generation = self._poll_generation
        self._bump()  # an older getUpdates still waiting is answered 409, as Telegram does
        deadline = time.monotonic() + timeout
        while True:
            updates = list(itertools.islice(self._pending.values(), limit))
            if updates or self._closing:
                return updates
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            tick = self._tick
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(tick.wait(), remaining)
            if generation != self._poll_generation:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only "
                    "one bot instance is running",
                )

    async def _api_setWebhook(self, params: dict[str, Any]) -> Any:
        url = params.get("url") or ""
        if not url:
            return await self._api_deleteWebhook(params)
        if not str(url).startswith(("http://", "https://")):
            raise _bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.get("secret_token")
        if secret is not None and not _SECRET_TOKEN.match(str(secret)):
            raise _bad_request("secret token contains unallowed characters")
        if params.get("drop_pending_updates"):
            self._pending.clear()
        if params.get("allowed_updates") is not None:
            allowed = params["allowed_updates"]
            self._allowed_updates = frozenset(allowed) if allowed else None
        max_connections = _as_int(params.get("max_connections")) or 40
        self._cancel_webhook_delivery()
        self._webhook = {
            "url": str(url),
            "secret_token": secret,
            "max_connections": max_connections,
        }
        self._webhook_error = None
        self._webhook_gate = asyncio.Semaphore(max_connections)
        self._bump()  # a pending getUpdates now answers 409
        for update_id in list(self._pending):
            self._schedule_webhook(update_id)
        return True

    async def _api_deleteWebhook(self, params: dict[str, Any]) -> Any:
        self._cancel_webhook_delivery()
        self._webhook = None
        if params.get("drop_pending_updates"):
            self._pending.clear()
        return True

    async def _api_getWebhookInfo(self, params: dict[str, Any]) -> Any:
        info: dict[str, Any] = {
            "url": self._webhook["url"] if self._webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        if self._webhook:
            info["max_connections"] = self._webhook["max_connections"]
            if self._allowed_updates is not None:
                info["allowed_updates"] = sorted(self._allowed_updates)
        if self._webhook_error:
            info["last_error_date"], info["last_error_message"] = self._webhook_error
        return info

    async def _api_sendMessage(self, params: dict[str, Any]) -> Any:
        return self._send(params, kind="text", text=params.get("text"))

    async def _api_sendPhoto(self, params: dict[str, Any]) -> Any:
        if not params.get("photo"):
            raise _bad_request("there is no photo in the request")
        return self._send(params, kind="photo", text=params.get("caption"), file=params["photo"])

    async def _api_sendDocument(self, params: dict[str, Any]) -> Any:
        if not params.get("document"):
            raise _bad_request("there is no document in the request")
        return self._send(
            params, kind="document", text=params.get("caption"), file=params["document"]
        )

    def _send(self, params: dict[str, Any], *, kind: str, text: Any, file: Any = None) -> Any:
        chat = self._chat_for_bot(params)
        parse_mode = params.get("parse_mode")
        raw = "" if text is None else str(text)
        if kind == "text" and not raw.strip():
            raise _bad_request("message text is empty")
        shown = self._visible_text(raw, parse_mode)
        limit = 4096 if kind == "text" else 1024
        if _utf16_len(shown) > limit:
            raise _bad_request(
                "message is too long" if kind == "text" else "message caption is too long"
            )
        buttons, reply_keyboard = self._markup(chat, params.get("reply_markup"))
        message = BotMessage(
            chat_id=chat.id,
            message_id=chat.next_message_id,
            text=shown,
            raw_text=raw,
            parse_mode=parse_mode,
            buttons=buttons,
            date=int(self._clock()),
            kind=kind,
            disable_notification=bool(params.get("disable_notification")),
            reply_keyboard=reply_keyboard,
            file=file if isinstance(file, dict) else ({"file_id": file} if file else None),
            params=params,
        )
        chat.next_message_id += 1
        chat.messages[message.message_id] = message
        chat.counters["sent"] += 1
        self.counters["messages_sent"] += 1
        self._event(chat, "sent", message)
        return message.to_telegram(self.bot, chat.telegram)

    async def _api_editMessageText(self, params: dict[str, Any]) -> Any:
        chat, message = self._message_for_edit(params)
        raw = "" if params.get("text") is None else str(params["text"])
        if not raw.strip():
            raise _bad_request("message text is empty")
        shown = self._visible_text(raw, params.get("parse_mode"))
        if _utf16_len(shown) > 4096:
            raise _bad_request("MESSAGE_TOO_LONG")
        buttons, _ = self._markup(chat, params.get("reply_markup"), inline_only=True)
        if shown == message.text and buttons == message.buttons:
            raise _bad_request(_NOT_MODIFIED[len("Bad Request: ") :])
        message.text, message.raw_text = shown, raw
        message.parse_mode = params.get("parse_mode")
        message.buttons = buttons
        return self._edited(chat, message, params)

    async def _api_editMessageReplyMarkup(self, params: dict[str, Any]) -> Any:
        chat, message = self._message_for_edit(params)
        buttons, _ = self._markup(chat, params.get("reply_markup"), inline_only=True)
        if buttons == message.buttons:
            raise _bad_request(_NOT_MODIFIED[len("Bad Request: ") :])
        message.buttons = buttons
        return self._edited(chat, message, params)

    def _edited(self, chat: _Chat, message: BotMessage, params: dict[str, Any]) -> Any:
        message.edits += 1
        message.edit_date = int(self._clock())
        message.params = params
        self.counters["messages_edited"] += 1
        self._event(chat, "edited", message)
        return message.to_telegram(self.bot, chat.telegram)

    def _message_for_edit(self, params: dict[str, Any]) -> tuple[_Chat, BotMessage]:
        if params.get("inline_message_id"):
            raise _bad_request("MESSAGE_ID_INVALID")
        chat = self._chat_for_bot(params)
        message = chat.messages.get(_as_int(params.get("message_id")) or 0)
        if message is None or message.deleted:
            if (_as_int(params.get("message_id")) or 0) in chat.user_messages:
                raise _bad_request("message can't be edited")
            raise _bad_request("message to edit not found")
        return chat, message

    async def _api_deleteMessage(self, params: dict[str, Any]) -> Any:
        chat = self._chat_for_bot(params)
        self._delete(chat, _as_int(params.get("message_id")) or 0)
        return True

    async def _api_deleteMessages(self, params: dict[str, Any]) -> Any:
        chat = self._chat_for_bot(params)
        for message_id in params.get("message_ids") or []:
            with contextlib.suppress(ApiError):
                self._delete(chat, _as_int(message_id) or 0)
        return True

    def _delete(self, chat: _Chat, message_id: int) -> None:
        message = chat.messages.get(message_id)
        if message is not None and not message.deleted:
            message.deleted = True
            self.counters["messages_deleted"] += 1
            self._notify("deleted", message)
            return
        if chat.user_messages.pop(message_id, None) is not None:
            return
        raise _bad_request("message to delete not found")

    async def _api_answerCallbackQuery(self, params: dict[str, Any]) -> Any:
        query_id = str(params.get("callback_query_id"))
        known = self._queries.get(query_id)
        if known is None or known[1]:
            raise _bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        if params.get("text") and _utf16_len(str(params["text"])) > 200:
            raise _bad_request("MESSAGE_TOO_LONG")
        self._queries[query_id] = (known[0], True)
        self.callback_answers[query_id] = params
        return True

    async def _api_setMyCommands(self, params: dict[str, Any]) -> Any:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise _bad_request('field "commands" must be an Array')
        for command in commands:
            if not _COMMAND.match(str(command.get("command", ""))):
                raise _bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise _bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands[self._commands_key(params)] = commands
        return True

    async def _api_getMyCommands(self, params: dict[str, Any]) -> Any:
        return self.commands.get(self._commands_key(params), [])

    async def _api_deleteMyCommands(self, params: dict[str, Any]) -> Any:
        self.commands.pop(self._commands_key(params), None)
        return True

    @staticmethod
    def _commands_key(params: dict[str, Any]) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(params.get("language_code") or "")

    async def _api_setChatMenuButton(self, params: dict[str, Any]) -> Any:
        self.menu_buttons[_as_int(params.get("chat_id"))] = params.get("menu_button") or {
            "type": "default"
        }
        return True

    async def _api_getChatMenuButton(self, params: dict[str, Any]) -> Any:
        chat_id = _as_int(params.get("chat_id"))
        return self.menu_buttons.get(chat_id) or self.menu_buttons.get(None) or {"type": "commands"}

    async def _api_sendChatAction(self, params: dict[str, Any]) -> Any:
        chat = self._chat_for_bot(params)
        chat.actions.append(str(params.get("action")))
        return True

    async def _api_getChat(self, params: dict[str, Any]) -> Any:
        chat_id = _as_int(params.get("chat_id"))
        chat = self._chats.get(chat_id) if chat_id is not None else None
        if chat is None:
            raise _bad_request("chat not found")
        info = dict(chat.telegram)
        info.update(
            accent_color_id=0,
            max_reaction_count=11,
            accepted_gift_types={
                "unlimited_gifts": True,
                "limited_gifts": True,
                "unique_gifts": True,
                "premium_subscription": True,
                "gifts_from_channels": True,
            },
        )
        return info

    # ------------------------------------------------------------------ helpers for methods

    def _chat_for_bot(self, params: dict[str, Any]) -> _Chat:
        chat_id = _as_int(params.get("chat_id"))
        if chat_id is None:
            raise _bad_request("chat not found")
        chat = self._chats.get(chat_id)
        if chat is None:
            if self.known_chats_only or chat_id <= 0:
                raise _bad_request("chat not found")
            chat = self._chat(chat_id)
        return chat

    def _visible_text(self, raw: str, parse_mode: Any) -> str:
        if parse_mode is None or parse_mode == "":
            return raw
        if str(parse_mode).lower() == "html":
            return parse_html(raw)
        if str(parse_mode).lower() in {"markdown", "markdownv2"}:
            return raw
        raise _bad_request(f"unsupported parse_mode {parse_mode!r}")

    def _markup(
        self, chat: _Chat, markup: Any, *, inline_only: bool = False
    ) -> tuple[list[list[dict[str, Any]]], list[list[dict[str, Any]]] | None]:
        if markup is None:
            return [], None
        if not isinstance(markup, dict):
            raise _bad_request("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            rows = markup["inline_keyboard"]
            for row in rows:
                for button in row:
                    self._check_button(button)
            return [list(row) for row in rows], None
        if inline_only:
            raise _bad_request("inline keyboard expected")
        if "keyboard" in markup:
            chat.reply_keyboard = [
                [{"text": b} if isinstance(b, str) else b for b in row]
                for row in markup["keyboard"]
            ]
            return [], chat.reply_keyboard
        if markup.get("remove_keyboard"):
            chat.reply_keyboard = None
        return [], None

    @staticmethod
    def _check_button(button: dict[str, Any]) -> None:
        if not button.get("text"):
            raise _bad_request("text buttons are unallowed in the inline keyboard")
        if "callback_data" in button:
            data = str(button["callback_data"]).encode()
            if not 1 <= len(data) <= 64:
                raise _bad_request("BUTTON_DATA_INVALID")
        elif "url" in button:
            url = str(button["url"])
            if not re.match(r"^(https?|tg)://[^\s]+$", url):
                raise _bad_request(f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL")
        elif "login_url" in button:
            login = button["login_url"]
            url = str(login.get("url", "")) if isinstance(login, dict) else ""
            if not re.match(r"^https?://[^\s]+$", url):
                raise _bad_request(f"inline keyboard button login URL '{url}' is invalid")
        elif not any(
            key in button for key in ("web_app", "switch_inline_query", "copy_text", "pay")
        ):
            raise _bad_request('can\'t find field "callback_data" in an inline keyboard button')

    # ------------------------------------------------------------------ events and waiting

    def _bump(self) -> None:
        self._tick.set()
        self._tick = asyncio.Event()

    def _event(self, chat: _Chat, kind: str, message: BotMessage) -> None:
        chat.events.append(replace(message))
        self._notify(kind, message)

    def _notify(self, kind: str, message: BotMessage) -> None:
        for listener in list(self._listeners):
            try:
                listener(kind, replace(message))
            except Exception:
                log.exception("botapi listener failed")

    def add_listener(self, callback: Callable[[str, BotMessage], None]) -> None:
        """Call `callback(kind, message)` on every "sent", "edited" or "deleted" bot message."""
        self._listeners.append(callback)

    def remove_listener(self, callback: Callable[[str, BotMessage], None]) -> None:
        self._listeners.remove(callback)

    async def wait_for(self, predicate: Callable[[], Any], *, timeout: float = 5.0) -> Any:  # noqa: ASYNC109
        """Wait until `predicate()` is truthy (re-checked on every change); return its value."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"condition not met within {timeout} s")
            tick = self._tick
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(tick.wait(), min(remaining, 0.25))

    def new_messages(self, chat_id: int) -> list[BotMessage]:
        """The bot's messages (a snapshot per send or edit) since the user's last action."""
        chat = self._chats.get(chat_id)
        return [] if chat is None else chat.events[chat.cursor :]

    async def wait_for_messages(
        self,
        chat_id: int,
        count: int = 1,
        *,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> list[BotMessage]:
        """Wait for `count` sends/edits in the chat since the user's last action; return all."""
        try:
            return await self.wait_for(
                lambda: found if len(found := self.new_messages(chat_id)) >= count else None,
                timeout=timeout,
            )
        except TimeoutError:
            got = [m.text for m in self.new_messages(chat_id)]
            errors = [
                f"{c.method} {c.status} {c.description}"
                for c in self.calls
                if c.chat_id == chat_id and not c.ok
            ]
            raise TimeoutError(
                f"chat {chat_id}: waited {timeout} s for {count} bot message(s), "
                f"got {len(got)}: {got!r}; failed calls: {errors!r}"
            ) from None

    async def wait_for_calls(
        self,
        method: str | None = None,
        predicate: Callable[[Call], bool] | None = None,
        count: int = 1,
        *,
        timeout: float = 5.0,  # noqa: ASYNC109
        since: int = 0,
    ) -> list[Call]:
        """Wait until `count` recorded calls (from index `since`) match; return the matches."""
        wanted = _CANONICAL.get(method.lower(), method) if method else None

        def matching() -> list[Call] | None:
            found = [
                call
                for call in self.calls[since:]
                if (wanted is None or call.method == wanted)
                and (predicate is None or predicate(call))
            ]
            return found if len(found) >= count else None

        try:
            return await self.wait_for(matching, timeout=timeout)
        except TimeoutError:
            seen = [f"{c.method} {c.status}" for c in self.calls[since:]][-20:]
            raise TimeoutError(
                f"waited {timeout} s for {count} call(s) to {wanted or 'any method'}; "
                f"last calls: {seen!r}"
            ) from None

    # ------------------------------------------------------------------ inspection

    def calls_to(self, method: str) -> list[Call]:
        wanted = _CANONICAL.get(method.lower(), method)
        return [call for call in self.calls if call.method == wanted]

    def messages(self, chat_id: int) -> list[BotMessage]:
        """Every message the bot sent to the chat (deleted ones too), oldest first."""
        chat = self._chats.get(chat_id)
        return [] if chat is None else list(chat.messages.values())

    def screen(self, chat_id: int) -> list[BotMessage]:
        """What the chat shows now: the bot's messages not deleted, in their edited state."""
        return [m for m in self.messages(chat_id) if not m.deleted]

    def last_message(self, chat_id: int) -> BotMessage | None:
        shown = self.screen(chat_id)
        return shown[-1] if shown else None

    def reply_keyboard(self, chat_id: int) -> list[list[dict[str, Any]]] | None:
        chat = self._chats.get(chat_id)
        return None if chat is None else chat.reply_keyboard

    def chat_actions(self, chat_id: int) -> list[str]:
        chat = self._chats.get(chat_id)
        return [] if chat is None else list(chat.actions)

    def chat_counters(self, chat_id: int) -> Counter[str]:
        chat = self._chats.get(chat_id)
        return Counter() if chat is None else Counter(chat.counters)

    def is_blocked(self, chat_id: int) -> bool:
        chat = self._chats.get(chat_id)
        return bool(chat and chat.blocked)

    @property
    def pending_updates(self) -> int:
        return len(self._pending)

    @property
    def queued_updates(self) -> list[dict[str, Any]]:
        """The updates not yet confirmed (polling) or delivered (webhook), oldest first."""
        return list(self._pending.values())

    @property
    def webhook_url(self) -> str | None:
        return self._webhook["url"] if self._webhook else None

    def render_screen(self, chat_id: int, *, last: int | None = None) -> str:
        """The chat as text: each bot message, its buttons in [brackets], a reply keyboard."""
        shown = self.screen(chat_id)
        if last is not None:
            shown = shown[-last:]
        blocks = []
        for message in shown:
            lines = [message.text + (" (edited)" if message.edited else "")]
            for row in message.buttons:
                lines.append("  ".join(f"[{b.get('text')}]" for b in row))
            blocks.append("\n".join(lines))
        keyboard = self.reply_keyboard(chat_id)
        if keyboard:
            blocks.append(
                "keyboard: " + " | ".join(b.get("text", "") for row in keyboard for b in row)
            )
        return "\n\n".join(blocks)

    # ------------------------------------------------------------------ users

    def _chat(self, chat_id: int, **user: Any) -> _Chat:
        chat = self._chats.get(chat_id)
        if chat is None:
            chat = _Chat(
                id=chat_id,
                user={
                    "id": chat_id,
                    "is_bot": False,
                    "first_name": user.get("first_name") or "Test",
                    "language_code": user.get("language_code") or "en",
                },
            )
            self._chats[chat_id] = chat
        for key in ("first_name", "last_name", "username", "language_code"):
            if user.get(key):
                chat.user[key] = user[key]
        return chat

    def _user_message(self, chat: _Chat, **content: Any) -> dict[str, Any]:
        message = {
            "message_id": chat.next_message_id,
            "from": dict(chat.user),
            "chat": chat.telegram,
            "date": int(self._clock()),
            **content,
        }
        chat.next_message_id += 1
        chat.user_messages[message["message_id"]] = message
        return message

    def _user_action(self, chat: _Chat, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        chat.cursor = len(chat.events)
        return self.push_update({kind: payload})

    def push_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue a raw update (its update_id is assigned here) for polling or the webhook."""
        update = {"update_id": next(self._update_ids), **update}
        kind = next(key for key in update if key != "update_id")
        allowed = self._allowed_updates
        if (allowed is None and kind in _OPT_IN_UPDATE_TYPES) or (
            allowed is not None and kind not in allowed
        ):
            return update  # Telegram does not deliver what the bot did not ask for
        self._pending[update["update_id"]] = update
        self.counters["updates"] += 1
        if self._webhook is not None:
            self._schedule_webhook(update["update_id"])
        self._bump()
        return update

    async def user_sends(
        self,
        chat_id: int,
        text: str,
        *,
        language_code: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        username: str | None = None,
        reply_to_message_id: int | None = None,
    ) -> dict[str, Any]:
        """The user writes `text` in their private chat (a leading /command gets its entity).

        `language_code` and names stick to the user; a new user is "en", "Test".
        Returns the update.
        """
        chat = self._chat(
            chat_id,
            language_code=language_code,
            first_name=first_name,
            last_name=last_name,
            username=username,
        )
        await self._unblock_to_write(chat)
        content: dict[str, Any] = {"text": text}
        match = re.match(r"^/[A-Za-z0-9_]+(@[A-Za-z0-9_]+)?", text)
        if match:
            content["entities"] = [
                {"type": "bot_command", "offset": 0, "length": _utf16_len(match.group(0))}
            ]
        if reply_to_message_id is not None:
            original = chat.messages.get(reply_to_message_id)
            if original is not None:
                content["reply_to_message"] = original.to_telegram(self.bot, chat.telegram)
            elif reply_to_message_id in chat.user_messages:
                content["reply_to_message"] = chat.user_messages[reply_to_message_id]
        return self._user_action(chat, "message", self._user_message(chat, **content))

    async def user_starts(self, chat_id: int, payload: str | None = None, **user: Any) -> dict:
        """The user opens the bot (through a t.me/<bot>?start=<payload> link if given)."""
        return await self.user_sends(chat_id, f"/start {payload}" if payload else "/start", **user)

    async def user_presses(
        self, chat_id: int, message_id: int, callback_data: str, *, check: bool = True
    ) -> str:
        """The user presses the inline button with `callback_data` under a bot message.

        Refuses (LookupError) a button the message does not show, unless check=False.
        Returns the callback query id.
        """
        chat = self._chats.get(chat_id)
        message = chat.messages.get(message_id) if chat else None
        if chat is None or message is None:
            raise LookupError(f"chat {chat_id} has no bot message {message_id}")
        if check:
            if message.deleted:
                raise LookupError(f"message {message_id} in chat {chat_id} was deleted")
            shown = [b.get("callback_data") for row in message.buttons for b in row]
            if callback_data not in shown:
                raise LookupError(
                    f"message {message_id} shows no button with callback_data "
                    f"{callback_data!r}: {shown!r}"
                )
        query_id = f"{chat_id}{next(self._query_ids):08d}"
        self._queries[query_id] = (chat_id, False)
        self._user_action(
            chat,
            "callback_query",
            {
                "id": query_id,
                "from": dict(chat.user),
                "message": message.to_telegram(self.bot, chat.telegram),
                "chat_instance": f"ci{chat_id}",
                "data": callback_data,
            },
        )
        return query_id

    async def user_presses_button(self, chat_id: int, text: str) -> str:
        """The user presses the newest inline button labelled `text` in the chat.

        Returns the callback query id; LookupError if no such button is shown, ValueError if it
        is a URL button (it opens a page; nothing reaches the bot).
        """
        for message in reversed(self.screen(chat_id)):
            for row in message.buttons:
                for button in row:
                    if button.get("text") != text:
                        continue
                    if "callback_data" not in button:
                        raise ValueError(f"button {text!r} is not a callback button: {button}")
                    return await self.user_presses(
                        chat_id, message.message_id, button["callback_data"]
                    )
        raise LookupError(
            f"chat {chat_id} shows no button {text!r}:\n{self.render_screen(chat_id)}"
        )

    async def user_opens_login_url(
        self,
        chat_id: int,
        message_id: int,
        button_text: str,
        *,
        as_user: int | dict[str, Any] | None = None,
    ) -> str:
        """The user presses a login_url button: returns the URL Telegram opens in the browser.

        That is the button's URL with the pressing user's Login Widget data appended (id,
        first_name, last_name, username, auth_date, hash), signed with this bot's token as
        Telegram does ("Checking authorization"). `as_user`: someone else pressing the
        button (a user id, or a user object), as when it was forwarded to them; by default
        the chat's own user. Nothing reaches the bot: no callback query.
        """
        chat = self._chats.get(chat_id)
        message = chat.messages.get(message_id) if chat else None
        if chat is None or message is None or message.deleted:
            raise LookupError(f"chat {chat_id} shows no bot message {message_id}")
        button = message.button(button_text)
        login = button.get("login_url")
        if not isinstance(login, dict):
            raise ValueError(f"button {button_text!r} is not a login_url button: {button}")
        if as_user is None:
            user = chat.user
        elif isinstance(as_user, dict):
            user = as_user
        else:
            known = self._chats.get(as_user)
            user = known.user if known else {"id": as_user, "first_name": "Other"}
        fields = {"id": str(user["id"]), "first_name": str(user.get("first_name") or "")}
        for key in ("last_name", "username", "photo_url"):
            if user.get(key):
                fields[key] = str(user[key])
        fields["auth_date"] = str(int(self._clock()))
        fields["hash"] = login_data_hash(fields, self.token)
        url = str(login["url"])
        return f"{url}{'&' if '?' in url else '?'}{urlencode(fields)}"

    def callback_answer(self, query_id: str) -> dict[str, Any] | None:
        """The bot's answerCallbackQuery parameters for the query, None if unanswered."""
        return self.callback_answers.get(query_id)

    async def user_shares_contact(
        self,
        chat_id: int,
        phone: str,
        *,
        own: bool = True,
        first_name: str | None = None,
        last_name: str | None = None,
    ) -> dict[str, Any]:
        """The user shares a contact: their own (contact.user_id = their id) or someone else's."""
        chat = self._chat(chat_id)
        await self._unblock_to_write(chat)
        contact: dict[str, Any] = {
            "phone_number": phone,
            "first_name": first_name or chat.user["first_name"],
            "user_id": chat_id if own else chat_id + 7_000_000_000,
        }
        if last_name or (own and chat.user.get("last_name")):
            contact["last_name"] = last_name or chat.user["last_name"]
        return self._user_action(chat, "message", self._user_message(chat, contact=contact))

    async def user_sends_update(self, chat_id: int, kind: str, **fields: Any) -> dict[str, Any]:
        """The user sends something other than text: sticker, photo, voice, location,
        document, video, audio, dice. `fields` are merged into the message."""
        chat = self._chat(chat_id)
        await self._unblock_to_write(chat)
        n = chat.next_message_id
        file = {"file_id": f"user-{kind}-{chat_id}-{n}", "file_unique_id": f"u{chat_id}{n}"}
        contents: dict[str, dict[str, Any]] = {
            "sticker": {
                "sticker": {
                    **file,
                    "width": 512,
                    "height": 512,
                    "is_animated": False,
                    "is_video": False,
                    "type": "regular",
                    "emoji": "👍",
                }
            },
            "photo": {"photo": [{**file, "width": 640, "height": 480, "file_size": 40960}]},
            "voice": {"voice": {**file, "duration": 3, "mime_type": "audio/ogg"}},
            "audio": {"audio": {**file, "duration": 30, "mime_type": "audio/mpeg"}},
            "video": {"video": {**file, "width": 640, "height": 480, "duration": 5}},
            "document": {
                "document": {**file, "file_name": "scan.pdf", "mime_type": "application/pdf"}
            },
            "location": {"location": {"latitude": 35.1856, "longitude": 33.3823}},
            "dice": {"dice": {"emoji": "🎲", "value": 4}},
        }
        if kind not in contents:
            raise ValueError(f"unknown kind {kind!r}; one of {sorted(contents)}")
        content = {**contents[kind], **fields}
        return self._user_action(chat, "message", self._user_message(chat, **content))

    async def user_sends_sticker(self, chat_id: int) -> dict[str, Any]:
        return await self.user_sends_update(chat_id, "sticker")

    async def user_sends_photo(self, chat_id: int, caption: str | None = None) -> dict[str, Any]:
        extra = {"caption": caption} if caption else {}
        return await self.user_sends_update(chat_id, "photo", **extra)

    async def user_sends_voice(self, chat_id: int) -> dict[str, Any]:
        return await self.user_sends_update(chat_id, "voice")

    async def user_sends_location(
        self, chat_id: int, latitude: float = 35.1856, longitude: float = 33.3823
    ) -> dict[str, Any]:
        return await self.user_sends_update(
            chat_id, "location", location={"latitude": latitude, "longitude": longitude}
        )

    async def user_edits(self, chat_id: int, message_id: int, text: str) -> dict[str, Any]:
        """The user edits a text message they sent earlier (an edited_message update)."""
        chat = self._chats.get(chat_id)
        original = chat.user_messages.get(message_id) if chat else None
        if chat is None or original is None:
            raise LookupError(f"chat {chat_id} has no user message {message_id}")
        edited = {**original, "text": text, "edit_date": int(self._clock())}
        edited.pop("entities", None)
        chat.user_messages[message_id] = edited
        return self._user_action(chat, "edited_message", edited)

    async def _unblock_to_write(self, chat: _Chat) -> None:
        # Telegram makes a user who blocked the bot unblock it ("Restart") before writing.
        if chat.blocked:
            await self.user_unblocks_bot(chat.id)

    async def user_blocks_bot(self, chat_id: int) -> dict[str, Any]:
        """The user blocks the bot: a my_chat_member update, then 403 on messages to them."""
        chat = self._chat(chat_id)
        chat.blocked = True
        return self._member_change(chat, "member", "kicked")

    async def user_unblocks_bot(self, chat_id: int) -> dict[str, Any]:
        chat = self._chat(chat_id)
        chat.blocked = False
        return self._member_change(chat, "kicked", "member")

    def _member_change(self, chat: _Chat, old: str, new: str) -> dict[str, Any]:
        def member(status: str) -> dict[str, Any]:
            value: dict[str, Any] = {"user": self.bot, "status": status}
            if status == "kicked":
                value["until_date"] = 0
            return value

        return self._user_action(
            chat,
            "my_chat_member",
            {
                "chat": chat.telegram,
                "from": dict(chat.user),
                "date": int(self._clock()),
                "old_chat_member": member(old),
                "new_chat_member": member(new),
            },
        )

    # ------------------------------------------------------------------ webhook delivery

    def _cancel_webhook_delivery(self) -> None:
        for task in list(self._webhook_tasks):
            task.cancel()
        self._webhook_tasks.clear()
        self._webhook_queues.clear()

    @staticmethod
    def _update_chat(update: dict[str, Any]) -> int:
        for value in update.values():
            if isinstance(value, dict):
                chat = value.get("chat") or (value.get("message") or {}).get("chat")
                if chat:
                    return int(chat["id"])
                if "from" in value:
                    return int(value["from"]["id"])
        return 0

    def _schedule_webhook(self, update_id: int) -> None:
        # One delivery at a time per chat keeps a conversation in order; chats run in
        # parallel up to max_connections, as Telegram does.
        update = self._pending.get(update_id)
        if update is None:
            return
        key = self._update_chat(update)
        queue = self._webhook_queues.get(key)
        if queue is not None:
            queue.append(update_id)
            return
        self._webhook_queues[key] = deque([update_id])
        task = asyncio.get_running_loop().create_task(self._drain_webhook(key))
        self._webhook_tasks.add(task)
        task.add_done_callback(self._webhook_tasks.discard)

    async def _drain_webhook(self, key: int) -> None:
        queue = self._webhook_queues[key]
        try:
            while queue:
                update_id = queue[0]
                gate = self._webhook_gate
                assert gate is not None
                async with gate:
                    await self._deliver(update_id)
                queue.popleft()
        finally:
            if self._webhook_queues.get(key) is queue:
                del self._webhook_queues[key]

    async def _deliver(self, update_id: int) -> None:
        webhook, session = self._webhook, self._session
        update = self._pending.get(update_id)
        if webhook is None or session is None or update is None:
            return
        headers = {"Content-Type": "application/json"}
        if webhook["secret_token"]:
            headers["X-Telegram-Bot-Api-Secret-Token"] = webhook["secret_token"]
        body = json.dumps(update)
        for attempt in range(self.webhook_retries + 1):
            if self._webhook is not webhook:
                return  # deleted or replaced meanwhile: the update stays pending
            try:
                async with session.post(webhook["url"], data=body, headers=headers) as response:
                    await response.read()
                    if 200 <= response.status < 300:
                        self.counters["webhook_deliveries"] += 1
                        self._pending.pop(update_id, None)
                        self._bump()
                        return
                    problem = (
                        f"Wrong response from the webhook: {response.status} {response.reason}"
                    )
            except (ClientError, TimeoutError) as exc:
                problem = f"Connection error: {type(exc).__name__}"
            self.counters["webhook_failures"] += 1
            self._webhook_error = (int(self._clock()), problem)
            if attempt < self.webhook_retries:
                await asyncio.sleep(self.webhook_retry_delay * 2**attempt)
        self.counters["webhook_dropped"] += 1
        self._pending.pop(update_id, None)
        self._bump()
