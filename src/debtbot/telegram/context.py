"""The typed context every handler gets: the services' deps and, once asked for, the chat.

python-telegram-bot builds one context per update and shares it between handler groups, so
the chat looked up for an update is cached on it (never in chat_data: with concurrent
updates two updates of one chat run at the same time).
"""

from __future__ import annotations

from dataclasses import dataclass

from telegram import Update
from telegram.ext import Application, CallbackContext, ExtBot, filters

from debtbot.i18n import Translator, translator
from debtbot.services import chats
from debtbot.services.chats import ChatView
from debtbot.services.deps import Deps

# New messages in private chats: edited messages and group chats never reach the handlers.
PRIVATE_MESSAGE = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE


@dataclass(frozen=True, slots=True)
class Turn:
    """One update's view of its chat: who it is and which language to answer in."""

    chat_id: int
    chat: ChatView
    t: Translator


def telegram_language(update: Update) -> str | None:
    """The language of the user's Telegram app (a chat's language at first contact)."""
    user = update.effective_user
    return user.language_code if user else None


class BotContext(CallbackContext[ExtBot[None], dict, dict, dict]):
    """CallbackContext carrying the services' deps and the chat of the current update."""

    def __init__(
        self,
        application: Application,  # type: ignore[type-arg]
        chat_id: int | None = None,
        user_id: int | None = None,
    ) -> None:
        super().__init__(application, chat_id=chat_id, user_id=user_id)
        self._turn: Turn | None = None

    @property
    def deps(self) -> Deps:
        return self.application.bot_data["deps"]

    async def turn(self, update: Update) -> Turn:
        """touch_chat once per update (creates the chat at first contact) and cache it."""
        if self._turn is None:
            chat = update.effective_chat
            assert chat is not None  # handlers are registered for private chats only
            view = await chats.touch_chat(
                self.deps, chat_id=chat.id, language_code=telegram_language(update)
            )
            self._turn = Turn(chat_id=chat.id, chat=view, t=translator(view.language))
        return self._turn

    def touched(self, view: ChatView) -> Turn:
        """The turn of a chat a service has just touched (touch_chat in its own
        transaction, e.g. show_debts.debts_on_update), so turn() need not touch it again."""
        self._turn = Turn(chat_id=view.chat_id, chat=view, t=translator(view.language))
        return self._turn

    def retranslate(self, view: ChatView) -> Turn:
        """After a service changed the chat (language, forget), speak its new language."""
        assert self._turn is not None
        self._turn = Turn(chat_id=self._turn.chat_id, chat=view, t=translator(view.language))
        return self._turn
