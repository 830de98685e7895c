"""A chat with the bot: its language, discreet mode, whether it is reachable, and the
identities it has proven."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

from sqlalchemy.ext.asyncio import AsyncSession

from debtbot.i18n import LANGUAGES, language_from_telegram
from debtbot.services.deps import Deps
from debtbot.store import audit, citizens
from debtbot.store import chats as chat_store
from debtbot.store.db import transaction, write_once


@dataclass(frozen=True, slots=True)
class IdentityView:
    link_id: int
    holder_type: str  # "person" | "company"
    display_name: str


@dataclass(frozen=True, slots=True)
class ChatView:
    chat_id: int
    language: str
    discreet: bool
    active: bool
    reminders_enabled: bool
    identities: list[IdentityView] = field(default_factory=list)

    @property
    def verified(self) -> bool:
        return bool(self.identities)


class UnknownLanguage(ValueError):
    """Not one of the languages the bot speaks (el, en, tr)."""


def chat_view(record: citizens.ChatRecord) -> ChatView:
    return ChatView(
        chat_id=record.chat_id,
        language=record.language,
        discreet=record.discreet,
        active=record.active,
        reminders_enabled=record.reminders_enabled,
        identities=[
            IdentityView(found.link_id, found.holder_type, found.name)
            for found in record.identities
        ],
    )


async def _view(session: AsyncSession, chat_id: int) -> ChatView | None:
    record = await citizens.chat_record(session, chat_id)
    return None if record is None else chat_view(record)


async def touch_chat(deps: Deps, *, chat_id: int, language_code: str | None) -> ChatView:
    """Every update: create the chat at first contact (language from Telegram's
    language_code), mark it active and seen now (to within a few minutes)."""
    # Runs on every update, so it costs one SELECT when nothing changes, and commits only
    # when it wrote (closing the session rolls the read back).
    async with deps.sessions() as session:
        record, wrote = await citizens.touch_chat(
            session, chat_id=chat_id, language=language_from_telegram(language_code),
            now=deps.clock(),
        )
        if wrote:
            await session.commit()
    return chat_view(record)


async def get_chat(deps: Deps, *, chat_id: int) -> ChatView | None:
    async with transaction(deps.sessions) as session:
        return await _view(session, chat_id)


async def set_language(deps: Deps, *, chat_id: int, language: str) -> ChatView:
    """Raises UnknownLanguage for anything but el, en, tr."""
    if language not in LANGUAGES:
        raise UnknownLanguage(language)
    async with transaction(deps.sessions) as session:
        chat = await chat_store.ensure_chat(session, chat_id, language=language)
        chat.language = language
        await session.flush()
        view = await _view(session, chat_id)
    assert view is not None
    return view


async def set_discreet(deps: Deps, *, chat_id: int, discreet: bool) -> ChatView:
    """Discreet mode: messages name no debt kind or amount on the lock screen."""
    async with transaction(deps.sessions) as session:
        chat = await chat_store.ensure_chat(session, chat_id, language="en")
        chat.discreet = discreet
        await session.flush()
        view = await _view(session, chat_id)
    assert view is not None
    return view


async def set_active(deps: Deps, *, chat_id: int, active: bool) -> None:
    """False when the user blocked the bot (403) or left; True when they come back."""
    async with transaction(deps.sessions) as session:
        await chat_store.set_active(session, chat_id, active)


# /forget edits at most this many earlier messages (Telegram limits edits per chat too).
FORGET_EDITS = 30


async def remember_debt_message(deps: Deps, *, chat_id: int, message_id: int) -> None:
    """A message showing debts, with buttons, was sent: /forget will invalidate them."""
    await write_once(
        deps.sessions,
        partial(citizens.remember_debt_message, chat_id=chat_id, message_id=message_id,
                now=deps.clock()),
    )


async def forget_chat(deps: Deps, *, chat_id: int) -> list[int]:
    """Remove the chat's identities, dialogue and preferences and cancel its pending
    messages. Failed verification attempts are kept: forgetting must not reset the guard.
    Returns the ids of the latest messages whose debt buttons are no longer valid."""
    async with transaction(deps.sessions) as session:
        removed, cancelled = await citizens.forget_chat(session, chat_id=chat_id)
        messages = await citizens.take_debt_messages(
            session, chat_id=chat_id, limit=FORGET_EDITS
        )
        await audit.record(
            session,
            actor=f"chat:{chat_id}",
            action="chat.forget",
            count=removed,
            details={"identities": removed, "messages_cancelled": cancelled},
            at=deps.clock(),
        )
    return messages
