"""Putting messages in the outbox, and taking them back out before they go.

Every outgoing message is a row planned once under a unique key (DESIGN.md): whoever calls
`enqueue` twice with one key gets one message. The one sender (services.deliver_outbox)
drains the table with pacing. These functions take the caller's session, so the message is
written in the same transaction as the change that causes it (a payment and its receipt, a
notice and its audit entry): both happen or neither does.

payload = {"text": Telegram HTML, already escaped and rendered in the chat's language,
           "buttons": [[{"text": str, "url": str} | {"text": str, "callback_data": str}]],
           "disable_notification": bool}
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from debtbot.domain.messages import OutboxPurpose, Priority
from debtbot.store import outbox as store
from debtbot.store.models import OutboxMessage

MAX_TEXT = 4096  # Telegram's limit for one message
MAX_KEY = 200

_DEFAULT_PRIORITY = {
    OutboxPurpose.REPLY: Priority.REPLY,
    OutboxPurpose.RECEIPT: Priority.RECEIPT,
    OutboxPurpose.REMINDER: Priority.REMINDER,
    OutboxPurpose.NOTICE: Priority.NOTICE,
    OutboxPurpose.BROADCAST: Priority.BROADCAST,
}


def quiet_until(
    moment: datetime, *, start: time, end: time, tz: ZoneInfo
) -> datetime | None:
    """If `moment` falls in quiet hours (local time, [start, end), possibly across midnight),
    the instant they end; else None.
    """
    local = moment.astimezone(tz)
    clock = local.time().replace(tzinfo=None)
    if start == end:
        return None
    if start < end:  # e.g. 13:00-15:00, within one day
        quiet = start <= clock < end
        end_day = local.date()
    else:  # e.g. 21:00-09:00, across midnight
        quiet = clock >= start or clock < end
        end_day = local.date() + timedelta(days=1) if clock >= start else local.date()
    if not quiet:
        return None
    return datetime.combine(end_day, end, tzinfo=tz).astimezone(moment.tzinfo)


def delivery_time(
    remind_at: datetime, *, deadline: datetime | None, start: time, end: time, tz: ZoneInfo
) -> datetime:
    """When a message due at `remind_at` may go out: at the end of quiet hours if it falls in
    them, unless waiting would pass its deadline (then at once).
    """
    ends = quiet_until(remind_at, start=start, end=end, tz=tz)
    if ends is None:
        return remind_at
    if deadline is not None and ends >= deadline:
        return remind_at
    return ends


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
    """The column values of one outbox row (for bulk inserts by the planner)."""
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


async def enqueue(
    session: AsyncSession,
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
) -> bool:
    """Queue one message unless a message with this key exists. True when queued.

    The caller owns the transaction (commit happens with the caller's change).
    """
    row = outbox_row(
        dedupe_key=dedupe_key,
        chat_id=chat_id,
        purpose=purpose,
        payload=payload,
        not_before=not_before,
        priority=priority,
        debt_id=debt_id,
        broadcast_id=broadcast_id,
        expires_at=expires_at,
    )
    return await store.insert_if_new(session, row)


async def cancel_for_debt(session: AsyncSession, debt_id: int) -> int:
    """A debt was paid, cancelled or withdrawn: its pending reminders never go out."""
    return await store.cancel_pending(
        session,
        OutboxMessage.debt_id == debt_id,
        OutboxMessage.purpose == OutboxPurpose.REMINDER.value,
        reason="debt closed",
    )


async def cancel_for_chat(session: AsyncSession, chat_id: int) -> int:
    """The chat blocked the bot or was forgotten: nothing pending goes to it."""
    return await store.cancel_pending(
        session, OutboxMessage.chat_id == chat_id, reason="chat inactive"
    )


async def cancel_for_broadcast(session: AsyncSession, broadcast_id: int) -> int:
    """Staff stopped a broadcast: what has not gone out yet stays unsent."""
    return await store.cancel_pending(
        session, OutboxMessage.broadcast_id == broadcast_id, reason="broadcast cancelled"
    )
