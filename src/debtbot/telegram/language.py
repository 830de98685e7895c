"""/language: the chat's language, changeable at any time with buttons."""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from debtbot.services import chats
from debtbot.telegram import keyboards
from debtbot.telegram.context import PRIVATE_MESSAGE, BotContext
from debtbot.telegram.render import Reply
from debtbot.telegram.replies import answer_button, send


async def language_command(update: Update, context: BotContext) -> None:
    """Offer the three languages, each named in itself."""
    turn = await context.turn(update)
    text = turn.t.gettext("Choose the language I should write to you in:")
    await send(update, Reply(text, keyboards.language_keyboard(turn.chat.language)))


async def language_pressed(update: Update, context: BotContext) -> None:
    """`lang:<code>`: switch and confirm in the new language."""
    turn = await context.turn(update)
    match = keyboards.LANGUAGE.match(update.callback_query.data or "")  # type: ignore[union-attr]
    assert match is not None
    view = await chats.set_language(context.deps, chat_id=turn.chat_id, language=match["language"])
    t = context.retranslate(view).t
    await answer_button(update, Reply(t.gettext("From now on I will write to you in English.")))


def register(application: Application) -> None:  # type: ignore[type-arg]
    application.add_handler(CommandHandler("language", language_command, filters=PRIVATE_MESSAGE))
    application.add_handler(CallbackQueryHandler(language_pressed, pattern=keyboards.LANGUAGE))
