"""Broadcast rows, segment queries, and queueing a broadcast's outbox rows set-based.

A batch is one `INSERT INTO outbox … SELECT … FROM chats` over a range of chat ids, with the
payload chosen by the chat's language in SQL: 100,000 recipients are 20 statements of 5,000,
not 100,000 ORM objects. Each batch commits on its own, so the sender starts on the first
while the planner writes the next, and no transaction holds locks for long.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    String,
    and_,
    case,
    cast,
    delete,
    exists,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from debtbot.store.models import (
    AuditEntry,
    Broadcast,
    Chat,
    ChatLink,
    Company,
    DebtRow,
    OutboxMessage,
    Person,
)
from debtbot.store.repository import Repository

OPEN = "outstanding"


def _linked() -> Any:
    return exists().where(ChatLink.chat_id == Chat.id)


def _holds(link_debt: Any) -> Any:
    """The debt belongs to what the link names: the person itself, or the company."""
    return or_(
        and_(ChatLink.company_id.is_(None), DebtRow.person_id == ChatLink.person_id),
        and_(ChatLink.company_id.is_not(None), DebtRow.company_id == ChatLink.company_id),
    ) & link_debt


def _with_open_debt(debt_kind: str | None) -> Any:
    condition = DebtRow.status == OPEN
    if debt_kind:
        condition = condition & (DebtRow.kind == debt_kind)
    return (
        exists()
        .where(ChatLink.chat_id == Chat.id)
        .where(_holds(condition))
    )


def segment_condition(kind: str, debt_kind: str | None) -> Any:
    """SQL filter on `chats` for a segment. For overdue/past_threshold it is the superset
    (chats holding any open debt); the law's clock is then applied in Python per batch.
    """
    base = Chat.active.is_(True)
    if kind == "all":
        return and_(base, _linked())
    if kind == "debt_kind":
        return and_(base, _with_open_debt(debt_kind))
    return and_(base, _with_open_debt(None))


async def count_chats(session: AsyncSession, condition: Any) -> int:
    return int(await session.scalar(select(func.count()).select_from(Chat).where(condition)) or 0)


async def chat_ids(session: AsyncSession, condition: Any, *, after: int | None, limit: int) -> list[int]:
    query = select(Chat.id).where(condition)
    if after is not None:
        query = query.where(Chat.id > after)
    return list(await session.scalars(query.order_by(Chat.id).limit(limit)))


async def batch_end(session: AsyncSession, condition: Any, *, after: int | None, limit: int) -> int | None:
    """The last chat id of the next batch of `limit` chats after `after`, or None if none."""
    inner = select(Chat.id).where(condition)
    if after is not None:
        inner = inner.where(Chat.id > after)
    inner = inner.order_by(Chat.id).limit(limit).subquery()
    return await session.scalar(select(func.max(inner.c.id)))


async def open_debts_of_chats(
    session: AsyncSession, chat_ids: Sequence[int]
) -> list[tuple[int, DebtRow]]:
    """(chat id, open debt) for every open debt held through the chats' links."""
    if not chat_ids:
        return []
    rows = await session.execute(
        select(ChatLink.chat_id, DebtRow)
        .join(
            DebtRow,
            or_(
                and_(ChatLink.company_id.is_(None), DebtRow.person_id == ChatLink.person_id),
                and_(ChatLink.company_id.is_not(None), DebtRow.company_id == ChatLink.company_id),
            ),
        )
        .where(ChatLink.chat_id.in_(list(chat_ids)), DebtRow.status == OPEN)
    )
    return [(chat_id, debt) for chat_id, debt in rows.all()]


async def recipient_facts(
    session: AsyncSession, chat_ids: Sequence[int]
) -> dict[int, tuple[str, bool, list[str], list[DebtRow]]]:
    """Per chat: (language, discreet, names of its verified identities in link order, open
    debts held through them)."""
    if not chat_ids:
        return {}
    facts: dict[int, tuple[str, bool, list[str], list[DebtRow]]] = {}
    for chat_id, language, discreet in (await session.execute(
        select(Chat.id, Chat.language, Chat.discreet).where(Chat.id.in_(list(chat_ids)))
    )).all():
        facts[chat_id] = (language, bool(discreet), [], [])
    names = await session.execute(
        select(ChatLink.chat_id, func.coalesce(Company.name, Person.name))
        .outerjoin(Person, Person.id == ChatLink.person_id)
        .outerjoin(Company, Company.id == ChatLink.company_id)
        .where(ChatLink.chat_id.in_(list(chat_ids)))
        .order_by(ChatLink.chat_id, ChatLink.id)
    )
    for chat_id, name in names.all():
        if chat_id in facts and name:
            facts[chat_id][2].append(name)
    for chat_id, debt in await open_debts_of_chats(session, chat_ids):
        if chat_id in facts:
            facts[chat_id][3].append(debt)
    return facts


def _insert(session: AsyncSession) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(OutboxMessage)
    return sqlite.insert(OutboxMessage)


async def queue_rows(
    session: AsyncSession,
    *,
    broadcast_id: int,
    key_prefix: str,
    where: Any,
    payloads: dict[tuple[str, bool], dict[str, Any]],
    default_key: tuple[str, bool],
    purpose: str,
    priority: int,
    not_before: datetime,
) -> int:
    """INSERT … SELECT one outbox row per chat matching `where`, the payload chosen by the
    chat's (language, discreet).
    Rows whose key exists are skipped (the planner may run twice). Returns rows inserted.
    """
    language_payload = case(
        *[
            (and_(Chat.language == lang, Chat.discreet.is_(discreet)), literal(payload, JSON))
            for (lang, discreet), payload in payloads.items()
            if (lang, discreet) != default_key
        ],
        else_=literal(payloads[default_key], JSON),
    )
    select_rows = select(
        literal(key_prefix, String) + cast(Chat.id, String),
        Chat.id,
        literal(purpose, String),
        literal(priority),
        literal(broadcast_id),
        language_payload,
        literal("pending", String),
        literal(not_before, OutboxMessage.not_before.type),
        literal(0),
    ).where(where)
    stmt = (
        _insert(session)
        .from_select(
            [
                "dedupe_key",
                "chat_id",
                "purpose",
                "priority",
                "broadcast_id",
                "payload",
                "status",
                "not_before",
                "attempts",
            ],
            select_rows,
        )
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
    )
    result = await session.execute(stmt)
    return max(result.rowcount or 0, 0)


def chat_range(after: int | None, through: int) -> Any:
    condition = Chat.id <= through
    if after is not None:
        condition = condition & (Chat.id > after)
    return condition


def chat_in(ids: Sequence[int]) -> Any:
    return Chat.id.in_(list(ids))


async def delivery_counts(session: AsyncSession, broadcast_id: int) -> dict[str, int]:
    rows = await session.execute(
        select(OutboxMessage.status, func.count())
        .where(OutboxMessage.broadcast_id == broadcast_id)
        .group_by(OutboxMessage.status)
    )
    return {status: int(count) for status, count in rows.all()}


async def get(session: AsyncSession, broadcast_id: int, *, for_update: bool = False) -> Broadcast | None:
    query = select(Broadcast).where(Broadcast.id == broadcast_id)
    if for_update and session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return await session.scalar(query)


async def list_broadcasts(session: AsyncSession, *, status: str | None, limit: int) -> list[Broadcast]:
    query = select(Broadcast)
    if status:
        query = query.where(Broadcast.status == status)
    return list(await session.scalars(query.order_by(Broadcast.id.desc()).limit(limit)))


async def due_for_planning(session: AsyncSession, *, now: datetime) -> list[int]:
    """Approved broadcasts whose time has come, and those still being queued."""
    query = select(Broadcast.id).where(
        or_(
            and_(
                Broadcast.status == "approved",
                or_(Broadcast.send_at.is_(None), Broadcast.send_at <= now),
            ),
            and_(Broadcast.status == "sending", Broadcast.planning_done.is_(False)),
        )
    )
    return list(await session.scalars(query.order_by(Broadcast.id)))


async def sending_ids(session: AsyncSession) -> list[int]:
    return list(
        await session.scalars(
            select(Broadcast.id).where(
                Broadcast.status == "sending", Broadcast.planning_done.is_(True)
            )
        )
    )


async def open_rows(session: AsyncSession, broadcast_id: int) -> int:
    return int(
        await session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(
                OutboxMessage.broadcast_id == broadcast_id,
                OutboxMessage.status.in_(["pending", "sending"]),
            )
        )
        or 0
    )


async def with_progress_message(session: AsyncSession, *, finished_since: datetime) -> list[Broadcast]:
    """Broadcasts showing a progress message: running, or finished since `finished_since`."""
    return list(
        await session.scalars(
            select(Broadcast).where(
                Broadcast.progress_message_id.is_not(None),
                Broadcast.status.in_(["approved", "sending", "done", "cancelled"]),
                or_(Broadcast.finished_at.is_(None), Broadcast.finished_at >= finished_since),
            )
        )
    )



# --- retention -------------------------------------------------------------------------------


async def delete_final_outbox_before(
    session: AsyncSession, *, final_statuses: Sequence[str], before: datetime, limit: int
) -> int:
    """Delete up to `limit` outbox rows in a final state whose last event is before `before`."""
    last_event = func.coalesce(OutboxMessage.sent_at, OutboxMessage.claimed_at, OutboxMessage.created_at)
    ids = (
        select(OutboxMessage.id)
        .where(OutboxMessage.status.in_(list(final_statuses)), last_event < before)
        .limit(limit)
        .scalar_subquery()
    )
    result = await session.execute(
        delete(OutboxMessage)
        .where(OutboxMessage.id.in_(ids))
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


async def delete_audit_before(session: AsyncSession, *, before: datetime, limit: int) -> int:
    ids = select(AuditEntry.id).where(AuditEntry.at < before).limit(limit).scalar_subquery()
    result = await session.execute(
        delete(AuditEntry).where(AuditEntry.id.in_(ids)).execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


class BroadcastRepository(Repository):
    """Broadcasts, notices and their templates: the only writer of their tables."""

    __slots__ = ()
