"""my_chat_member: the user blocked the bot (the chat becomes inactive, nothing more is queued
for it and what was pending is cancelled) or came back (active again)."""

from __future__ import annotations

from telegram import ChatMember, Update
from telegram.constants import ChatType
from telegram.ext import Application, ChatMemberHandler

from debtbot.services import reminder_preferences
from debtbot.telegram.context import BotContext

_GONE = {ChatMember.BANNED, ChatMember.LEFT}  # "kicked" is how a private chat's block shows


async def membership_changed(update: Update, context: BotContext) -> None:
    """Record whether the chat can still be reached."""
    change = update.my_chat_member
    if change is None or change.chat.type != ChatType.PRIVATE:
        return
    reachable = change.new_chat_member.status not in _GONE
    await reminder_preferences.chat_reachable(
        context.deps, chat_id=change.chat.id, reachable=reachable
    )


def register(application: Application) -> None:  # type: ignore[type-arg]
    application.add_handler(
        ChatMemberHandler(membership_changed, ChatMemberHandler.MY_CHAT_MEMBER)
    )
