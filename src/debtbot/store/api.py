"""Queries behind the HTTP API: bearer tokens, and the figures that /readyz and /metrics
report (payments and debts: store/debts.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from debtbot.store.models import (
    ApiToken,
    OutboxMessage,
    VerificationAttempt,
)

# --- tokens -----------------------------------------------------------------------------


async def add_token(
    session: AsyncSession, *, name: str, token_hash: str, scopes: Sequence[str], now: datetime
) -> ApiToken:
    row = ApiToken(name=name, token_hash=token_hash, scopes=list(scopes), created_at=now)
    session.add(row)
    await session.flush()
    return row


async def token_by_hash(session: AsyncSession, token_hash: str) -> ApiToken | None:
    return await session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash))


async def all_tokens(session: AsyncSession) -> list[ApiToken]:
    return list(await session.scalars(select(ApiToken).order_by(ApiToken.id)))


async def revoke_token(session: AsyncSession, token_id: int, *, now: datetime) -> bool:
    result = await session.execute(
        update(ApiToken)
        .where(ApiToken.id == token_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


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
