"""Queries behind the citizen chat: dialogue state (optimistically versioned), verification
attempts, spent deep-link tokens, and the identities a chat holds.

Identity numbers only ever arrive here as keyed hashes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from debtbot.domain.messages import DeliveryStatus
from debtbot.store.chats import ensure_chat
from debtbot.store.models import (
    Chat,
    ChatLink,
    Company,
    Conversation,
    DebtRow,
    OutboxMessage,
    Person,
    UsedLinkToken,
    VerificationAttempt,
)

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


async def touch_chat(
    session: AsyncSession, *, chat_id: int, language: str, now: datetime
) -> Chat:
    """The chat's row (created with `language` at first contact), active, seen now."""
    chat = await ensure_chat(session, chat_id, language=language)
    chat.active = True
    chat.last_seen_at = now
    await session.flush()
    return chat


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
        .values(discreet=False, reminders_enabled=True, muted_kinds=[], snoozed_until=None)
        .execution_options(synchronize_session=False)
    )
    cancelled = await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.chat_id == chat_id,
            OutboxMessage.status == DeliveryStatus.PENDING.value,
        )
        .values(status=DeliveryStatus.CANCELLED.value, last_error="chat forgotten")
        .execution_options(synchronize_session=False)
    )
    return removed.rowcount or 0, cancelled.rowcount or 0  # type: ignore[attr-defined]


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
