"""What a chat wants to be reminded of: all on or all off, per debt kind, or a week's peace,
so nobody has to block the bot to get quiet. And whether the chat can be reached at all:
a user who blocks the bot makes the chat inactive; coming back makes it active again.

Every change cancels the reminders already queued that it rules out, in the same
transaction, so the next send already respects it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from debtbot.domain.debts import DebtKind
from debtbot.domain.messages import OutboxPurpose
from debtbot.services.deps import Deps
from debtbot.store.chats import ChatPreferences
from debtbot.store.unit_of_work import UnitOfWork

SNOOZE = timedelta(days=7)
KINDS = tuple(kind.value for kind in DebtKind)


class UnknownKind(ValueError):
    """A debt kind that does not exist (a forged or stale button)."""


@dataclass(frozen=True, slots=True)
class ReminderPreferences:
    chat_id: int
    language: str
    verified: bool  # reminders only ever go to chats with a verified identity
    enabled: bool
    muted_kinds: tuple[str, ...]
    snoozed_until: datetime | None  # set only while the snooze lasts
    lead_days: tuple[int, ...]  # e.g. (7, 1): how long before each deadline
    news: bool = True  # news of new and changed debts, and of thresholds passed (issue #16)

    def kind_on(self, kind: str) -> bool:
        return kind not in self.muted_kinds


def _view(deps: Deps, found: ChatPreferences | None) -> ReminderPreferences | None:
    if found is None:
        return None
    now = deps.clock()
    snoozed = found.snoozed_until if found.snoozed_until and found.snoozed_until > now else None
    leads = tuple(lead.days for lead in deps.rulebook.reminder_leads)  # what the planner uses
    return ReminderPreferences(
        chat_id=found.chat_id, language=found.language, verified=found.identities > 0,
        enabled=found.enabled, muted_kinds=tuple(k for k in found.muted_kinds if k in KINDS),
        snoozed_until=snoozed, lead_days=leads, news=found.news,
    )


async def get_preferences(deps: Deps, *, chat_id: int) -> ReminderPreferences | None:
    """The chat's reminder settings (None for a chat the bot has never seen)."""
    return _view(deps, await deps.read(lambda uow: uow.chats.preferences(chat_id)))


async def _change(
    deps: Deps, chat_id: int, action: str, **values: Any
) -> ReminderPreferences | None:
    async with deps.uow() as uow:
        if not await uow.chats.set_preferences(chat_id, **values):
            return None
        cancelled = 0
        if action in ("reminders.off", "reminders.snooze"):
            cancelled = await uow.outbox.cancel(chat_id=chat_id, purpose=OutboxPurpose.REMINDER,
                                                reason=action)
        return await _audited(deps, uow, chat_id, action, cancelled)


async def _audited(
    deps: Deps, uow: UnitOfWork, chat_id: int, action: str, cancelled: int,
    details: dict[str, Any] | None = None,
) -> ReminderPreferences | None:
    await uow.audit.record(
        actor=f"chat:{chat_id}", action=action, count=cancelled, details=details,
        at=deps.clock(),
    )
    return _view(deps, await uow.chats.preferences(chat_id))


async def set_enabled(deps: Deps, *, chat_id: int, enabled: bool) -> ReminderPreferences | None:
    """All reminders on or off (off cancels what is queued). Turning them on ends a snooze."""
    values: dict[str, Any] = {"reminders": enabled}
    if enabled:
        values["end_snooze"] = True
    return await _change(deps, chat_id, "reminders.on" if enabled else "reminders.off", **values)


async def set_news(deps: Deps, *, chat_id: int, enabled: bool) -> ReminderPreferences | None:
    """News of new and changed debts on or off (off cancels the news queued)."""
    action = "news.on" if enabled else "news.off"
    async with deps.uow() as uow:
        if not await uow.chats.set_preferences(chat_id, news=enabled):
            return None
        cancelled = 0
        if not enabled:
            cancelled = await uow.outbox.cancel(chat_id=chat_id, purpose=OutboxPurpose.REMINDER,
                                                news="all", held=True, reason=action)
        return await _audited(deps, uow, chat_id, action, cancelled)


async def set_kind(
    deps: Deps, *, chat_id: int, kind: str, enabled: bool
) -> ReminderPreferences | None:
    """Reminders about one kind of debt on or off."""
    if kind not in KINDS:
        raise UnknownKind(kind)
    current = await get_preferences(deps, chat_id=chat_id)
    if current is None:
        return None
    muted = set(current.muted_kinds)
    if enabled:
        muted.discard(kind)
    else:
        muted.add(kind)
    action = "reminders.unmute_kind" if enabled else "reminders.mute_kind"
    async with deps.uow() as uow:
        await uow.chats.set_preferences(chat_id, muted_kinds=sorted(muted))
        cancelled = 0
        if not enabled:
            cancelled = await uow.outbox.cancel(chat_id=chat_id, purpose=OutboxPurpose.REMINDER,
                                                kind=kind, reason=action)
        return await _audited(deps, uow, chat_id, action, cancelled, {"kind": kind})


async def snooze(
    deps: Deps, *, chat_id: int, period: timedelta = SNOOZE
) -> ReminderPreferences | None:
    """No reminders for a week (what falls due meanwhile is skipped, not sent late)."""
    return await _change(
        deps, chat_id, "reminders.snooze", snoozed_until=deps.clock() + period
    )


async def resume(deps: Deps, *, chat_id: int) -> ReminderPreferences | None:
    """End a snooze now."""
    return await _change(deps, chat_id, "reminders.resume", end_snooze=True)


async def chat_reachable(deps: Deps, *, chat_id: int, reachable: bool) -> None:
    """my_chat_member: the user blocked the bot (or left), or came back.

    Blocked: the chat becomes inactive and everything pending for it is cancelled; nothing
    new is queued for it. Back: active again, so the next sweep plans for it.
    """
    async with deps.uow() as uow:
        if await uow.chats.language(chat_id) is None:
            return  # a chat we never spoke with: nothing to remember about it
        await uow.chats.set_active(chat_id, reachable)
        cancelled = 0 if reachable else await uow.outbox.cancel(chat_id=chat_id,
                                                                 reason="chat inactive")
        await uow.audit.record(
            actor=f"chat:{chat_id}",
            action="chat.unblocked" if reachable else "chat.blocked",
            count=cancelled, at=deps.clock(),
        )
