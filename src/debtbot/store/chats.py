"""Chats with the bot and the identities (persons, companies) they have proven."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Table, delete, func, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from debtbot.store.bulk import dialect_name
from debtbot.store.models import Chat, ChatLink
from debtbot.store.repository import Repository

CHATS = Chat.__table__
LINKS = ChatLink.__table__


async def get_chat(session: AsyncSession, chat_id: int) -> Chat | None:
    return await session.get(Chat, chat_id)


async def ensure_chat(session: AsyncSession, chat_id: int, *, language: str) -> Chat:
    """The chat's row, created with `language` at first contact (safe under concurrency)."""
    chat = await session.get(Chat, chat_id)
    if chat is not None:
        return chat
    await _insert_ignore(session, CHATS, {"id": chat_id, "language": language}, ("id",))
    chat = await session.get(Chat, chat_id, populate_existing=True)
    assert chat is not None
    return chat


async def insert_chat(
    session: AsyncSession, chat_id: int, *, language: str, now: datetime
) -> None:
    """Create the chat at first contact, active and seen `now` (a concurrent first contact
    wins quietly: its row stays)."""
    row = {"id": chat_id, "language": language, "active": True, "last_seen_at": now}
    await _insert_ignore(session, CHATS, row, ("id",))


async def set_active(session: AsyncSession, chat_id: int, active: bool) -> None:
    await session.execute(update(CHATS).where(CHATS.c.id == chat_id).values(active=active))


async def link_person(
    session: AsyncSession, *, chat_id: int, person_id: int, verified_by: str
) -> bool:
    """Record that the chat proved it is this person; False if it already had."""
    return await _link(session, chat_id, person_id, None, verified_by)


async def link_company(
    session: AsyncSession,
    *,
    chat_id: int,
    company_id: int,
    verified_by: str,
    person_id: int | None = None,
) -> bool:
    """Record that the chat acts for this company (through `person_id`, its representative)."""
    return await _link(session, chat_id, person_id, company_id, verified_by)


async def links(session: AsyncSession, chat_id: int) -> list[ChatLink]:
    query = select(ChatLink).where(ChatLink.chat_id == chat_id).order_by(ChatLink.id)
    return list(await session.scalars(query))


async def link_count(session: AsyncSession, chat_id: int) -> int:
    found = await session.scalar(select(func.count()).where(LINKS.c.chat_id == chat_id))
    return int(found or 0)


async def unlink(
    session: AsyncSession, *, chat_id: int, person_id: int | None = None,
    company_id: int | None = None,
) -> int:
    """Forget one identity (or every identity when neither id is given)."""
    statement = delete(LINKS).where(LINKS.c.chat_id == chat_id)
    if company_id is not None:
        statement = statement.where(LINKS.c.company_id == company_id)
    elif person_id is not None:
        statement = statement.where(LINKS.c.person_id == person_id, LINKS.c.company_id.is_(None))
    outcome = await session.execute(statement)
    return outcome.rowcount or 0  # type: ignore[attr-defined]


async def chats_for_holders(
    session: AsyncSession,
    *,
    person_ids: Sequence[int] = (),
    company_ids: Sequence[int] = (),
    active_only: bool = True,
) -> list[tuple[int, int | None, int | None]]:
    """(chat_id, person_id, company_id) of every link to these persons or companies."""
    conditions = []
    if person_ids:
        conditions.append(LINKS.c.person_id.in_(list(person_ids)) & LINKS.c.company_id.is_(None))
    if company_ids:
        conditions.append(LINKS.c.company_id.in_(list(company_ids)))
    if not conditions:
        return []
    query = (
        select(LINKS.c.chat_id, LINKS.c.person_id, LINKS.c.company_id)
        .join(CHATS, CHATS.c.id == LINKS.c.chat_id)
        .where(or_(*conditions))
        .order_by(LINKS.c.chat_id, LINKS.c.id)
    )
    if active_only:
        query = query.where(CHATS.c.active.is_(True))
    return [tuple(row) for row in await session.execute(query)]  # type: ignore[misc]


async def _link(
    session: AsyncSession,
    chat_id: int,
    person_id: int | None,
    company_id: int | None,
    verified_by: str,
) -> bool:
    before = await link_count(session, chat_id)
    keys = ("chat_id", "company_id") if company_id is not None else ("chat_id", "person_id")
    where = "company_id IS NOT NULL" if company_id is not None else "company_id IS NULL"
    row = {
        "chat_id": chat_id, "person_id": person_id, "company_id": company_id,
        "verified_by": verified_by,
    }
    await _insert_ignore(session, LINKS, row, keys, where=where)
    return await link_count(session, chat_id) > before


async def _insert_ignore(
    session: AsyncSession, table: Table, row: dict[str, object], keys: Sequence[str], *, where: str | None = None
) -> None:
    insert = postgresql.insert if await dialect_name(session) == "postgresql" else sqlite.insert
    statement = insert(table).on_conflict_do_nothing(
        index_elements=list(keys), index_where=text(where) if where else None
    )
    await session.execute(statement.values(row))


class ChatRepository(Repository):
    """Chats and the identities they have proven (chats, chat_links, debt_messages): the only
    writer of their tables."""

    __slots__ = ()

    # -- added for ingest
    async def receipt_chats(self, *, person_id: int | None, company_id: int | None
                            ) -> list[tuple[int, str, bool]]:
        """(chat id, language, discreet) of the active chats linked to a debt's holder (the
        person, or the company they represent)."""
        query = select(Chat.id, Chat.language, Chat.discreet).join(
            ChatLink, ChatLink.chat_id == Chat.id
        )
        if company_id is not None:
            query = query.where(ChatLink.company_id == company_id)
        elif person_id is not None:
            query = query.where(ChatLink.person_id == person_id, ChatLink.company_id.is_(None))
        else:
            return []
        rows = await self._db.execute(
            query.where(Chat.active.is_(True)).distinct().order_by(Chat.id)
        )
        return [(chat_id, language, discreet) for chat_id, language, discreet in rows]
