"""The outbox table's queries: insert once under a key, claim, settle, cancel, recover.

Claiming is where several sender instances meet. On PostgreSQL the candidates are picked
with `FOR UPDATE SKIP LOCKED` inside the claiming UPDATE, so two workers never take the same
row and neither waits for the other. SQLite has one writer at a time: the claiming UPDATE
runs inside a write transaction (`BEGIN IMMEDIATE` semantics via the first write), which is
the same guarantee for the one process that writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, any_, bindparam, exists, func, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from debtbot.domain.messages import DeliveryStatus, OutboxPurpose
from debtbot.store.models import Chat, DebtRow, OutboxMessage
from debtbot.store.repository import Repository

PENDING = DeliveryStatus.PENDING.value
SENDING = DeliveryStatus.SENDING.value
OUTSTANDING = "outstanding"


@dataclass(frozen=True, slots=True)
class ClaimedMessage:
    """A row a worker holds (status 'sending') until it settles it."""

    id: int
    chat_id: int
    purpose: str
    priority: int
    payload: dict[str, Any]
    attempts: int
    not_before: datetime
    expires_at: datetime | None
    debt_id: int | None
    dedupe_key: str


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def _insert(session: AsyncSession):  # type: ignore[no-untyped-def]
    if _dialect(session) == "postgresql":
        return postgresql.insert(OutboxMessage)
    return sqlite.insert(OutboxMessage)


async def insert_if_new(session: AsyncSession, values: dict[str, Any]) -> bool:
    """Insert one row unless its dedupe_key exists; True when inserted."""
    stmt = (
        _insert(session)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(OutboxMessage.id)
    )
    return (await session.execute(stmt)).scalar_one_or_none() is not None


async def insert_many_if_new(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> int:
    """Bulk insert; rows whose dedupe_key exists are skipped. Returns how many were new.

    One statement executed for many parameter sets: SQLAlchemy compiles it once and sends
    it in batches ("insertmanyvalues"); RETURNING gives back only the rows really inserted.
    """
    if not rows:
        return 0
    stmt = (
        _insert(session)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(OutboxMessage.id)
    )
    result = await session.execute(stmt, list(rows))
    return len(result.all())


async def cancel_pending(session: AsyncSession, *conditions: Any, reason: str) -> int:
    """Pending rows matching the conditions become 'cancelled'. Returns how many."""
    stmt = (
        update(OutboxMessage)
        .where(OutboxMessage.status == PENDING, *conditions)
        .values(status=DeliveryStatus.CANCELLED.value, last_error=reason[:300])
        .execution_options(synchronize_session=False)
    )
    return (await session.execute(stmt)).rowcount or 0


def _quiet_filter(quiet: bool, quiet_end: datetime | None, loud_purposes: Iterable[str]) -> Any:
    if not quiet:
        return None
    # In quiet hours only what a citizen asked for goes out, and what cannot wait for the
    # morning (its threshold comes before quiet hours end).
    return or_(
        OutboxMessage.purpose.in_(list(loud_purposes)),
        and_(OutboxMessage.expires_at.is_not(None), OutboxMessage.expires_at <= quiet_end),
    )


async def claim(
    session: AsyncSession,
    *,
    worker: str,
    now: datetime,
    limit: int,
    quiet: bool = False,
    quiet_end: datetime | None = None,
    loud_purposes: Iterable[str] = (OutboxPurpose.REPLY.value, OutboxPurpose.RECEIPT.value),
    exclude_chats: Iterable[int] = (),
) -> list[ClaimedMessage]:
    """Take up to `limit` due rows, most urgent first, and with each reminder every other due
    reminder of the same chat (they go out as one message). Marks them 'sending'.
    """
    conditions = [
        OutboxMessage.status == PENDING,
        OutboxMessage.not_before <= now,
        or_(OutboxMessage.expires_at.is_(None), OutboxMessage.expires_at > now),
    ]
    # A reminder about a debt closed a moment ago is not sent even if its cancellation has
    # not reached this row yet (the payment and the claim raced).
    conditions.append(
        or_(
            OutboxMessage.purpose != OutboxPurpose.REMINDER.value,
            OutboxMessage.debt_id.is_(None),
            exists().where(DebtRow.id == OutboxMessage.debt_id, DebtRow.status == OUTSTANDING),
        )
    )
    quiet_clause = _quiet_filter(quiet, quiet_end, loud_purposes)
    if quiet_clause is not None:
        conditions.append(quiet_clause)
    excluded = list(exclude_chats)
    if excluded:
        conditions.append(OutboxMessage.chat_id.not_in(excluded))
    postgres = _dialect(session) == "postgresql"
    pick = (
        select(OutboxMessage.id)
        .where(*conditions)
        .order_by(OutboxMessage.priority, OutboxMessage.not_before, OutboxMessage.id)
        .limit(limit)
    )
    picked: Any = OutboxMessage.id.in_(pick)
    if postgres:
        # = ANY(ARRAY(SELECT … LIMIT n FOR UPDATE SKIP LOCKED)): the pick runs once, as an
        # init plan. Written as IN (SELECT …), PostgreSQL may rescan the subquery for each
        # row it updates, and every rescan skips the rows this very statement has just
        # locked and takes the next n: the UPDATE then claimed every due row, not n.
        picked = OutboxMessage.id == any_(
            func.array(pick.with_for_update(skip_locked=True).scalar_subquery())
        )
    # One UPDATE … WHERE id IN (SELECT …) statement: on SQLite the first statement of the
    # transaction is then a write, so it never has to upgrade a read lock (which SQLite
    # refuses at once, without waiting, when another connection writes).
    claimed = await _mark_sending(session, picked, worker=worker, now=now)
    if not claimed:
        return []
    reminder_chats = sorted(
        {row.chat_id for row in claimed if row.purpose == OutboxPurpose.REMINDER.value}
    )
    if reminder_chats:
        siblings = (
            select(OutboxMessage.id)
            .where(
                *conditions,
                OutboxMessage.purpose == OutboxPurpose.REMINDER.value,
                OutboxMessage.chat_id.in_(reminder_chats),
            )
        )
        if postgres:
            siblings = siblings.with_for_update(skip_locked=True)
        claimed.extend(
            await _mark_sending(session, OutboxMessage.id.in_(siblings), worker=worker, now=now)
        )
    return claimed


async def _mark_sending(
    session: AsyncSession, chosen: Any, *, worker: str, now: datetime
) -> list[ClaimedMessage]:
    stmt = (
        update(OutboxMessage)
        .where(chosen, OutboxMessage.status == PENDING)
        .values(
            status=SENDING,
            claimed_by=worker,
            claimed_at=now,
            attempts=OutboxMessage.attempts + 1,
        )
        .returning(
            OutboxMessage.id,
            OutboxMessage.chat_id,
            OutboxMessage.purpose,
            OutboxMessage.priority,
            OutboxMessage.payload,
            OutboxMessage.attempts,
            OutboxMessage.not_before,
            OutboxMessage.expires_at,
            OutboxMessage.debt_id,
            OutboxMessage.dedupe_key,
        )
        .execution_options(synchronize_session=False)
    )
    rows = (await session.execute(stmt)).all()
    return [ClaimedMessage(*row) for row in rows]


async def mark_sent(
    session: AsyncSession,
    ids: Sequence[int],
    *,
    worker: str,
    now: datetime,
    telegram_message_id: int | None,
    attempts: int | None = None,
) -> int:
    stmt = (
        update(OutboxMessage)
        .where(
            OutboxMessage.id.in_(list(ids)),
            OutboxMessage.status == SENDING,
            OutboxMessage.claimed_by == worker,
        )
        .values(
            status=DeliveryStatus.SENT.value,
            sent_at=now,
            telegram_message_id=telegram_message_id,
            last_error=None,
            **({} if attempts is None else {"attempts": attempts}),
        )
        .execution_options(synchronize_session=False)
    )
    return (await session.execute(stmt)).rowcount or 0


async def mark_sent_many(
    session: AsyncSession,
    marks: Sequence[tuple[int, int | None, int]],
    *,
    worker: str,
    now: datetime,
) -> int:
    """Mark many rows sent at once: (row id, telegram message id, attempts) each.

    A row this worker claimed is marked; so is one that went back to 'pending' meanwhile (a
    new active sender released the claims of the one it took over from, and is waiting out
    the chat's interval before sending it again): it was delivered, so it is not sent twice.
    A row another worker has claimed since is left to that worker.
    """
    if not marks:
        return 0
    table = OutboxMessage.__table__
    stmt = (
        table.update()
        .where(
            table.c.id == bindparam("row_id"),
            or_(and_(table.c.status == SENDING, table.c.claimed_by == worker),
                table.c.status == PENDING),
        )
        .values(
            status=DeliveryStatus.SENT.value,
            sent_at=now,
            telegram_message_id=bindparam("message_id"),
            attempts=bindparam("tries"),
            last_error=None,
        )
    )
    # In id order, so two transactions marking rows never wait for each other in a cycle.
    params = [
        {"row_id": row_id, "message_id": message_id, "tries": attempts}
        for row_id, message_id, attempts in sorted(marks)
    ]
    await session.execute(stmt, params)
    return len(params)


async def settle(
    session: AsyncSession,
    ids: Sequence[int],
    *,
    worker: str,
    status: DeliveryStatus,
    error: str | None,
    not_before: datetime | None = None,
    attempts: int | None = None,
) -> int:
    """Finish a claim: back to 'pending' (with a new not_before) or to a final state."""
    values: dict[str, Any] = {"status": status.value, "last_error": (error or "")[:300] or None}
    if attempts is not None:
        values["attempts"] = attempts
    if status == DeliveryStatus.PENDING:
        values.update(claimed_by=None, claimed_at=None)
        if not_before is not None:
            values["not_before"] = not_before
    stmt = (
        update(OutboxMessage)
        .where(
            OutboxMessage.id.in_(list(ids)),
            OutboxMessage.status == SENDING,
            OutboxMessage.claimed_by == worker,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return (await session.execute(stmt)).rowcount or 0


async def refresh_claims(session: AsyncSession, *, worker: str, now: datetime) -> int:
    """A worker's heartbeat: its claims are not stale while it lives."""
    # SKIP LOCKED: a row being marked sent right now needs no heartbeat, and waiting for it
    # (in another lock order) could deadlock.
    mine = (
        select(OutboxMessage.id)
        .where(OutboxMessage.status == SENDING, OutboxMessage.claimed_by == worker)
        .order_by(OutboxMessage.id)
        .with_for_update(skip_locked=True)
    )
    stmt = (
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(mine))
        .values(claimed_at=now)
        .execution_options(synchronize_session=False)
    )
    return (await session.execute(stmt)).rowcount or 0


async def release_stale_claims(session: AsyncSession, *, older_than: datetime) -> int:
    """Claims whose worker went away (crash, kill) go back to 'pending'. A message that was
    in flight at the crash may then go out twice: at most the messages in flight.
    """
    stale = (
        select(OutboxMessage.id)
        .where(OutboxMessage.status == SENDING, OutboxMessage.claimed_at < older_than)
        .order_by(OutboxMessage.id)
        .with_for_update(skip_locked=True)
    )
    stmt = (
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(stale))
        .values(status=PENDING, claimed_by=None, claimed_at=None)
        .execution_options(synchronize_session=False)
    )
    return (await session.execute(stmt)).rowcount or 0


async def release_claims_of_others(
    session: AsyncSession, *, worker: str, not_before: datetime | None = None
) -> int:
    """Every claim not held by `worker` goes back to 'pending' (a new active sender taking
    over from one that died or lost its lease), due no earlier than `not_before`."""
    others = (
        select(OutboxMessage.id)
        .where(OutboxMessage.status == SENDING,
               or_(OutboxMessage.claimed_by.is_(None), OutboxMessage.claimed_by != worker))
        .order_by(OutboxMessage.id)
        .with_for_update(skip_locked=True)
    )
    stmt = (
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(others))
        .values(status=PENDING, claimed_by=None, claimed_at=None,
                **({} if not_before is None else {
                    "not_before": func.greatest(OutboxMessage.not_before, not_before)
                    if _dialect(session) == "postgresql"
                    else func.max(OutboxMessage.not_before, not_before)}))
        .execution_options(synchronize_session=False)
    )
    return (await session.execute(stmt)).rowcount or 0


async def drop_expired(session: AsyncSession, *, now: datetime) -> list[tuple[int, str]]:
    """Pending rows whose moment has passed (the threshold a reminder warned of is behind
    us) become 'dropped'. Returns (id, purpose) of each, for the record.
    """
    stmt = (
        update(OutboxMessage)
        .where(
            OutboxMessage.status == PENDING,
            OutboxMessage.expires_at.is_not(None),
            OutboxMessage.expires_at <= now,
        )
        .values(status=DeliveryStatus.DROPPED.value, last_error="expired before delivery")
        .returning(OutboxMessage.id, OutboxMessage.purpose)
        .execution_options(synchronize_session=False)
    )
    return [(row[0], row[1]) for row in (await session.execute(stmt)).all()]


async def cancel_reminders_of_closed_debts(session: AsyncSession) -> int:
    """Pending reminders whose debt is no longer outstanding (paid, cancelled, withdrawn)."""
    closed = exists().where(DebtRow.id == OutboxMessage.debt_id, DebtRow.status != OUTSTANDING)
    return await cancel_pending(
        session,
        OutboxMessage.purpose == OutboxPurpose.REMINDER.value,
        OutboxMessage.debt_id.is_not(None),
        closed,
        reason="debt closed",
    )


async def cancel_for_inactive_chats(session: AsyncSession) -> int:
    """Pending rows for chats that blocked the bot: whoever queued them, they never go."""
    inactive = exists().where(Chat.id == OutboxMessage.chat_id, Chat.active.is_(False))
    return await cancel_pending(session, inactive, reason="chat inactive")


async def next_due_at(session: AsyncSession) -> datetime | None:
    stmt = select(func.min(OutboxMessage.not_before)).where(OutboxMessage.status == PENDING)
    return (await session.execute(stmt)).scalar_one_or_none()


async def counts_by_status(session: AsyncSession) -> dict[str, int]:
    stmt = select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    return {status: count for status, count in (await session.execute(stmt)).all()}


async def try_advisory_lock(session: AsyncSession, key: int) -> bool:
    """A transaction-scoped PostgreSQL advisory lock (the planner takes one so that two
    instances never plan at once). SQLite has one writer, so it always answers True.
    """
    if _dialect(session) != "postgresql":
        return True
    result = await session.execute(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": key})
    return bool(result.scalar_one())


class OutboxRepository(Repository):
    """What is to be sent (outbox) and the planner's state: the only writer of their tables."""

    __slots__ = ()

    # -- added for ingest
    async def add_if_new(self, row: dict[str, Any]) -> bool:
        """Queue one message (services.outbox.outbox_row) unless its dedupe_key exists."""
        return await insert_if_new(self._db, row)  # type: ignore[arg-type]

    async def cancel_reminders_of_debt(self, debt_id: int) -> int:
        """A debt was paid: its pending reminders never go out."""
        return await cancel_pending(
            self._db,  # type: ignore[arg-type]
            OutboxMessage.debt_id == debt_id,
            OutboxMessage.purpose == OutboxPurpose.REMINDER.value,
            reason="debt closed",
        )

    async def cancel_for_closed_debts(self, debt_ids: Sequence[int]) -> int:
        """Debts were closed: their pending messages (a receipt apart) never go out."""
        from debtbot.store.debts import cancel_pending_outbox

        return await cancel_pending_outbox(self._db, debt_ids)  # type: ignore[arg-type]
