"""The news planner's queries (issue #16): which chats may hear news of which debts. A
private detail of OutboxRepository (store.outbox): `uow.outbox.news_pairs(...)` and friends.

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

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from debtbot.domain.debts import Debt
from debtbot.store.bulk import Driver, chunks, row_converter
from debtbot.store.mapping import DEBT_COLUMNS, debt_from_row
from debtbot.store.models import Chat, ChatLink, DebtRow

NEWS_PREFIX = "news"
HELD = "held"  # written by a file import under its key, to be worded (never sent as it is)

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
