"""Chats with the bot and the identities (persons, companies) they have proven, and the read
behind /debts: a chat and its holders' open debts."""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Integer,
    String,
    Table,
    and_,
    bindparam,
    cast,
    delete,
    func,
    insert,
    literal_column,
    null,
    select,
    text,
    true,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from debtbot.domain.debts import OPEN_STATUSES, Debt
from debtbot.domain.messages import OutboxPurpose
from debtbot.store import direct
from debtbot.store.mapping import debt_from_row
from debtbot.store.models import (
    Chat,
    ChatLink,
    Company,
    DebtMessage,
    DebtRow,
    OutboxMessage,
    Person,
)
from debtbot.store.repository import Executor, Repository

CHATS = Chat.__table__
LINKS = ChatLink.__table__
DEBTS = DebtRow.__table__
MESSAGES = DebtMessage.__table__


# --- what the repository hands out ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LinkedIdentity:
    link_id: int
    person_id: int | None  # None for a company's link
    company_id: int | None
    name: str

    @property
    def holder_type(self) -> str:
        return "company" if self.company_id is not None else "person"


@dataclass(frozen=True, slots=True)
class ChatRecord:
    chat_id: int
    language: str
    discreet: bool
    active: bool
    reminders_enabled: bool
    last_seen_at: datetime | None
    identities: list[LinkedIdentity]


@dataclass(frozen=True, slots=True)
class ChatPreferences:
    """What the chat chose to hear (reminders, news) and when."""

    chat_id: int
    language: str
    discreet: bool
    active: bool
    enabled: bool  # reminders on
    muted_kinds: tuple[str, ...]
    snoozed_until: datetime | None
    news: bool
    identities: int  # how many identities the chat has proven


@dataclass(frozen=True, slots=True)
class OwedDebt:
    """One debt and whose it is in the registry."""

    debt_id: int
    person_id: int | None
    company_id: int | None
    debt: Debt


@dataclass(frozen=True, slots=True)
class ChatDebts:
    persons: dict[int, str] = field(default_factory=dict)  # verified person id -> name
    companies: dict[int, str] = field(default_factory=dict)  # verified company id -> name
    debts: list[OwedDebt] = field(default_factory=list)  # their open debts, each once


# --- statements every update runs, built once ---------------------------------------------

DEBT_COLUMNS = (
    "id", "kind", "reference", "authority", "person_id", "company_id", "amount", "served_on",
    "due_on", "status", "source", "points", "surcharge_rate", "post_clearance",
    "enforcement_suspended", "instalments_on_time", "finding_notice_on", "served_at",
    "freeze_notified_on", "seized_on", "charge_notified_on", "surcharge_on", "prosecution_on",
)
CHAT_COLUMNS = ("language", "discreet", "active", "reminders_enabled", "last_seen_at")
# The hot statements carry no values of their own (only their named parameters): their SQL
# is compiled once, for the driver (store.direct).
_EMPTY = literal_column("''", String)
_HOLDER_NAME = func.coalesce(Company.name, Person.name, _EMPTY)
_OPEN = [literal_column(f"'{status.value}'", String) for status in OPEN_STATUSES]


def _chat_with_identities() -> Any:
    return (
        select(
            *(CHATS.c[name] for name in CHAT_COLUMNS), LINKS.c.id, LINKS.c.person_id,
            LINKS.c.company_id, _HOLDER_NAME,
        )
        .select_from(CHATS)
        .outerjoin(LINKS, LINKS.c.chat_id == CHATS.c.id)
        .outerjoin(Company, Company.id == LINKS.c.company_id)
        .outerjoin(Person, and_(Person.id == LINKS.c.person_id, LINKS.c.company_id.is_(None)))
        .where(CHATS.c.id == bindparam("chat_id"))
        .order_by(LINKS.c.id)
    )


def _chat_and_debts() -> Any:
    """One statement, one row per open debt, per link and one for the chat itself:
    [debt columns | link id, person id, company id, holder name | chat columns], each row
    filling only its own part. The first branch's types decode every row, so its empty
    parts are typed NULLs."""
    # Wrapped so SQLite, which has no statistics unless ANALYZE ran, cannot pick the status
    # index (nearly every debt is outstanding) and scan all open debts for each /debts: it
    # starts from the chat's links and reads the holders' debts by person_id / company_id.
    is_open = func.coalesce(DEBTS.c.status, _EMPTY).in_(_OPEN)
    chat_id = bindparam("chat_id")
    debt_columns = [DEBTS.c[name] for name in DEBT_COLUMNS]
    chat_columns = [CHATS.c[name] for name in CHAT_COLUMNS]
    no_debt = [cast(null(), column.type).label(column.name) for column in debt_columns]
    no_link = [
        cast(null(), Integer).label("link_id"),
        cast(null(), Integer).label("link_person_id"),
        cast(null(), Integer).label("link_company_id"),
        cast(null(), String).label("holder_name"),
    ]
    no_chat = [cast(null(), column.type).label(column.name) for column in chat_columns]
    # Branches by holder (not one OR-join) so each uses its index: debts.person_id,
    # debts.company_id. A debt of a verified person AND a verified company comes twice.
    of_persons = (
        select(*debt_columns, *no_link, *no_chat)
        .select_from(LINKS.join(DEBTS, DEBTS.c.person_id == LINKS.c.person_id))
        .where(LINKS.c.chat_id == chat_id, LINKS.c.company_id.is_(None), is_open)
    )
    of_companies = (
        select(*debt_columns, *no_link, *no_chat)
        .select_from(LINKS.join(DEBTS, DEBTS.c.company_id == LINKS.c.company_id))
        .where(LINKS.c.chat_id == chat_id, LINKS.c.company_id.is_not(None), is_open)
    )
    holders = (
        select(
            *no_debt, LINKS.c.id, LINKS.c.person_id, LINKS.c.company_id, _HOLDER_NAME,
            *no_chat,
        )
        .select_from(LINKS)
        .outerjoin(Company, Company.id == LINKS.c.company_id)
        .outerjoin(Person, and_(Person.id == LINKS.c.person_id, LINKS.c.company_id.is_(None)))
        .where(LINKS.c.chat_id == chat_id)
    )
    the_chat = select(*no_debt, *no_link, *chat_columns).where(CHATS.c.id == chat_id)
    return union_all(of_persons, of_companies, holders, the_chat)


# Built once, under a name: every update runs one of them (store.direct).
direct.prepare("chat with identities", _chat_with_identities())
direct.prepare("chat and debts", _chat_and_debts())
direct.prepare(
    "mark seen",
    update(CHATS).where(CHATS.c.id == bindparam("chat_id"))
    .values(active=true(), last_seen_at=bindparam("now")),
)
direct.prepare(
    "remember debt message",
    insert(MESSAGES).values(
        chat_id=bindparam("chat_id"), message_id=bindparam("message_id"),
        sent_at=bindparam("now"),
    ),
)
_LINK_AT = len(DEBT_COLUMNS)
_CHAT_AT = _LINK_AT + 4
_ID, _PERSON, _COMPANY = 0, 4, 5


# A chat's rows come back unchanged on every /debts and page button: building a Debt (enums,
# Decimal) costs more than hashing the row's values.
@lru_cache(maxsize=4096)
def _owed(values: tuple[Any, ...]) -> OwedDebt:
    return OwedDebt(
        values[_ID], values[_PERSON], values[_COMPANY],
        debt_from_row(_DebtValues._make(values)),  # type: ignore[arg-type]
    )


_DebtValues = namedtuple("_DebtValues", DEBT_COLUMNS)  # type: ignore[misc]


def _identity(link_id: int, person_id: int | None, company_id: int | None,
              name: str | None) -> LinkedIdentity:
    return LinkedIdentity(link_id, person_id if company_id is None else None, company_id,
                          name or "")


def _chat_and_debts_from(chat_id: int, rows: Sequence[Sequence[Any]]
                         ) -> tuple[ChatRecord | None, ChatDebts]:
    found = ChatDebts()
    owed: dict[int, OwedDebt] = {}
    identities: list[LinkedIdentity] = []
    chat = None
    for row in rows:
        link_id, person_id, company_id, name = row[_LINK_AT:_CHAT_AT]
        if link_id is not None:
            identity = _identity(link_id, person_id, company_id, name)
            if company_id is not None:
                found.companies[company_id] = identity.name
            elif person_id is not None:
                found.persons[person_id] = identity.name
            identities.append(identity)
        elif row[_ID] is not None:
            owed[row[_ID]] = _owed(tuple(row[:_LINK_AT]))
        else:
            chat = row[_CHAT_AT:]
    found.debts.extend(sorted(
        owed.values(),
        key=lambda one: (one.debt.served_on is None, one.debt.served_on or date.min,
                         one.debt_id),
    ))
    record = None
    if chat is not None:
        identities.sort(key=lambda identity: identity.link_id)
        record = ChatRecord(chat_id, *chat, identities=identities)
    return record, found


async def _insert_ignore(
    db: Executor, table: Table, row: dict[str, object], keys: Sequence[str],
    *, where: str | None = None,
) -> None:
    insert_for = postgresql.insert if _dialect(db) == "postgresql" else sqlite.insert
    statement = insert_for(table).on_conflict_do_nothing(
        index_elements=list(keys), index_where=text(where) if where else None
    )
    await db.execute(statement.values(row))


def _dialect(db: Executor) -> str:
    bind = db if isinstance(db, AsyncConnection) else db.bind
    return bind.dialect.name


class ChatRepository(Repository):
    """Chats and the identities they have proven (chats, chat_links, debt_messages): the only
    writer of their tables."""

    __slots__ = ()

    # --- the chat ------------------------------------------------------------------------

    async def record(self, chat_id: int) -> ChatRecord | None:
        """The chat's row and its verified identities (one statement), or None if unknown."""
        rows = await direct.fetch(self._db, "chat with identities", {"chat_id": chat_id})
        if not rows:
            return None
        first = rows[0]
        return ChatRecord(
            chat_id, *first[:len(CHAT_COLUMNS)],
            identities=[
                _identity(*row[len(CHAT_COLUMNS):]) for row in rows
                if row[len(CHAT_COLUMNS)] is not None
            ],
        )

    async def chat_and_debts(self, chat_id: int) -> tuple[ChatRecord | None, ChatDebts]:
        """The chat (None if unknown) and its verified holders' open debts, oldest service
        first, in one statement that writes nothing (what /debts reads on every update)."""
        rows = await direct.fetch(self._db, "chat and debts", {"chat_id": chat_id})
        return _chat_and_debts_from(chat_id, rows)

    async def first_contact(self, chat_id: int, *, language: str, now: datetime) -> None:
        """Create the chat, active and seen `now` (a concurrent first contact wins quietly:
        its row stays)."""
        row = {"id": chat_id, "language": language, "active": True, "last_seen_at": now}
        await _insert_ignore(self._db, CHATS, row, ("id",))

    async def mark_seen(self, chat_id: int, *, now: datetime) -> None:
        """The known chat is active and was seen at `now` (one statement; safe to repeat)."""
        await direct.execute(self._db, "mark seen", {"chat_id": chat_id, "now": now})

    async def ensure(self, chat_id: int, *, language: str) -> str:
        """The chat's language; the chat is created with `language` if unknown (safe under
        concurrency)."""
        found = await self.language(chat_id)
        if found is not None:
            return found
        await _insert_ignore(self._db, CHATS, {"id": chat_id, "language": language}, ("id",))
        found = await self.language(chat_id)
        assert found is not None
        return found

    async def set_language(self, chat_id: int, language: str) -> None:
        """The chat speaks `language` from now on (created with it if unknown)."""
        await self.ensure(chat_id, language=language)
        await self._db.execute(
            update(CHATS).where(CHATS.c.id == chat_id).values(language=language)
        )

    async def set_discreet(self, chat_id: int, discreet: bool) -> None:
        """Discreet mode on or off (the chat created in English if unknown)."""
        await self.ensure(chat_id, language="en")
        await self._db.execute(
            update(CHATS).where(CHATS.c.id == chat_id).values(discreet=discreet)
        )

    async def set_active(self, chat_id: int, active: bool) -> None:
        await self._db.execute(
            update(CHATS).where(CHATS.c.id == chat_id).values(active=active)
        )

    async def language(self, chat_id: int) -> str | None:
        """The chat's language, None if the bot never saw it."""
        found = await self._db.execute(select(CHATS.c.language).where(CHATS.c.id == chat_id))
        return found.scalar_one_or_none()

    # --- preferences ---------------------------------------------------------------------

    async def preferences(self, chat_id: int) -> ChatPreferences | None:
        links = select(func.count()).where(LINKS.c.chat_id == chat_id).scalar_subquery()
        found = (await self._db.execute(
            select(
                CHATS.c.language, CHATS.c.discreet, CHATS.c.active, CHATS.c.reminders_enabled,
                CHATS.c.muted_kinds, CHATS.c.snoozed_until, CHATS.c.news_enabled, links,
            ).where(CHATS.c.id == chat_id)
        )).one_or_none()
        if found is None:
            return None
        language, discreet, active, enabled, muted, snoozed, news, identities = found
        return ChatPreferences(
            chat_id, language, discreet, active, enabled, tuple(sorted(muted or [])), snoozed,
            bool(news), int(identities or 0),
        )

    async def set_preferences(
        self, chat_id: int, *, reminders: bool | None = None, news: bool | None = None,
        muted_kinds: Sequence[str] | None = None, snoozed_until: datetime | None = None,
        end_snooze: bool = False,
    ) -> bool:
        """Change what is given; False if the bot never saw the chat."""
        values: dict[str, Any] = {}
        if reminders is not None:
            values["reminders_enabled"] = reminders
        if news is not None:
            values["news_enabled"] = news
        if muted_kinds is not None:
            values["muted_kinds"] = sorted(muted_kinds)
        if snoozed_until is not None or end_snooze:
            values["snoozed_until"] = snoozed_until
        outcome = await self._db.execute(
            update(CHATS).where(CHATS.c.id == chat_id).values(**values)
        )
        return bool(outcome.rowcount)  # type: ignore[attr-defined]

    # --- identities ----------------------------------------------------------------------

    async def link_person(self, chat_id: int, *, person_id: int, verified_by: str) -> bool:
        """Record that the chat proved it is this person; False if it already had."""
        return await self._link(chat_id, person_id, None, verified_by)

    async def link_company(
        self, chat_id: int, *, company_id: int, verified_by: str, person_id: int | None = None,
    ) -> bool:
        """Record that the chat acts for this company (through `person_id`, its
        representative); False if it already did."""
        return await self._link(chat_id, person_id, company_id, verified_by)

    async def identity_count(self, chat_id: int) -> int:
        found = await self._db.execute(select(func.count()).where(LINKS.c.chat_id == chat_id))
        return int(found.scalar() or 0)

    async def holds(
        self, chat_id: int, *, person_id: int | None = None, company_id: int | None = None,
    ) -> bool:
        """Whether the chat already proved this person (alone) or this company."""
        query = select(LINKS.c.id).where(LINKS.c.chat_id == chat_id)
        if company_id is not None:
            query = query.where(LINKS.c.company_id == company_id)
        else:
            query = query.where(LINKS.c.person_id == person_id, LINKS.c.company_id.is_(None))
        return (await self._db.execute(query.limit(1))).first() is not None

    async def identities(self, chat_id: int) -> list[LinkedIdentity]:
        query = (
            select(LINKS.c.id, LINKS.c.person_id, LINKS.c.company_id, _HOLDER_NAME)
            .outerjoin(Company, Company.id == LINKS.c.company_id)
            .outerjoin(Person,
                       and_(Person.id == LINKS.c.person_id, LINKS.c.company_id.is_(None)))
            .where(LINKS.c.chat_id == chat_id)
            .order_by(LINKS.c.id)
        )
        return [_identity(*row) for row in await self._db.execute(query)]

    async def _link(
        self, chat_id: int, person_id: int | None, company_id: int | None, verified_by: str,
    ) -> bool:
        before = await self.identity_count(chat_id)
        keys = ("chat_id", "company_id") if company_id is not None else ("chat_id", "person_id")
        where = "company_id IS NOT NULL" if company_id is not None else "company_id IS NULL"
        row = {
            "chat_id": chat_id, "person_id": person_id, "company_id": company_id,
            "verified_by": verified_by,
        }
        await _insert_ignore(self._db, LINKS, row, keys, where=where)
        return await self.identity_count(chat_id) > before

    async def forget(self, chat_id: int) -> int:
        """Drop the chat's identities and reset its preferences (the row, its language and
        `active` stay, so the bot can still answer it). Returns the identities removed."""
        removed = await self._db.execute(delete(LINKS).where(LINKS.c.chat_id == chat_id))
        await self._db.execute(
            update(CHATS).where(CHATS.c.id == chat_id).values(
                discreet=False, reminders_enabled=True, news_enabled=True, muted_kinds=[],
                snoozed_until=None,
            )
        )
        return removed.rowcount or 0  # type: ignore[attr-defined]

    # --- a chat's debts ------------------------------------------------------------------

    async def debt(self, debt_id: int) -> OwedDebt | None:
        """One debt, whatever its status (whose it is is the caller's to check)."""
        query = select(*(DEBTS.c[name] for name in DEBT_COLUMNS)).where(DEBTS.c.id == debt_id)
        row = (await self._db.execute(query)).first()
        return None if row is None else _owed(tuple(row))

    # --- messages with debts on them -----------------------------------------------------

    async def remember_debt_message(self, chat_id: int, *, message_id: int,
                                    now: datetime) -> None:
        """A message with debts and buttons went to the chat (one statement)."""
        await direct.execute(
            self._db, "remember debt message",
            {"chat_id": chat_id, "message_id": message_id, "now": now},
        )

    async def take_debt_messages(self, chat_id: int, *, limit: int) -> list[int]:
        """The chat's latest messages with debts and buttons (the /debts replies remembered,
        and the reminders sent), newest first; the remembered ones are forgotten."""
        remembered = await self._db.execute(
            select(MESSAGES.c.message_id).where(MESSAGES.c.chat_id == chat_id)
        )
        outbox = OutboxMessage.__table__
        reminders = await self._db.execute(
            select(outbox.c.telegram_message_id).where(
                outbox.c.chat_id == chat_id,
                outbox.c.purpose == OutboxPurpose.REMINDER.value,
                outbox.c.telegram_message_id.is_not(None),
            )
        )
        found = sorted(
            {*remembered.scalars().all(), *(m for m in reminders.scalars().all() if m)},
            reverse=True,
        )
        await self._db.execute(delete(MESSAGES).where(MESSAGES.c.chat_id == chat_id))
        return [int(message_id) for message_id in found[:limit]]

    async def purge_debt_messages(self, *, before: datetime) -> int:
        """Forget the debt messages sent before `before` (their buttons are left as they
        are)."""
        removed = await self._db.execute(delete(MESSAGES).where(MESSAGES.c.sent_at < before))
        return removed.rowcount or 0  # type: ignore[attr-defined]

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
