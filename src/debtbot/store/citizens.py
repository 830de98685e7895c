"""Queries behind the citizen chat: dialogue state (optimistically versioned), verification
attempts, spent deep-link tokens, and the identities a chat holds.

Identity numbers only ever arrive here as keyed hashes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Integer,
    String,
    and_,
    bindparam,
    cast,
    delete,
    func,
    insert,
    null,
    select,
    union_all,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from debtbot.domain.debts import OPEN_STATUSES
from debtbot.store.chats import insert_chat
from debtbot.store.direct import execute_once, fetch_rows
from debtbot.store.models import (
    Chat,
    ChatLink,
    Company,
    Conversation,
    DebtMessage,
    DebtRow,
    OutboxMessage,
    Person,
    UsedLinkToken,
    VerificationAttempt,
)
from debtbot.store.outbox import OutboxRepository

CHATS = Chat.__table__
LINKS = ChatLink.__table__
DEBTS = DebtRow.__table__

# --- dialogue state -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DialogueState:
    flow: str
    step: str
    data: dict[str, Any]
    version: int
    expires_at: datetime | None


async def load_conversation(session: AsyncSession, chat_id: int) -> DialogueState | None:
    row = (
        await session.execute(
            select(
                Conversation.flow,
                Conversation.step,
                Conversation.data,
                Conversation.version,
                Conversation.expires_at,
            ).where(Conversation.chat_id == chat_id)
        )
    ).one_or_none()
    if row is None:
        return None
    return DialogueState(row.flow, row.step, dict(row.data or {}), row.version, row.expires_at)


async def save_conversation(
    session: AsyncSession,
    *,
    chat_id: int,
    expected_version: int | None,
    flow: str,
    step: str,
    data: dict[str, Any],
    expires_at: datetime,
) -> bool:
    """Write the next state if nobody else moved the dialogue on; False if someone did.

    `expected_version` None means "there is no row yet": the insert loses to a concurrent one.
    """
    if expected_version is None:
        try:
            async with session.begin_nested():
                session.add(
                    Conversation(
                        chat_id=chat_id, flow=flow, step=step, data=data, version=1,
                        expires_at=expires_at,
                    )
                )
        except IntegrityError:
            return False
        return True
    outcome = await session.execute(
        update(Conversation)
        .where(Conversation.chat_id == chat_id, Conversation.version == expected_version)
        .values(
            flow=flow, step=step, data=data, version=expected_version + 1, expires_at=expires_at
        )
        .execution_options(synchronize_session=False)
    )
    return (outcome.rowcount or 0) == 1  # type: ignore[attr-defined]


async def delete_conversation(
    session: AsyncSession, *, chat_id: int, expected_version: int | None = None
) -> bool:
    """End the dialogue; with `expected_version`, only if nobody moved it on meanwhile."""
    statement = delete(Conversation).where(Conversation.chat_id == chat_id)
    if expected_version is not None:
        statement = statement.where(Conversation.version == expected_version)
    outcome = await session.execute(statement.execution_options(synchronize_session=False))
    return (outcome.rowcount or 0) == 1  # type: ignore[attr-defined]


# --- attempts and locks -------------------------------------------------------------------


async def record_attempt(
    session: AsyncSession,
    *,
    chat_id: int,
    id_hash: str | None,
    method: str,
    succeeded: bool,
    at: datetime,
) -> None:
    session.add(
        VerificationAttempt(
            chat_id=chat_id, id_hash=id_hash, method=method, succeeded=succeeded, at=at
        )
    )
    await session.flush()


async def chat_failures_since(
    session: AsyncSession, *, chat_id: int, since: datetime
) -> list[datetime]:
    query = (
        select(VerificationAttempt.at)
        .where(
            VerificationAttempt.chat_id == chat_id,
            VerificationAttempt.succeeded.is_(False),
            VerificationAttempt.at > since,
        )
        .order_by(VerificationAttempt.at)
    )
    return list(await session.scalars(query))


async def identifier_failures_since(
    session: AsyncSession, *, id_hash: str, since: datetime
) -> list[datetime]:
    query = (
        select(VerificationAttempt.at)
        .where(
            VerificationAttempt.id_hash == id_hash,
            VerificationAttempt.succeeded.is_(False),
            VerificationAttempt.at > since,
        )
        .order_by(VerificationAttempt.at)
    )
    return list(await session.scalars(query))


# --- the registry, looked up by hash ------------------------------------------------------


async def company_with_notice(
    session: AsyncSession, *, reg_hash: str, reference: str
) -> Company | None:
    """The company with this registration hash that was issued a notice with this reference
    (any status), in one query whether or not the company exists."""
    query = (
        select(Company)
        .join(DebtRow, DebtRow.company_id == Company.id)
        .where(
            Company.reg_hash == reg_hash,
            func.upper(DebtRow.reference) == reference.upper(),
        )
        .limit(1)
    )
    return await session.scalar(query)


def _prefix_range(column: Any, prefix: str) -> Any:
    # Hashes are lower-case hex: every hash starting with `prefix` sorts in [prefix, prefix+"g").
    return and_(column >= prefix, column < prefix + "g")


async def person_by_hash_prefix(session: AsyncSession, prefix: str) -> Person | None:
    rows = list(
        await session.scalars(select(Person).where(_prefix_range(Person.id_hash, prefix)).limit(2))
    )
    matches = [row for row in rows if row.id_hash.startswith(prefix)]
    return matches[0] if len(matches) == 1 else None


async def company_by_hash_prefix(session: AsyncSession, prefix: str) -> Company | None:
    rows = list(
        await session.scalars(
            select(Company).where(_prefix_range(Company.reg_hash, prefix)).limit(2)
        )
    )
    matches = [row for row in rows if row.reg_hash.startswith(prefix)]
    return matches[0] if len(matches) == 1 else None


# --- deep-link tokens ---------------------------------------------------------------------


async def spend_link_token(
    session: AsyncSession, *, token_id: str, used_at: datetime, expires_at: datetime
) -> bool:
    """Mark the token used; False if it already was (by this or a concurrent redemption)."""
    try:
        async with session.begin_nested():
            session.add(UsedLinkToken(token_id=token_id, used_at=used_at, expires_at=expires_at))
    except IntegrityError:
        return False
    return True


# --- a chat's identities ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LinkedIdentity:
    link_id: int
    person_id: int | None
    company_id: int | None
    name: str

    @property
    def holder_type(self) -> str:
        return "company" if self.company_id is not None else "person"


async def linked_identities(session: AsyncSession, chat_id: int) -> list[LinkedIdentity]:
    query = (
        select(
            ChatLink.id,
            ChatLink.person_id,
            ChatLink.company_id,
            func.coalesce(Company.name, Person.name, ""),
        )
        .outerjoin(Company, Company.id == ChatLink.company_id)
        .outerjoin(Person, and_(Person.id == ChatLink.person_id, ChatLink.company_id.is_(None)))
        .where(ChatLink.chat_id == chat_id)
        .order_by(ChatLink.id)
    )
    return [
        LinkedIdentity(link_id, person_id if company_id is None else None, company_id, name or "")
        for link_id, person_id, company_id, name in await session.execute(query)
    ]


async def existing_link(
    session: AsyncSession, *, chat_id: int, person_id: int | None, company_id: int | None
) -> int | None:
    query = select(ChatLink.id).where(ChatLink.chat_id == chat_id)
    if company_id is not None:
        query = query.where(ChatLink.company_id == company_id)
    else:
        query = query.where(ChatLink.person_id == person_id, ChatLink.company_id.is_(None))
    return await session.scalar(query.limit(1))


async def holder_names(
    session: AsyncSession, *, person_ids: Sequence[int], company_ids: Sequence[int]
) -> tuple[dict[int, str], dict[int, str]]:
    persons: dict[int, str] = {}
    companies: dict[int, str] = {}
    if person_ids:
        query = select(Person.id, Person.name).where(Person.id.in_(list(person_ids)))
        persons = {row_id: name or "" for row_id, name in await session.execute(query)}
    if company_ids:
        query = select(Company.id, Company.name).where(Company.id.in_(list(company_ids)))
        companies = {row_id: name or "" for row_id, name in await session.execute(query)}
    return persons, companies


# --- the chat of an update, in one statement ---------------------------------------------


@dataclass(frozen=True, slots=True)
class ChatRecord:
    chat_id: int
    language: str
    discreet: bool
    active: bool
    reminders_enabled: bool
    last_seen_at: datetime | None
    identities: list[LinkedIdentity]


def _chat_with_identities() -> Any:
    name = func.coalesce(Company.name, Person.name, "")
    return (
        select(
            CHATS.c.language, CHATS.c.discreet, CHATS.c.active, CHATS.c.reminders_enabled,
            CHATS.c.last_seen_at, LINKS.c.id, LINKS.c.person_id, LINKS.c.company_id, name,
        )
        .select_from(CHATS)
        .outerjoin(LINKS, LINKS.c.chat_id == CHATS.c.id)
        .outerjoin(Company, Company.id == LINKS.c.company_id)
        .outerjoin(Person, and_(Person.id == LINKS.c.person_id, LINKS.c.company_id.is_(None)))
        .where(CHATS.c.id == bindparam("chat_id"))
        .order_by(LINKS.c.id)
    )


# Built once: every update runs it, and building a statement costs more than running it.
CHAT_WITH_IDENTITIES = _chat_with_identities()


async def chat_record(session: AsyncSession, chat_id: int) -> ChatRecord | None:
    """The chat's row and its verified identities (one statement), or None if unknown."""
    rows = (await session.execute(CHAT_WITH_IDENTITIES, {"chat_id": chat_id})).all()
    if not rows:
        return None
    first = rows[0]
    return ChatRecord(
        chat_id=chat_id,
        language=first[0],
        discreet=first[1],
        active=first[2],
        reminders_enabled=first[3],
        last_seen_at=first[4],
        identities=[
            LinkedIdentity(
                link_id, person_id if company_id is None else None, company_id, name or ""
            )
            for *_, link_id, person_id, company_id, name in rows
            if link_id is not None
        ],
    )


# last_seen_at is for "who still uses the bot", not an audit trail: writing it on every
# update would turn every read-only command into a write (and, on SQLite, serialise them).
SEEN_EVERY = timedelta(minutes=5)


async def touch_chat(
    session: AsyncSession,
    *,
    chat_id: int,
    language: str,
    now: datetime,
    seen_every: timedelta = SEEN_EVERY,
) -> tuple[ChatRecord, bool]:
    """The chat (created with `language` at first contact), active and seen at `now` to
    within `seen_every`. One SELECT when nothing changes; the bool says whether it wrote."""
    record = await chat_record(session, chat_id)
    return await _touch(session, record, chat_id, language, now, seen_every)


async def chat_and_debts(
    connection: AsyncConnection | AsyncSession, chat_id: int
) -> tuple[ChatRecord | None, ChatDebts]:
    """The chat (None if unknown) and its verified holders' open debts, in one statement
    that writes nothing (what /debts reads on every update)."""
    found = await _chat_and_debts(connection, CHAT_AND_DEBTS, chat_id)
    return found.chat, found.debts


def needs_touch(
    record: ChatRecord | None, now: datetime, seen_every: timedelta = SEEN_EVERY
) -> bool:
    """Whether touch_chat would write: an unknown or inactive chat, or one not seen lately."""
    if record is None or not record.active or record.last_seen_at is None:
        return True
    return not timedelta(0) <= now - record.last_seen_at < seen_every


MARK_SEEN = (
    update(CHATS)
    .where(CHATS.c.id == bindparam("chat_id"))
    .values(active=True, last_seen_at=bindparam("now"))
)


async def mark_seen(connection: AsyncConnection, *, chat_id: int, now: datetime) -> None:
    """The known chat is active and was seen at `now` (one statement; safe to repeat)."""
    await execute_once(connection, MARK_SEEN, {"chat_id": chat_id, "now": now})


async def touch_record(
    session: AsyncSession,
    record: ChatRecord | None,
    *,
    chat_id: int,
    language: str,
    now: datetime,
    seen_every: timedelta = SEEN_EVERY,
) -> ChatRecord:
    """touch_chat for a chat already read (`record`, None if it was unknown then)."""
    return (await _touch(session, record, chat_id, language, now, seen_every))[0]


async def _touch(
    session: AsyncSession,
    record: ChatRecord | None,
    chat_id: int,
    language: str,
    now: datetime,
    seen_every: timedelta,
) -> tuple[ChatRecord, bool]:
    if record is None:
        await insert_chat(session, chat_id, language=language, now=now)
        record = await chat_record(session, chat_id)
        assert record is not None
        return record, True
    if not needs_touch(record, now, seen_every):
        return record, False
    await session.execute(
        update(CHATS).where(CHATS.c.id == chat_id).values(active=True, last_seen_at=now)
    )
    return replace(record, active=True, last_seen_at=now), True


# --- a chat's open debts, in one statement ------------------------------------------------

DEBT_COLUMNS = (
    "id", "kind", "reference", "authority", "person_id", "company_id", "amount", "served_on",
    "due_on", "status", "source", "points", "surcharge_rate", "post_clearance",
    "enforcement_suspended", "instalments_on_time", "finding_notice_on", "served_at",
    "freeze_notified_on", "seized_on", "charge_notified_on", "surcharge_on", "prosecution_on",
)
CHAT_COLUMNS = ("language", "discreet", "active", "reminders_enabled", "last_seen_at")


@dataclass(frozen=True, slots=True)
class ChatDebts:
    persons: dict[int, str]  # person id -> name, for the persons the chat verified
    companies: dict[int, str]  # company id -> name, for the companies the chat verified
    rows: list[Any]  # open debts of those holders (rows with DEBT_COLUMNS), each once


def _chat_debts(*, with_chat: bool) -> Any:
    """One statement, one row per open debt, per link and (with_chat) for the chat itself:
    [debt columns | link id, person id, company id, holder name | chat columns], each row
    filling only its own part. The first branch's types decode every row, so its empty
    parts are typed NULLs."""
    # Wrapped so SQLite, which has no statistics unless ANALYZE ran, cannot pick the status
    # index (nearly every debt is outstanding) and scan all open debts for each /debts: it
    # starts from the chat's links and reads the holders' debts by person_id / company_id.
    is_open = func.coalesce(DEBTS.c.status, "").in_([status.value for status in OPEN_STATUSES])
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
            *no_debt, LINKS.c.id, LINKS.c.person_id, LINKS.c.company_id,
            func.coalesce(Company.name, Person.name, ""), *no_chat,
        )
        .select_from(LINKS)
        .outerjoin(Company, Company.id == LINKS.c.company_id)
        .outerjoin(Person, and_(Person.id == LINKS.c.person_id, LINKS.c.company_id.is_(None)))
        .where(LINKS.c.chat_id == chat_id)
    )
    branches = [of_persons, of_companies, holders]
    if with_chat:
        branches.append(
            select(*no_debt, *no_link, *chat_columns).where(CHATS.c.id == chat_id)
        )
    return union_all(*branches)


# Built once: every /debts runs one, and building a statement costs more than running it.
CHAT_DEBTS = _chat_debts(with_chat=False)
CHAT_AND_DEBTS = _chat_debts(with_chat=True)
_LINK_AT = len(DEBT_COLUMNS)
_CHAT_AT = _LINK_AT + 4


@dataclass(frozen=True, slots=True)
class _ChatAndDebts:
    chat: ChatRecord | None
    debts: ChatDebts


async def chat_debts(session: AsyncSession | AsyncConnection, chat_id: int) -> ChatDebts:
    """The holders the chat verified and their open debts, oldest service first."""
    return (await _chat_and_debts(session, CHAT_DEBTS, chat_id)).debts


async def _chat_and_debts(
    session: AsyncSession | AsyncConnection, statement: Any, chat_id: int
) -> _ChatAndDebts:
    persons: dict[int, str] = {}
    companies: dict[int, str] = {}
    debts: dict[int, Any] = {}
    identities: list[LinkedIdentity] = []
    chat = None
    if isinstance(session, AsyncConnection):  # the read on every /debts: straight to the driver
        found = await fetch_rows(session, statement, {"chat_id": chat_id})
    else:
        found = list(await session.execute(statement, {"chat_id": chat_id}))
    for row in found:
        link_id, person_id, company_id, name = row[_LINK_AT:_CHAT_AT]
        if link_id is not None:
            if company_id is not None:
                companies[company_id] = name or ""
                person_id = None
            elif person_id is not None:
                persons[person_id] = name or ""
            identities.append(LinkedIdentity(link_id, person_id, company_id, name or ""))
        elif row.id is not None:
            debts[row.id] = row
        else:
            chat = row[_CHAT_AT:]
    rows = sorted(
        debts.values(),
        key=lambda row: (row.served_on is None, row.served_on or date.min, row.id),
    )
    record = None
    if chat is not None:
        identities.sort(key=lambda identity: identity.link_id)
        record = ChatRecord(chat_id, *chat, identities=identities)
    return _ChatAndDebts(record, ChatDebts(persons, companies, rows))


async def forget_chat(session: AsyncSession, *, chat_id: int) -> tuple[int, int]:
    """Drop the chat's identities, dialogue and preferences; cancel its pending messages.

    The chat row itself stays (with default preferences and its language) so the bot can
    still answer it; verification attempts stay too, or forgetting would reset the guard.
    Returns (identities removed, messages cancelled).
    """
    removed = await session.execute(
        delete(ChatLink)
        .where(ChatLink.chat_id == chat_id)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        delete(Conversation)
        .where(Conversation.chat_id == chat_id)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(Chat)
        .where(Chat.id == chat_id)
        .values(discreet=False, reminders_enabled=True, news_enabled=True, muted_kinds=[],
                snoozed_until=None)
        .execution_options(synchronize_session=False)
    )
    cancelled = await OutboxRepository(session).cancel(chat_id=chat_id, reason="chat forgotten")
    return removed.rowcount or 0, cancelled  # type: ignore[attr-defined]


REMEMBER_DEBT_MESSAGE = insert(DebtMessage.__table__).values(
    chat_id=bindparam("chat_id"), message_id=bindparam("message_id"), sent_at=bindparam("now")
)


async def remember_debt_message(
    connection: AsyncConnection, *, chat_id: int, message_id: int, now: datetime
) -> None:
    """A message with debts and buttons went to the chat (one statement, autocommitted)."""
    await execute_once(
        connection, REMEMBER_DEBT_MESSAGE,
        {"chat_id": chat_id, "message_id": message_id, "now": now},
    )


async def take_debt_messages(session: AsyncSession, *, chat_id: int, limit: int) -> list[int]:
    """The chat's latest messages with debts and buttons (the /debts replies remembered, and
    the reminders sent), newest first; the remembered ones are forgotten."""
    remembered = await session.scalars(
        select(DebtMessage.message_id).where(DebtMessage.chat_id == chat_id)
    )
    reminders = await session.scalars(
        select(OutboxMessage.telegram_message_id).where(
            OutboxMessage.chat_id == chat_id,
            OutboxMessage.purpose == "reminder",
            OutboxMessage.telegram_message_id.is_not(None),
        )
    )
    found = sorted({*remembered.all(), *(m for m in reminders.all() if m)}, reverse=True)
    await session.execute(
        delete(DebtMessage)
        .where(DebtMessage.chat_id == chat_id)
        .execution_options(synchronize_session=False)
    )
    return [int(message_id) for message_id in found[:limit]]


async def purge_debt_messages(session: AsyncSession, *, before: datetime) -> int:
    """Forget the debt messages sent before `before` (their buttons are left as they are)."""
    removed = await session.execute(
        delete(DebtMessage)
        .where(DebtMessage.sent_at < before)
        .execution_options(synchronize_session=False)
    )
    return removed.rowcount or 0  # type: ignore[attr-defined]


async def purge_stale(
    session: AsyncSession, *, now: datetime, flow: str, attempts_before: datetime
) -> tuple[int, int, int]:
    """Delete spent tokens past their expiry (an expired token is refused before its id is
    looked at), expired dialogues of `flow`, and attempts older than `attempts_before`.
    Returns (tokens, dialogues, attempts) deleted."""
    tokens = await session.execute(
        delete(UsedLinkToken)
        .where(UsedLinkToken.expires_at < now)
        .execution_options(synchronize_session=False)
    )
    dialogues = await session.execute(
        delete(Conversation)
        .where(Conversation.flow == flow, Conversation.expires_at < now)
        .execution_options(synchronize_session=False)
    )
    attempts = await session.execute(
        delete(VerificationAttempt)
        .where(VerificationAttempt.at < attempts_before)
        .execution_options(synchronize_session=False)
    )
    return (
        tokens.rowcount or 0,  # type: ignore[attr-defined]
        dialogues.rowcount or 0,  # type: ignore[attr-defined]
        attempts.rowcount or 0,  # type: ignore[attr-defined]
    )
