"""A chat with the bot: its language, discreet mode, whether it is reachable, and the
identities it has proven."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from debtbot.i18n import LANGUAGES, language_from_telegram
from debtbot.services import show_debts
from debtbot.services.deps import Deps
from debtbot.services.show_debts import DebtReport
from debtbot.store.chats import ChatRecord


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


@dataclass(frozen=True, slots=True)
class Touched:
    """The chat of an update, touched; and, when asked for, what it owes (read with it)."""

    chat: ChatView
    debts: DebtReport | None = None


def chat_view(record: ChatRecord) -> ChatView:
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


# last_seen_at is for "who still uses the bot", not an audit trail: writing it on every
# update would turn every read-only command into a write (and, on SQLite, serialise them).
SEEN_EVERY = timedelta(minutes=5)


def _needs_touch(record: ChatRecord, now: datetime) -> bool:
    if not record.active or record.last_seen_at is None:
        return True
    return not timedelta(0) <= now - record.last_seen_at < SEEN_EVERY


async def touch_chat(
    deps: Deps, *, chat_id: int, language_code: str | None, with_debts: bool = False
) -> Touched:
    """Every update: create the chat at first contact (language from Telegram's
    language_code), mark it active and seen now (to within a few minutes). `with_debts`:
    and what it owes (/debts), read in the same statement."""
    # Runs on every update, so it costs one statement, outside any transaction, when nothing
    # changes (the chat seen lately); the write, when due, comes after in its own.
    now = deps.clock()
    report = None
    if with_debts:
        record, found = await deps.read(lambda uow: uow.chats.chat_and_debts(chat_id))
        report = show_debts.report(deps.settings, deps.rulebook, found, now)
    else:
        record = await deps.read(lambda uow: uow.chats.record(chat_id))
    if record is None:  # first contact: the chat is created, in its own transaction
        language = language_from_telegram(language_code)
        async with deps.uow() as uow:
            await uow.chats.first_contact(chat_id, language=language, now=now)
            record = await uow.chats.record(chat_id)
        assert record is not None
    elif _needs_touch(record, now):
        await deps.write_once(lambda uow: uow.chats.mark_seen(chat_id, now=now))
        record = replace(record, active=True, last_seen_at=now)
    return Touched(chat_view(record), report)


async def get_chat(deps: Deps, *, chat_id: int) -> ChatView | None:
    record = await deps.read(lambda uow: uow.chats.record(chat_id))
    return None if record is None else chat_view(record)


async def set_language(deps: Deps, *, chat_id: int, language: str) -> ChatView:
    """Raises UnknownLanguage for anything but el, en, tr."""
    if language not in LANGUAGES:
        raise UnknownLanguage(language)
    async with deps.uow() as uow:
        await uow.chats.set_language(chat_id, language)
        record = await uow.chats.record(chat_id)
    assert record is not None
    return chat_view(record)


async def set_discreet(deps: Deps, *, chat_id: int, discreet: bool) -> ChatView:
    """Discreet mode: messages name no debt kind or amount on the lock screen."""
    async with deps.uow() as uow:
        await uow.chats.set_discreet(chat_id, discreet)
        record = await uow.chats.record(chat_id)
    assert record is not None
    return chat_view(record)


async def set_active(deps: Deps, *, chat_id: int, active: bool) -> None:
    """False when the user blocked the bot (403) or left; True when they come back."""
    async with deps.uow() as uow:
        await uow.chats.set_active(chat_id, active)


# /forget edits at most this many earlier messages (Telegram limits edits per chat too).
FORGET_EDITS = 30


async def remember_debt_message(deps: Deps, *, chat_id: int, message_id: int) -> None:
    """A message showing debts, with buttons, was sent: /forget will invalidate them."""
    now = deps.clock()
    await deps.write_once(
        lambda uow: uow.chats.remember_debt_message(chat_id, message_id=message_id, now=now)
    )


async def forget_chat(deps: Deps, *, chat_id: int) -> list[int]:
    """Remove the chat's identities, dialogue and preferences and cancel its pending
    messages. Failed verification attempts are kept: forgetting must not reset the guard.
    Returns the ids of the latest messages whose debt buttons are no longer valid."""
    async with deps.uow() as uow:
        removed = await uow.chats.forget(chat_id)
        await uow.dialogues.end_conversation(chat_id)
        cancelled = await uow.outbox.cancel(chat_id=chat_id, reason="chat forgotten")
        messages = await uow.chats.take_debt_messages(chat_id, limit=FORGET_EDITS)
        await uow.audit.record(
            actor=f"chat:{chat_id}",
            action="chat.forget",
            count=removed,
            details={"identities": removed, "messages_cancelled": cancelled},
            at=deps.clock(),
        )
    return messages
