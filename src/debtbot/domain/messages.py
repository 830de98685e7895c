"""Outgoing messages as work items: why they are sent, how urgent, where they stand.

The delivery states follow GOV.UK Notify's: every message ends in an explicit state.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum


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
