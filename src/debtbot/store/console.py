"""Staff console sessions, and the delivery figures the console shows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, cast, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from debtbot.store.models import ConsoleSession, Notice, OutboxMessage


async def add_session(session: AsyncSession, **values: Any) -> None:
    session.add(ConsoleSession(**values))
    await session.flush()


async def get_session(session: AsyncSession, session_id: str) -> ConsoleSession | None:
    return await session.get(ConsoleSession, session_id)


async def touch_session(
    session: AsyncSession, session_id: str, *, now: datetime, language: str | None = None
) -> None:
    values: dict[str, Any] = {"last_seen_at": now}
    if language is not None:
        values["language"] = language
    await session.execute(
        update(ConsoleSession).where(ConsoleSession.id == session_id).values(**values)
    )


async def end_session(session: AsyncSession, session_id: str, *, now: datetime) -> None:
    await session.execute(
        update(ConsoleSession)
        .where(ConsoleSession.id == session_id, ConsoleSession.ended_at.is_(None))
        .values(ended_at=now)
    )


async def end_sessions_of(session: AsyncSession, staff_user_id: int, *, now: datetime) -> None:
    await session.execute(
        update(ConsoleSession)
        .where(ConsoleSession.staff_user_id == staff_user_id, ConsoleSession.ended_at.is_(None))
        .values(ended_at=now)
    )


# --- delivery ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MessageRow:
    id: int
    chat_id: int
    purpose: str
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime | None
    sent_at: datetime | None
    broadcast_id: int | None
    dedupe_key: str


def _message_filter(
    query: Any, *, notice_key: str | None, broadcast_id: int | None, status: str | None,
    purpose: str | None, chat_id: int | None, since: datetime | None,
) -> Any:
    if notice_key is not None:
        query = query.where(OutboxMessage.dedupe_key.startswith(f"notice:{notice_key}:"))
    if broadcast_id is not None:
        query = query.where(OutboxMessage.broadcast_id == broadcast_id)
    if status:
        query = query.where(OutboxMessage.status == status)
    if purpose:
        query = query.where(OutboxMessage.purpose == purpose)
    if chat_id is not None:
        query = query.where(OutboxMessage.chat_id == chat_id)
    if since is not None:
        query = query.where(OutboxMessage.created_at >= since)
    return query


async def messages(
    session: AsyncSession, *, notice_key: str | None = None, broadcast_id: int | None = None,
    status: str | None = None, purpose: str | None = None, chat_id: int | None = None,
    since: datetime | None = None, limit: int = 500, offset: int = 0,
) -> list[MessageRow]:
    query = select(
        OutboxMessage.id, OutboxMessage.chat_id, OutboxMessage.purpose, OutboxMessage.status,
        OutboxMessage.attempts, OutboxMessage.last_error, OutboxMessage.created_at,
        OutboxMessage.sent_at, OutboxMessage.broadcast_id, OutboxMessage.dedupe_key,
    )
    query = _message_filter(query, notice_key=notice_key, broadcast_id=broadcast_id,
                            status=status, purpose=purpose, chat_id=chat_id, since=since)
    rows = await session.execute(query.order_by(OutboxMessage.id.desc()).limit(limit)
                                 .offset(offset))
    return [MessageRow(*row) for row in rows.all()]


async def message_counts(
    session: AsyncSession, *, notice_key: str | None = None, broadcast_id: int | None = None,
    purpose: str | None = None, chat_id: int | None = None, since: datetime | None = None,
) -> dict[str, int]:
    query = select(OutboxMessage.status, func.count())
    query = _message_filter(query, notice_key=notice_key, broadcast_id=broadcast_id,
                            status=None, purpose=purpose, chat_id=chat_id, since=since)
    rows = await session.execute(query.group_by(OutboxMessage.status))
    return {status: int(count) for status, count in rows.all()}


async def daily_counts(
    session: AsyncSession, *, since: datetime
) -> list[tuple[date, str, str, int]]:
    """(day in UTC, purpose, status, messages) for messages created since `since`."""
    day = cast(OutboxMessage.created_at, Date) if session.get_bind().dialect.name == "postgresql" \
        else func.date(OutboxMessage.created_at)
    rows = await session.execute(
        select(day, OutboxMessage.purpose, OutboxMessage.status, func.count())
        .where(OutboxMessage.created_at >= since)
        .group_by(day, OutboxMessage.purpose, OutboxMessage.status)
    )
    result = []
    for raw_day, purpose, status, count in rows.all():
        when = raw_day if isinstance(raw_day, date) else date.fromisoformat(str(raw_day)[:10])
        result.append((when, purpose, status, int(count)))
    return result


async def notice_keys(session: AsyncSession, ids: Sequence[int]) -> dict[int, str]:
    rows = await session.execute(select(Notice.id, Notice.key).where(Notice.id.in_(list(ids))))
    return dict(rows.all())
