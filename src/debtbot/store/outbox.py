"""The outbox: what is to be sent, and the planners' state. OutboxRepository is the only
writer of the outbox and planner_state tables: it queues (once under a key), claims,
settles, cancels and recovers messages, and runs the planners' set-based queries (their SQL
lives in store.reminders and store.news, its private details).

Claiming is where several sender instances meet. On PostgreSQL the candidates are picked
with `FOR UPDATE SKIP LOCKED` inside the claiming UPDATE, so two workers never take the same
row and neither waits for the other. SQLite has one writer at a time: the claiming UPDATE
runs inside a write transaction (`BEGIN IMMEDIATE` semantics via the first write), which is
the same guarantee for the one process that writes.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import and_, any_, bindparam, exists, func, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from debtbot.domain.messages import DeliveryStatus, OutboxPurpose, outbox_row
from debtbot.store import news as _news
from debtbot.store import reminders as _reminders
from debtbot.store.bulk import Driver, chunks, row_converter
from debtbot.store.models import Chat, DebtRow, OutboxMessage, PlannerState
from debtbot.store.news import HELD, NEWS_PREFIX, Pair, Recipient, news_key
from debtbot.store.reminders import KEY_PREFIX, Candidate, reminder_key
from debtbot.store.repository import Executor, Repository

__all__ = [
    "HELD", "Candidate", "ClaimedMessage", "Contention", "OutboxRepository", "Pair",
    "Recipient", "contention", "news_key", "reminder_key",
]

PENDING = DeliveryStatus.PENDING.value
SENDING = DeliveryStatus.SENDING.value
CANCELLED = DeliveryStatus.CANCELLED.value
OUTSTANDING = "outstanding"
OUTBOX = OutboxMessage.__table__
PLANNER = "reminders"  # the planner_state row of the reminder sweep
PLANNER_LOCK = 0x44656274  # pg advisory lock key ("Debt")

OutboxRow = dict[str, Any]  # the column values of one row: domain.messages.outbox_row


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




class Contention(Exception):
    """The database gave up on a statement that may succeed when tried again (a deadlock
    victim, a serialization failure, a lost connection): what `contention()` raises."""

    def __init__(self, cause: str) -> None:
        super().__init__(cause)
        self.cause = cause


@asynccontextmanager
async def contention() -> AsyncIterator[None]:
    """Around a unit of work that may simply be run again: the driver's errors (commit
    included) come out as `Contention`, so the service retries without knowing the driver."""
    try:
        yield
    except DBAPIError as exc:
        raise Contention(type(exc.orig).__name__) from exc


def _dialect(db: Executor) -> str:
    if isinstance(db, AsyncConnection):
        return db.dialect.name
    return db.get_bind().dialect.name


def _insert(db: Executor):  # type: ignore[no-untyped-def]
    if _dialect(db) == "postgresql":
        return postgresql.insert(OutboxMessage)
    return sqlite.insert(OutboxMessage)


def _quiet_filter(quiet: bool, quiet_end: datetime | None, loud_purposes: Iterable[str]) -> Any:
    if not quiet:
        return None
    # In quiet hours only what a citizen asked for goes out, and what cannot wait for the
    # morning (its threshold comes before quiet hours end).
    return or_(
        OutboxMessage.purpose.in_(list(loud_purposes)),
        and_(OutboxMessage.expires_at.is_not(None), OutboxMessage.expires_at <= quiet_end),
    )


_COLUMNS = (
    "dedupe_key", "chat_id", "purpose", "priority", "debt_id", "broadcast_id", "payload",
    "status", "not_before", "expires_at", "attempts",
)


async def _insert_rows(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> int:
    """Insert outbox rows (domain.messages.outbox_row) unless their key exists, through the
    session's own driver connection: an import may queue tens of thousands at once, and
    the ORM's per-row work would cost more than the database's. Returns how many were new.

    PostgreSQL: COPY straight in (a key taken already: the staged INSERT … ON CONFLICT DO
    NOTHING instead); SQLite: one executemany of INSERT … ON CONFLICT DO NOTHING."""
    if not rows:
        return 0
    driver = await Driver.of(session)
    convert = row_converter(driver.dialect, OUTBOX, _COLUMNS)
    payload_at = _COLUMNS.index("payload")
    values = []
    for row in rows:
        stored = list(convert([row[name] for name in _COLUMNS]))
        stored[payload_at] = json.dumps(row["payload"], ensure_ascii=False)
        values.append(tuple(stored))
    if driver.postgres:
        written = await driver.insert_rows(
            OUTBOX, _COLUMNS, values, conflict=("dedupe_key",), returning=("id",)
        ) if not await _copy(driver, values) else values
        return len(written)
    before = driver.connection.total_changes
    names = ", ".join(_COLUMNS)
    await driver.executemany(
        f"INSERT INTO outbox ({names}) "  # noqa: S608 (names are ours)
        f"VALUES ({', '.join(driver.placeholders(len(_COLUMNS)))}) "
        "ON CONFLICT (dedupe_key) DO NOTHING",
        values,
    )
    return int(driver.connection.total_changes - before)


async def _copy(driver: Driver, values: list[tuple[Any, ...]]) -> bool:
    return await driver.copy_unless_taken(OUTBOX, _COLUMNS, values)


class OutboxRepository(Repository):
    """What is to be sent (outbox) and the planners' state (planner_state): the only writer
    of their tables."""

    __slots__ = ()

    # -- queueing

    async def enqueue(
        self,
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

        In the caller's unit of work: it goes out only if the change that caused it commits.
        Raises domain.messages.InvalidMessage for a payload Telegram would refuse.
        """
        row = outbox_row(
            dedupe_key=dedupe_key, chat_id=chat_id, purpose=purpose, payload=payload,
            not_before=not_before, priority=priority, debt_id=debt_id,
            broadcast_id=broadcast_id, expires_at=expires_at,
        )
        stmt = (
            _insert(self._db)
            .values(**row)
            .on_conflict_do_nothing(index_elements=["dedupe_key"])
            .returning(OutboxMessage.id)
        )
        return (await self._db.execute(stmt)).scalar_one_or_none() is not None

    async def add_many(self, rows: Sequence[OutboxRow]) -> int:
        """Queue many rows (domain.messages.outbox_row, already checked); rows whose key
        exists are skipped. Returns how many were new. (The planners' and imports' door.)"""
        return await _insert_rows(self._session(), rows)

    # -- cancelling

    async def cancel(
        self,
        *,
        reason: str,
        chat_id: int | None = None,
        debt_ids: Sequence[int] | None = None,
        debt_keys: Sequence[tuple[str, str]] | None = None,
        broadcast_id: int | None = None,
        ids: Sequence[int] | None = None,
        purpose: OutboxPurpose | None = None,
        except_purpose: OutboxPurpose | None = None,
        kind: str | None = None,
        news: Literal["all", "new"] | None = None,
        held: bool = False,
        debt_closed: bool = False,
        chat_inactive: bool = False,
    ) -> int:
        """The one way a message that has not gone out is taken back: the pending rows that
        match every criterion given become 'cancelled', `reason` recorded. Returns how many.

        chat_id, debt_ids, broadcast_id, ids: whose; debt_keys: the debts with these (source,
        reference); purpose / except_purpose; kind: about a debt of this kind; news: "all"
        the news (of new and changed debts, and of thresholds passed), "new" the news of new
        debts only; held: also the rows a file import holds, not worded yet; debt_closed: about
        a debt no longer outstanding; chat_inactive: for a chat that blocked the bot.
        """
        conditions: list[Any] = [
            OutboxMessage.status.in_([PENDING, HELD]) if held else OutboxMessage.status == PENDING
        ]
        if chat_id is not None:
            conditions.append(OutboxMessage.chat_id == chat_id)
        if broadcast_id is not None:
            conditions.append(OutboxMessage.broadcast_id == broadcast_id)
        if purpose is not None:
            conditions.append(OutboxMessage.purpose == purpose.value)
        if except_purpose is not None:
            conditions.append(OutboxMessage.purpose != except_purpose.value)
        if kind is not None:
            conditions.append(
                OutboxMessage.debt_id.in_(select(DebtRow.id).where(DebtRow.kind == kind))
            )
        if news == "all":
            conditions.append(or_(OutboxMessage.dedupe_key.like(f"{NEWS_PREFIX}:%"),
                                  OutboxMessage.dedupe_key.like(f"{KEY_PREFIX}:%:passed.%")))
        elif news == "new":
            conditions.append(OutboxMessage.dedupe_key.like(f"{NEWS_PREFIX}:new:%"))
        if debt_closed:
            conditions += [
                OutboxMessage.debt_id.is_not(None),
                exists().where(DebtRow.id == OutboxMessage.debt_id, DebtRow.status != OUTSTANDING),
            ]
        if chat_inactive:
            conditions.append(
                exists().where(Chat.id == OutboxMessage.chat_id, Chat.active.is_(False))
            )
        # Lists go in chunks (a closing import names thousands of debts).
        if debt_keys is not None:
            by_source: dict[str, list[str]] = {}
            for source, reference in debt_keys:
                by_source.setdefault(source, []).append(reference)
            choices = [
                OutboxMessage.debt_id.in_(select(DebtRow.id).where(
                    DebtRow.source == source, DebtRow.reference.in_(chunk)))
                for source, references in by_source.items() for chunk in chunks(references)
            ]
        elif debt_ids is not None:
            choices = [OutboxMessage.debt_id.in_(chunk) for chunk in chunks(debt_ids)]
        elif ids is not None:
            choices = [OutboxMessage.id.in_(chunk) for chunk in chunks(ids)]
        else:
            choices = [None]
        cancelled = 0
        for choice in choices:
            stmt = (
                update(OutboxMessage)
                .where(*conditions, *(() if choice is None else (choice,)))
                .values(status=CANCELLED, last_error=reason[:300])
                .execution_options(synchronize_session=False)
            )
            cancelled += (await self._db.execute(stmt)).rowcount or 0  # type: ignore[attr-defined]
        return cancelled

    # -- claiming and settling (the sender)

    async def claim(
        self,
        *,
        worker: str,
        now: datetime,
        limit: int,
        quiet: bool = False,
        quiet_end: datetime | None = None,
        loud_purposes: Iterable[str] = (OutboxPurpose.REPLY.value, OutboxPurpose.RECEIPT.value),
        exclude_chats: Iterable[int] = (),
    ) -> list[ClaimedMessage]:
        """Take up to `limit` due rows, most urgent first, and with each reminder every other
        due reminder of the same chat (they go out as one message). Marks them 'sending'.
        """
        conditions = [
            OutboxMessage.status == PENDING,
            OutboxMessage.not_before <= now,
            or_(OutboxMessage.expires_at.is_(None), OutboxMessage.expires_at > now),
        ]
        # A reminder about a debt closed a moment ago is not sent even if its cancellation
        # has not reached this row yet (the payment and the claim raced).
        conditions.append(
            or_(
                OutboxMessage.purpose != OutboxPurpose.REMINDER.value,
                OutboxMessage.debt_id.is_(None),
                exists().where(DebtRow.id == OutboxMessage.debt_id,
                               DebtRow.status == OUTSTANDING),
            )
        )
        quiet_clause = _quiet_filter(quiet, quiet_end, loud_purposes)
        if quiet_clause is not None:
            conditions.append(quiet_clause)
        excluded = list(exclude_chats)
        if excluded:
            conditions.append(OutboxMessage.chat_id.not_in(excluded))
        postgres = _dialect(self._db) == "postgresql"
        pick = (
            select(OutboxMessage.id)
            .where(*conditions)
            .order_by(OutboxMessage.priority, OutboxMessage.not_before, OutboxMessage.id)
            .limit(limit)
        )
        picked: Any = OutboxMessage.id.in_(pick)
        if postgres:
            # = ANY(ARRAY(SELECT … LIMIT n FOR UPDATE SKIP LOCKED)): the pick runs once, as
            # an init plan. Written as IN (SELECT …), PostgreSQL may rescan the subquery for
            # each row it updates, and every rescan skips the rows this very statement has
            # just locked and takes the next n: the UPDATE then claimed every due row, not n.
            picked = OutboxMessage.id == any_(
                func.array(pick.with_for_update(skip_locked=True).scalar_subquery())
            )
        # One UPDATE … WHERE id IN (SELECT …) statement: on SQLite the first statement of the
        # transaction is then a write, so it never has to upgrade a read lock (which SQLite
        # refuses at once, without waiting, when another connection writes).
        claimed = await self._mark_sending(picked, worker=worker, now=now)
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
            claimed.extend(await self._mark_sending(OutboxMessage.id.in_(siblings),
                                                    worker=worker, now=now))
        return claimed

    async def _mark_sending(
        self, chosen: Any, *, worker: str, now: datetime
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
        rows = (await self._db.execute(stmt)).all()
        return [ClaimedMessage(*row) for row in rows]

    async def mark_sent_many(
        self,
        marks: Sequence[tuple[int, int | None, int]],
        *,
        worker: str,
        now: datetime,
    ) -> int:
        """Mark many rows sent at once: (row id, telegram message id, attempts) each.

        A row this worker claimed is marked; so is one that went back to 'pending' meanwhile
        (a new active sender released the claims of the one it took over from, and is waiting
        out the chat's interval before sending it again): it was delivered, so it is not sent
        twice. A row another worker has claimed since is left to that worker.
        """
        if not marks:
            return 0
        stmt = (
            OUTBOX.update()
            .where(
                OUTBOX.c.id == bindparam("row_id"),
                or_(and_(OUTBOX.c.status == SENDING, OUTBOX.c.claimed_by == worker),
                    OUTBOX.c.status == PENDING),
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
        await self._db.execute(stmt, params)
        return len(params)

    async def settle(
        self,
        ids: Sequence[int],
        *,
        worker: str,
        status: DeliveryStatus,
        error: str | None,
        not_before: datetime | None = None,
        attempts: int | None = None,
    ) -> int:
        """Finish a claim: back to 'pending' (with a new not_before) or to a final state."""
        values: dict[str, Any] = {"status": status.value,
                                  "last_error": (error or "")[:300] or None}
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
        return (await self._db.execute(stmt)).rowcount or 0  # type: ignore[attr-defined]

    async def refresh_claims(self, *, worker: str, now: datetime) -> int:
        """A worker's heartbeat: its claims are not stale while it lives."""
        # SKIP LOCKED: a row being marked sent right now needs no heartbeat, and waiting for
        # it (in another lock order) could deadlock.
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
        return (await self._db.execute(stmt)).rowcount or 0  # type: ignore[attr-defined]

    async def release_stale_claims(self, *, older_than: datetime) -> int:
        """Claims whose worker went away (crash, kill) go back to 'pending'. A message that
        was in flight at the crash may then go out twice: at most the messages in flight.
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
        return (await self._db.execute(stmt)).rowcount or 0  # type: ignore[attr-defined]

    async def release_claims_of_others(
        self, *, worker: str, not_before: datetime | None = None
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
        later = func.greatest if _dialect(self._db) == "postgresql" else func.max
        stmt = (
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(others))
            .values(status=PENDING, claimed_by=None, claimed_at=None,
                    **({} if not_before is None else
                       {"not_before": later(OutboxMessage.not_before, not_before)}))
            .execution_options(synchronize_session=False)
        )
        return (await self._db.execute(stmt)).rowcount or 0  # type: ignore[attr-defined]

    async def drop_expired(self, *, now: datetime) -> list[tuple[int, str]]:
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
        return [(row[0], row[1]) for row in (await self._db.execute(stmt)).all()]

    async def next_due_at(self) -> datetime | None:
        stmt = select(func.min(OutboxMessage.not_before)).where(OutboxMessage.status == PENDING)
        return (await self._db.execute(stmt)).scalar_one_or_none()

    async def counts_by_status(self) -> dict[str, int]:
        stmt = select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        return {status: count for status, count in (await self._db.execute(stmt)).all()}

    # -- the reminder planner

    async def lock_planner(self) -> bool:
        """A transaction-scoped PostgreSQL advisory lock, so that two instances never plan at
        once (False: another planner holds it). SQLite has one writer: always True."""
        if _dialect(self._db) != "postgresql":
            return True
        result = await self._db.execute(text("SELECT pg_try_advisory_xact_lock(:key)"),
                                        {"key": PLANNER_LOCK})
        return bool(result.scalar_one())

    async def begin_sweep(self, *, now: datetime) -> datetime | None:
        """Start a sweep: returns how far the previous sweep planned (None on the first).

        The first statement writes, so on SQLite the transaction holds the write lock from
        the start instead of failing to upgrade a read lock later.
        """
        insert = postgresql.insert if _dialect(self._db) == "postgresql" else sqlite.insert
        created = await self._db.execute(
            insert(PlannerState)
            .values(name=PLANNER, planned_until=now)
            .on_conflict_do_nothing(index_elements=["name"])
            .returning(PlannerState.name)
        )
        if created.scalar_one_or_none() is not None:
            return None
        return (
            await self._db.execute(
                select(PlannerState.planned_until).where(PlannerState.name == PLANNER)
            )
        ).scalar_one()

    async def end_sweep(self, *, now: datetime) -> None:
        await self._db.execute(
            update(PlannerState)
            .where(PlannerState.name == PLANNER, PlannerState.planned_until < now)
            .values(planned_until=now)
        )

    async def reminder_candidates(
        self,
        *,
        kind: str,
        milestone: str,
        lead_days: int,
        now: datetime,
        ranges: Sequence[tuple[date, date]] = (),
        dates: Sequence[date] = (),
        skip_planned: bool = True,
        audience: Literal["reminders", "news"] = "reminders",
        registry_column: str | None = None,
        registry_range: tuple[date, date] | None = None,
    ) -> list[Candidate]:
        """The open debts of `kind` whose clock date (domain.milestones.clock_field) lies in
        `ranges` or `dates`, each with every chat that may hear about it now (active, the
        audience's switch on, kind not muted, not snoozed), minus those whose reminder
        (`milestone`, `lead_days`) is planned already unless not `skip_planned`.
        `registry_column`: the debts that carry this registry date are found by it, in
        `registry_range`, instead. One set-based query (store.reminders)."""
        return await _reminders.candidates(
            self._db, dialect=_dialect(self._db), kind=kind, ranges=ranges, dates=dates,
            milestone=milestone, lead_days=lead_days, now=now, skip_planned=skip_planned,
            audience=audience, registry_column=registry_column, registry_range=registry_range,
        )

    # -- the news planner (issue #16)

    async def news_pairs(
        self, *, person_ids: Iterable[int], company_ids: Iterable[int], now: datetime
    ) -> list[Pair]:
        """Which chat may hear news of which debt of these holders (no details): one
        statement per chunk of holders, straight through the driver (store.news)."""
        return await _news.news_pairs(self._session(), person_ids=person_ids,
                                      company_ids=company_ids, now=now)

    async def news_recipients(
        self, *, person_ids: Iterable[int], company_ids: Iterable[int], now: datetime,
        debt_ids: Sequence[int] | None = None,
    ) -> list[Recipient]:
        """The debts of these holders (only `debt_ids` when given), each with every chat
        linked to its holder that wants news now, the per-kind opt-out applied (store.news)."""
        return await _news.news_recipients(self._session(), person_ids=person_ids,
                                           company_ids=company_ids, now=now, debt_ids=debt_ids)

    async def untold_new_debts(self, debt_ids: Sequence[int]) -> set[tuple[int, int]]:
        """(debt, chat) pairs whose "new debt" message has not gone out yet: a debt closed
        before its news was sent is not news at all."""
        pairs: set[tuple[int, int]] = set()
        for chunk in chunks(debt_ids):
            statement = select(OutboxMessage.debt_id, OutboxMessage.chat_id).where(
                OutboxMessage.debt_id.in_(chunk),
                OutboxMessage.status.in_([PENDING, HELD]),
                OutboxMessage.dedupe_key.like(f"{NEWS_PREFIX}:new:%"),
            )
            pairs.update((debt_id, chat_id)
                         for debt_id, chat_id in await self._db.execute(statement))
        return pairs

    async def holders_of(self, debt_ids: Sequence[int]) -> tuple[set[int], set[int]]:
        """The persons and companies holding these debts."""
        persons: set[int] = set()
        companies: set[int] = set()
        for chunk in chunks(debt_ids):
            statement = select(DebtRow.person_id, DebtRow.company_id).where(
                DebtRow.id.in_(chunk))
            for person_id, company_id in await self._db.execute(statement):
                if person_id is not None:
                    persons.add(person_id)
                if company_id is not None:
                    companies.add(company_id)
        return persons, companies

    async def release_held(self, *, holds: Sequence[datetime], release: datetime) -> int:
        """The news a file import held (not_before = one of its holds) may go out from
        `release`."""
        released = 0
        for chunk in chunks(sorted(set(holds))):
            result = await self._db.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.status == PENDING,
                    OutboxMessage.not_before.in_(chunk),
                    OutboxMessage.dedupe_key.like(f"{NEWS_PREFIX}:%"),
                )
                .values(not_before=release)
                .execution_options(synchronize_session=False)
            )
            released += result.rowcount or 0  # type: ignore[attr-defined]
        return released

    async def held_news(self, *, limit: int | None) -> list[tuple[int, int, int]]:
        """(row id, debt id, chat id) of held "new debt" rows, oldest first."""
        statement = (
            select(OutboxMessage.id, OutboxMessage.debt_id, OutboxMessage.chat_id)
            .where(OutboxMessage.status == HELD)
            .order_by(OutboxMessage.id)
        )
        if limit is not None:
            statement = statement.limit(limit)
        return [(row_id, debt_id, chat_id) for row_id, debt_id, chat_id
                in await self._db.execute(statement)]

    async def held_count(self, *, limit: int) -> int:
        """How many rows are held (counting at most `limit`)."""
        inner = (select(OutboxMessage.id).where(OutboxMessage.status == HELD).limit(limit)
                 .subquery())
        found = (await self._db.execute(select(func.count()).select_from(inner))).scalar()
        return int(found or 0)

    async def word_held(
        self, words: Sequence[tuple[int, dict[str, Any]]], *, not_before: datetime
    ) -> None:
        """Held rows get their words and become pending (one executemany through the
        driver)."""
        if not words:
            return
        driver = await Driver.of(self._session())
        convert = row_converter(driver.dialect, OUTBOX, ("not_before",))
        (when,) = convert([not_before])
        p = driver.placeholders(4)
        await driver.executemany(
            f"UPDATE outbox SET payload = {p[0]}, not_before = {p[1]}, status = {p[2]} "  # noqa: S608
            f"WHERE id = {p[3]} AND status = '{HELD}'",
            [(json.dumps(payload, ensure_ascii=False), when, PENDING, row_id)
             for row_id, payload in words],
        )

    def _session(self) -> AsyncSession:
        # The driver-level paths share the unit of work's transaction (store.bulk.Driver).
        assert isinstance(self._db, AsyncSession), "this runs in a unit of work"
        return self._db

    # -- added for staff

    async def queue_for_chats(
        self,
        chosen: Any,
        *,
        broadcast_id: int,
        key_prefix: str,
        payloads: dict[tuple[str, bool], dict[str, Any]],
        default_key: tuple[str, bool],
        purpose: str,
        priority: int,
        not_before: datetime,
    ) -> int:
        """INSERT … SELECT one row per chat of `chosen` (a store.broadcasts.ChatSelection),
        the payload chosen by the chat's (language, discreet), key `key_prefix` + chat id.
        Rows whose key exists are skipped (the planner may run twice). Returns rows inserted.
        """
        from sqlalchemy import JSON, String, case, cast, literal

        from debtbot.store.broadcasts import selection_condition

        language_payload = case(
            *[
                (and_(Chat.language == lang, Chat.discreet.is_(discreet)),
                 literal(payload, JSON))
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
            literal(PENDING, String),
            literal(not_before, OutboxMessage.not_before.type),
            literal(0),
        ).where(selection_condition(chosen))
        stmt = (
            _insert(self._db)  # type: ignore[arg-type]
            .from_select(
                ["dedupe_key", "chat_id", "purpose", "priority", "broadcast_id", "payload",
                 "status", "not_before", "attempts"],
                select_rows,
            )
            .on_conflict_do_nothing(index_elements=["dedupe_key"])
        )
        result = await self._db.execute(stmt)
        return max(result.rowcount or 0, 0)

    async def delete_final_before(
        self, *, final_statuses: Sequence[str], before: datetime, limit: int
    ) -> int:
        """Delete up to `limit` rows in a final state whose last event is before `before`."""
        from sqlalchemy import delete

        last_event = func.coalesce(OutboxMessage.sent_at, OutboxMessage.claimed_at,
                                   OutboxMessage.created_at)
        ids = (
            select(OutboxMessage.id)
            .where(OutboxMessage.status.in_(list(final_statuses)), last_event < before)
            .limit(limit)
            .scalar_subquery()
        )
        result = await self._db.execute(
            delete(OutboxMessage)
            .where(OutboxMessage.id.in_(ids))
            .execution_options(synchronize_session=False)
        )
        return result.rowcount or 0
