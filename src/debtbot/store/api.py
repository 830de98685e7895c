"""Queries behind the HTTP API: the figures that /readyz and /metrics report (payments
and debts: store/debts.py; bearer tokens: store/staff.py).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from debtbot.store.models import (
    OutboxMessage,
    VerificationAttempt,
)

# --- readiness and metrics --------------------------------------------------------------


async def ping(session: AsyncSession) -> None:
    await session.execute(text("SELECT 1"))


async def outbox_counts(session: AsyncSession) -> dict[tuple[str, str], int]:
    """Outbox rows by (purpose, status)."""
    rows = await session.execute(
        select(OutboxMessage.purpose, OutboxMessage.status, func.count()).group_by(
            OutboxMessage.purpose, OutboxMessage.status
        )
    )
    return {(purpose, status): count for purpose, status, count in rows}


async def verification_counts(session: AsyncSession) -> dict[tuple[str, bool], int]:
    """Verification attempts by (method, succeeded)."""
    rows = await session.execute(
        select(VerificationAttempt.method, VerificationAttempt.succeeded, func.count()).group_by(
            VerificationAttempt.method, VerificationAttempt.succeeded
        )
    )
    return {(method, bool(succeeded)): count for method, succeeded, count in rows}


async def recent_failures(
    session: AsyncSession, *, since: datetime
) -> tuple[dict[int, list[datetime]], dict[str, list[datetime]]]:
    """Failed verification attempts after `since`, by chat and by identifier hash, in order."""
    rows = await session.execute(
        select(VerificationAttempt.chat_id, VerificationAttempt.id_hash, VerificationAttempt.at)
        .where(VerificationAttempt.succeeded.is_(False), VerificationAttempt.at > since)
        .order_by(VerificationAttempt.at)
    )
    by_chat: dict[int, list[datetime]] = {}
    by_identifier: dict[str, list[datetime]] = {}
    for chat_id, id_hash, at in rows:
        by_chat.setdefault(chat_id, []).append(at)
        if id_hash is not None:
            by_identifier.setdefault(id_hash, []).append(at)
    return by_chat, by_identifier
