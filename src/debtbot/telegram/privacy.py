"""/privacy: discreet mode, so a locked phone's preview never shows amounts or debt kinds."""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from debtbot.i18n import Translator
from debtbot.services import chats
from debtbot.telegram import keyboards
from debtbot.telegram.context import PRIVATE_MESSAGE, BotContext
from debtbot.telegram.render import Reply
from debtbot.telegram.replies import answer_button, send


def privacy_reply(t: Translator, *, discreet: bool) -> Reply:
    state = (
        t.gettext("Discreet mode is <b>on</b>.")
        if discreet
        else t.gettext("Discreet mode is <b>off</b>.")
    )
    explanation = t.gettext(
        "In discreet mode my messages say only that there is news, with a button that shows "
        "the details here in the chat, so notifications on a locked phone never show amounts "
        "or kinds of debt."
    )
    stored = t.gettext(
        "I never store your identity number itself, only a keyed fingerprint of it. "
        "Send /forget to unlink this chat and delete your settings."
    )
    return Reply(
        f"{state}\n\n{explanation}\n\n{stored}", keyboards.privacy_keyboard(t, discreet=discreet)
    )


async def privacy_command(update: Update, context: BotContext) -> None:
    """Show the discreet-mode setting with a button to switch it."""
    turn = await context.turn(update)
    await send(update, privacy_reply(turn.t, discreet=turn.chat.discreet))


async def privacy_pressed(update: Update, context: BotContext) -> None:
    """`privacy:on|off`: set it and show the new state."""
    turn = await context.turn(update)
    match = keyboards.PRIVACY.match(update.callback_query.data or "")  # type: ignore[union-attr]
    assert match is not None
    view = await chats.set_discreet(
        context.deps, chat_id=turn.chat_id, discreet=match["state"] == "on"
    )
    await answer_button(update, privacy_reply(turn.t, discreet=view.discreet))


def register(application: Application) -> None:  # type: ignore[type-arg]
    application.add_handler(CommandHandler("privacy", privacy_command, filters=PRIVATE_MESSAGE))
    application.add_handler(CallbackQueryHandler(privacy_pressed, pattern=keyboards.PRIVACY))
