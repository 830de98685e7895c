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
from debtbot.services.show_debts import DebtReport

# New messages in private chats: edited messages and group chats never reach the handlers.
PRIVATE_MESSAGE = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE


@dataclass(frozen=True, slots=True)
class Turn:
    """One update's view of its chat: who it is and which language to answer in."""

    chat_id: int
    chat: ChatView
    t: Translator
    debts: DebtReport | None = None  # what the chat owes, when the handler asked for it


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

    async def turn(self, update: Update, *, with_debts: bool = False) -> Turn:
        """The chat of this update, touched once (created at first contact) and cached;
        `with_debts`: and what it owes, read in the same statement (/debts)."""
        if self._turn is None or (with_debts and self._turn.debts is None):
            chat = update.effective_chat
            assert chat is not None  # handlers are registered for private chats only
            touched = await chats.touch_chat(
                self.deps, chat_id=chat.id, language_code=telegram_language(update),
                with_debts=with_debts,
            )
            view = touched.chat
            self._turn = Turn(chat_id=chat.id, chat=view, t=translator(view.language),
                              debts=touched.debts)
        return self._turn

    def retranslate(self, view: ChatView) -> Turn:
        """After a service changed the chat (language, forget), speak its new language."""
        assert self._turn is not None
        self._turn = Turn(chat_id=self._turn.chat_id, chat=view, t=translator(view.language))
        return self._turn
