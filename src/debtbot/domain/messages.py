"""Outgoing messages as work items: why they are sent, how urgent, where they stand.

The delivery states follow GOV.UK Notify's: every message ends in an explicit state.

payload = {"text": Telegram HTML, already escaped and rendered in the chat's language,
           "buttons": [[{"text": str, "url": str} | {"text": str, "callback_data": str}]],
           "disable_notification": bool}
"""

from __future__ import annotations

from datetime import datetime
from enum import IntEnum, StrEnum
from typing import Any

MAX_TEXT = 4096  # Telegram's limit for one message
MAX_KEY = 200


class OutboxPurpose(StrEnum):
    REPLY = "reply"
    RECEIPT = "receipt"
    REMINDER = "reminder"
    NOTICE = "notice"
    BROADCAST = "broadcast"


class Priority(IntEnum):
    """Lower goes first: a citizen's reply never waits behind reminders or broadcasts."""

    REPLY = 0
    RECEIPT = 10
    REMINDER = 20
    NOTICE = 30
    BROADCAST = 50


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"  # claimed by a worker
    SENT = "sent"
    FAILED = "failed"  # gave up after the allowed retries
    BLOCKED = "blocked"  # the user blocked the bot (403) or the chat is gone
    CANCELLED = "cancelled"  # the debt was paid or cancelled, or staff cancelled it
    DROPPED = "dropped"  # its moment passed while the bot was down and its threshold too


FINAL_STATUSES = frozenset(
    {DeliveryStatus.SENT, DeliveryStatus.FAILED, DeliveryStatus.BLOCKED,
     DeliveryStatus.CANCELLED, DeliveryStatus.DROPPED}
)


_DEFAULT_PRIORITY = {
    OutboxPurpose.REPLY: Priority.REPLY,
    OutboxPurpose.RECEIPT: Priority.RECEIPT,
    OutboxPurpose.REMINDER: Priority.REMINDER,
    OutboxPurpose.NOTICE: Priority.NOTICE,
    OutboxPurpose.BROADCAST: Priority.BROADCAST,
}


class InvalidMessage(ValueError):
    """A payload the sender could not deliver (empty or too long text, bad buttons)."""


def check_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """Validate and normalise a payload; raises InvalidMessage."""
    text = payload.get("text")
    if not isinstance(text, str) or not text.strip():
        raise InvalidMessage("payload text is empty")
    if len(text) > MAX_TEXT:
        raise InvalidMessage(f"payload text is longer than {MAX_TEXT} characters")
    buttons = payload.get("buttons") or []
    if not isinstance(buttons, list) or not all(isinstance(row, list) for row in buttons):
        raise InvalidMessage("buttons must be a list of rows")
    for row in buttons:
        for button in row:
            if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                raise InvalidMessage("every button needs a text")
            if ("url" in button) == ("callback_data" in button):
                raise InvalidMessage("a button has either a url or callback_data")
            if "callback_data" in button and len(button["callback_data"].encode()) > 64:
                raise InvalidMessage("callback_data is longer than 64 bytes")
    extra = {k: v for k, v in payload.items() if k not in {"text", "buttons"}}
    return {
        **extra,
        "text": text,
        "buttons": buttons,
        "disable_notification": bool(payload.get("disable_notification", False)),
    }


def outbox_row(
    *,
    dedupe_key: str,
    chat_id: int,
    purpose: OutboxPurpose,
    payload: dict[str, Any],
    not_before: datetime,
    priority: int | None = None,
    debt_id: int | None = None,
    broadcast_id: int | None = None,
    expires_at: datetime | None = None,
    status: str = "pending",
) -> dict[str, Any]:
    """One message to queue, checked, as the outbox row's column values (what
    `OutboxRepository.enqueue` and `add_many` write)."""
    if not dedupe_key or len(dedupe_key) > MAX_KEY:
        raise InvalidMessage(f"dedupe_key must be 1..{MAX_KEY} characters")
    if not_before.tzinfo is None or (expires_at is not None and expires_at.tzinfo is None):
        raise InvalidMessage("not_before and expires_at must be aware datetimes")
    purpose = OutboxPurpose(purpose)
    return {
        "dedupe_key": dedupe_key,
        "chat_id": int(chat_id),
        "purpose": purpose.value,
        "priority": int(_DEFAULT_PRIORITY[purpose] if priority is None else priority),
        "debt_id": debt_id,
        "broadcast_id": broadcast_id,
        "payload": check_payload(payload),
        "status": status,
        "not_before": not_before,
        "expires_at": expires_at,
        "attempts": 0,
    }
