"""The news planner's queries (issue #16): which chats may hear news of which debts.

Set-based: the holders a batch touched go in as id lists (chunked), and one statement per
chunk joins their chat links to the chats that want news (active, news on, not paused) and to
the holders' debts. An import of debts for nobody's chat costs one index probe per holder
and returns nothing; only linked holders' debts come back to Python to be rendered.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from debtbot.domain.debts import Debt
from debtbot.domain.messages import DeliveryStatus
from debtbot.store.bulk import Driver, chunks, row_converter
from debtbot.store.mapping import DEBT_COLUMNS, debt_from_row
from debtbot.store.models import Chat, ChatLink, DebtRow, OutboxMessage

NEWS_PREFIX = "news"
OUTBOX = OutboxMessage.__table__

_DEBT_COLUMNS = (*DEBT_COLUMNS, DebtRow.person_id, DebtRow.company_id)
_CHAT_COLUMNS = (
    Chat.id.label("chat_id"), Chat.language.label("chat_language"),
    Chat.discreet.label("chat_discreet"), Chat.muted_kinds.label("chat_muted"),
)


def news_key(what: str, debt_id: int, chat_id: int, *extra: object) -> str:
    """The outbox key of one piece of news: planning it again finds the key, sends nothing."""
    return ":".join([NEWS_PREFIX, what, str(debt_id), str(chat_id), *map(str, extra)])


@dataclass(frozen=True, slots=True)
class Recipient:
    """A debt of a linked holder, and one chat that may hear news of it."""

    debt_id: int
    debt: Debt
    source: str
    person_id: int | None
    company_id: int | None
    chat_id: int
    language: str
    discreet: bool

    @property
    def key(self) -> tuple[str, str]:
        return (self.source, self.debt.reference)


def _wants_news(now: datetime) -> Any:
    return and_(
        Chat.active.is_(True),
        Chat.news_enabled.is_(True),
        or_(Chat.snoozed_until.is_(None), Chat.snoozed_until <= now),
    )


@dataclass(frozen=True, slots=True)
class Pair:
    """A debt and a chat that may hear of it, without the debt's details (a file import)."""

    debt_id: int
    key: tuple[str, str]
    open: bool
    chat_id: int


async def news_pairs(
    session: AsyncSession, *, person_ids: Iterable[int], company_ids: Iterable[int],
    now: datetime,
) -> list[Pair]:
    """news_recipients without the debts' details: which chat may hear of which debt of
    these holders. One statement per chunk of holders, straight through the driver (an
    array on PostgreSQL): an import batch asks this for its thousands of holders."""
    driver = await Driver.of(session)
    (when,) = row_converter(driver.dialect, Chat.__table__, ("snoozed_until",))([now])
    yes = "true" if driver.postgres else "1"
    muted = "c.muted_kinds::text" if driver.postgres else "c.muted_kinds"
    found: list[Pair] = []
    seen: set[tuple[int, int]] = set()
    for column, person in (("person_id", True), ("company_id", False)):
        ids = sorted(set(person_ids if person else company_ids))
        for chunk in chunks(ids):
            if driver.postgres:
                holders, params = f"l.{column} = ANY($2)", [when, chunk]
            else:
                holders = f"l.{column} IN ({', '.join('?' * len(chunk))})"
                params = [*chunk, when]  # in the order of the ? marks
            sql = (
                f"SELECT d.id, d.kind, d.source, d.reference, d.status, c.id, {muted} "  # noqa: S608
                "FROM chat_links l JOIN chats c ON c.id = l.chat_id "
                f"JOIN debts d ON d.{column} = l.{column} "
                f"WHERE {holders} AND c.active = {yes} AND c.news_enabled = {yes} "
                f"AND (c.snoozed_until IS NULL OR c.snoozed_until <= {driver.placeholders(1)[0]})"
                + (" AND l.company_id IS NULL" if person else "")
            )
            if driver.postgres:
                records = await driver.connection.fetch(sql, *params)
            else:
                cursor = await driver.connection.execute(sql, params)
                records = await cursor.fetchall()
                await cursor.close()
            for debt_id, kind, source, reference, status, chat_id, muted_kinds in records:
                if (debt_id, chat_id) in seen:
                    continue
                if muted_kinds and muted_kinds != "[]" and kind in json.loads(muted_kinds):
                    continue
                seen.add((debt_id, chat_id))
                found.append(Pair(debt_id, (source, reference), status == "outstanding",
                                  chat_id))
    return found


async def news_recipients(
    session: AsyncSession, *, person_ids: Iterable[int], company_ids: Iterable[int],
    now: datetime, debt_ids: Sequence[int] | None = None,
) -> list[Recipient]:
    """The debts of these holders (only `debt_ids` when given), each with every chat linked to
    its holder that wants news now. The per-kind opt-out is applied here too."""
    found: list[Recipient] = []
    seen: set[tuple[int, int]] = set()
    wanted = None if debt_ids is None else set(debt_ids)
    # First the holders that any chat holds at all, straight through the driver (an array
    # on PostgreSQL): of an import batch's thousands of holders, usually few or none.
    persons = await _linked(session, "person_id", person_ids)
    companies = await _linked(session, "company_id", company_ids)
    plans = (
        (persons, DebtRow.person_id, ChatLink.person_id, ChatLink.company_id.is_(None)),
        (companies, DebtRow.company_id, ChatLink.company_id, None),
    )
    for ids, debt_holder, link_holder, extra in plans:
        for chunk in chunks(ids):
            conditions = [link_holder.in_(chunk), _wants_news(now)]
            if extra is not None:
                conditions.append(extra)
            statement = (
                select(*_DEBT_COLUMNS, *_CHAT_COLUMNS)
                .select_from(ChatLink)
                .join(Chat, Chat.id == ChatLink.chat_id)
                .join(DebtRow, debt_holder == link_holder)
                .where(*conditions)
            )
            for row in await session.execute(statement):
                if wanted is not None and row.id not in wanted:
                    continue
                if (row.id, row.chat_id) in seen:  # two links of one chat to one holder
                    continue
                if row.kind in (row.chat_muted or ()):
                    continue
                seen.add((row.id, row.chat_id))
                found.append(Recipient(
                    row.id, debt_from_row(row), row.source, row.person_id, row.company_id,
                    row.chat_id, row.chat_language, bool(row.chat_discreet),
                ))
    return found


async def _linked(session: AsyncSession, column: str, ids: Iterable[int]) -> list[int]:
    wanted = sorted(set(ids))
    if not wanted:
        return []
    driver = await Driver.of(session)
    rows = await driver.fetch_in(ChatLink.__table__, [column], column, wanted)
    return sorted({row[0] for row in rows})


async def untold_new_debts(session: AsyncSession, debt_ids: Sequence[int]) -> set[tuple[int, int]]:
    """(debt, chat) pairs whose "new debt" message has not gone out yet: a debt closed before
    its news was sent is not news at all."""
    pairs: set[tuple[int, int]] = set()
    for chunk in chunks(debt_ids):
        statement = select(OutboxMessage.debt_id, OutboxMessage.chat_id).where(
            OutboxMessage.debt_id.in_(chunk),
            OutboxMessage.status.in_([DeliveryStatus.PENDING.value, HELD]),
            OutboxMessage.dedupe_key.like(f"{NEWS_PREFIX}:new:%"),
        )
        pairs.update((debt_id, chat_id) for debt_id, chat_id in await session.execute(statement))
    return pairs


async def holders_of(
    session: AsyncSession, debt_ids: Sequence[int]
) -> tuple[set[int], set[int]]:
    """The persons and companies holding these debts."""
    persons: set[int] = set()
    companies: set[int] = set()
    for chunk in chunks(debt_ids):
        statement = select(DebtRow.person_id, DebtRow.company_id).where(DebtRow.id.in_(chunk))
        for person_id, company_id in await session.execute(statement):
            if person_id is not None:
                persons.add(person_id)
            if company_id is not None:
                companies.add(company_id)
    return persons, companies


async def release_held(
    session: AsyncSession, *, holds: Sequence[datetime], release: datetime
) -> int:
    """The news a file import held (not_before = one of its holds) may go out from `release`."""
    released = 0
    for chunk in chunks(sorted(set(holds))):
        result = await session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.status == DeliveryStatus.PENDING.value,
                OutboxMessage.not_before.in_(chunk),
                OutboxMessage.dedupe_key.like(f"{NEWS_PREFIX}:%"),
            )
            .values(not_before=release)
            .execution_options(synchronize_session=False)
        )
        released += result.rowcount or 0  # type: ignore[attr-defined]
    return released


async def cancel_new_debt_news(session: AsyncSession, keys: Sequence[tuple[str, str]]) -> int:
    """Cancel the pending "new debt" news of the debts with these (source, reference) keys."""
    cancelled = 0
    by_source: dict[str, list[str]] = {}
    for source, reference in keys:
        by_source.setdefault(source, []).append(reference)
    for source, references in by_source.items():
        for chunk in chunks(references):
            ids = select(DebtRow.id).where(DebtRow.source == source,
                                           DebtRow.reference.in_(chunk))
            result = await session.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.status.in_([DeliveryStatus.PENDING.value, HELD]),
                    OutboxMessage.debt_id.in_(ids),
                    OutboxMessage.dedupe_key.like(f"{NEWS_PREFIX}:new:%"),
                )
                .values(status=DeliveryStatus.CANCELLED.value,
                        last_error="the file named the debt twice")
                .execution_options(synchronize_session=False)
            )
            cancelled += result.rowcount or 0  # type: ignore[attr-defined]
    return cancelled


_OUTBOX_COLUMNS = (
    "dedupe_key", "chat_id", "purpose", "priority", "debt_id", "broadcast_id", "payload",
    "status", "not_before", "expires_at", "attempts",
)


async def insert_news(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> int:
    """Insert outbox rows (services.outbox.outbox_row) unless their key exists, through the
    session's own driver connection: an import may queue tens of thousands at once, and
    the ORM's per-row work would cost more than the database's. Returns how many were new.

    PostgreSQL: COPY straight in (a key taken already: the staged INSERT … ON CONFLICT DO
    NOTHING instead); SQLite: one executemany of INSERT … ON CONFLICT DO NOTHING."""
    if not rows:
        return 0
    driver = await Driver.of(session)
    convert = row_converter(driver.dialect, OUTBOX, _OUTBOX_COLUMNS)
    payload_at = _OUTBOX_COLUMNS.index("payload")
    values = []
    for row in rows:
        stored = list(convert([row[name] for name in _OUTBOX_COLUMNS]))
        stored[payload_at] = json.dumps(row["payload"], ensure_ascii=False)
        values.append(tuple(stored))
    if driver.postgres:
        written = await driver.insert_rows(
            OUTBOX, _OUTBOX_COLUMNS, values, conflict=("dedupe_key",), returning=("id",)
        ) if not await _copy(driver, values) else values
        return len(written)
    before = driver.connection.total_changes
    names = ", ".join(_OUTBOX_COLUMNS)
    await driver.executemany(
        f"INSERT INTO outbox ({names}) "  # noqa: S608 (names are ours)
        f"VALUES ({', '.join(driver.placeholders(len(_OUTBOX_COLUMNS)))}) "
        "ON CONFLICT (dedupe_key) DO NOTHING",
        values,
    )
    return int(driver.connection.total_changes - before)


async def _copy(driver: Driver, values: list[tuple[Any, ...]]) -> bool:
    return await driver._copy_unless_taken(OUTBOX, _OUTBOX_COLUMNS, values)  # noqa: SLF001


# ----------------------------------------------------------------------------- held news

HELD = "held"  # written by a file import under its key, to be worded (never sent as it is)


async def held_news(session: AsyncSession, *, limit: int | None) -> list[tuple[int, int, int]]:
    """(row id, debt id, chat id) of held "new debt" rows, oldest first."""
    statement = (
        select(OutboxMessage.id, OutboxMessage.debt_id, OutboxMessage.chat_id)
        .where(OutboxMessage.status == HELD)
        .order_by(OutboxMessage.id)
    )
    if limit is not None:
        statement = statement.limit(limit)
    return [(row_id, debt_id, chat_id) for row_id, debt_id, chat_id
            in await session.execute(statement)]


async def held_count(session: AsyncSession, *, limit: int) -> int:
    """How many rows are held (counting at most `limit`)."""
    inner = select(OutboxMessage.id).where(OutboxMessage.status == HELD).limit(limit).subquery()
    return int(await session.scalar(select(func.count()).select_from(inner)) or 0)


async def word_held(
    session: AsyncSession, words: Sequence[tuple[int, dict[str, Any]]], *, not_before: datetime
) -> None:
    """Held rows get their words and become pending (one executemany through the driver)."""
    if not words:
        return
    driver = await Driver.of(session)
    convert = row_converter(driver.dialect, OUTBOX, ("not_before",))
    (when,) = convert([not_before])
    p = driver.placeholders(4)
    await driver.executemany(
        f"UPDATE outbox SET payload = {p[0]}, not_before = {p[1]}, status = {p[2]} "  # noqa: S608
        f"WHERE id = {p[3]} AND status = '{HELD}'",
        [(json.dumps(payload, ensure_ascii=False), when, DeliveryStatus.PENDING.value, row_id)
         for row_id, payload in words],
    )


async def cancel_held(session: AsyncSession, ids: Sequence[int], *, reason: str) -> int:
    cancelled = 0
    for chunk in chunks(ids):
        result = await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(chunk), OutboxMessage.status == HELD)
            .values(status=DeliveryStatus.CANCELLED.value, last_error=reason[:300])
            .execution_options(synchronize_session=False)
        )
        cancelled += result.rowcount or 0  # type: ignore[attr-defined]
    return cancelled
