"""/forget: unlink the chat and delete what the bot keeps about it, after a confirmation."""

from __future__ import annotations

import contextlib
from datetime import timedelta

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from debtbot.services import chats
from debtbot.telegram import keyboards, render
from debtbot.telegram.context import PRIVATE_MESSAGE, BotContext
from debtbot.telegram.replies import answer_button, send

# A confirmation button older than this is refused: an old "yes" must not wipe a chat that
# has been verified again since.
CONFIRMATION_VALID = timedelta(minutes=10)


async def forget_command(update: Update, context: BotContext) -> None:
    """Ask for confirmation, with buttons stamped with the time they were offered."""
    turn = await context.turn(update)
    t = turn.t
    text = t.gettext(
        "This unlinks every person and company from this chat and deletes your settings and "
        "any planned reminders. Your debts themselves stay with the authorities. "
        "Do you want to continue?"
    )
    asked_at = int(context.deps.clock().timestamp())
    await send(update, render.Reply(text, keyboards.forget_keyboard(t, asked_at=asked_at)))


async def forget_pressed(update: Update, context: BotContext) -> None:
    """`forget:yes|no:<asked_at>`: do it (if the button is recent) or leave everything as is."""
    turn = await context.turn(update)
    t = turn.t
    match = keyboards.FORGET.match(update.callback_query.data or "")  # type: ignore[union-attr]
    assert match is not None
    now = context.deps.clock().timestamp()
    age = now - int(match["asked_at"])
    if not 0 <= age <= CONFIRMATION_VALID.total_seconds():
        await answer_button(update, render.Reply(render.stale_button(t)), edit=False)
        return
    if match["answer"] == "no":
        await answer_button(update, render.Reply(t.gettext("Nothing was changed.")))
        return
    messages = await chats.forget_chat(context.deps, chat_id=turn.chat_id)
    await answer_button(
        update,
        render.Reply(
            t.gettext(
                "Done. This chat is no longer linked to anyone and your settings are deleted. "
                "Send /start if you want to use the bot again."
            )
        ),
    )
    # The earlier messages about debts keep their buttons on screen: mark them as no longer
    # valid (their presses would be refused anyway; now they also look it).
    stale = keyboards.stale_keyboard(t)
    for message_id in messages:
        with contextlib.suppress(TelegramError):
            await context.bot.edit_message_reply_markup(
                chat_id=turn.chat_id, message_id=message_id, reply_markup=stale
            )


async def stale_pressed(update: Update, context: BotContext) -> None:
    """A button marked "no longer valid"."""
    turn = await context.turn(update)
    await answer_button(update, render.Reply(render.stale_button(turn.t)), edit=False)


def register(application: Application) -> None:  # type: ignore[type-arg]
    application.add_handler(CommandHandler("forget", forget_command, filters=PRIVATE_MESSAGE))
    application.add_handler(CallbackQueryHandler(forget_pressed, pattern=keyboards.FORGET))
    application.add_handler(CallbackQueryHandler(stale_pressed, pattern=keyboards.STALE))
