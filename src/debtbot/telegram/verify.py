"""The verification dialogue: buttons, typed answers and the shared contact.

The service keeps the dialogue's state in the database and decides everything; this module
only turns presses and messages into service calls and the replies into messages.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from debtbot.services import verify_identity
from debtbot.telegram import keyboards, render
from debtbot.telegram.context import PRIVATE_MESSAGE, BotContext
from debtbot.telegram.replies import answer_button, send


async def start_pressed(update: Update, context: BotContext) -> None:
    """"Add a person or company": start (another) verification."""
    turn = await context.turn(update)
    reply = await verify_identity.start_verification(
        context.deps, chat_id=turn.chat_id, bot_username=context.bot.username or ""
    )
    await answer_button(update, render.verification(turn.t, reply, via="button"), edit=False)


async def holder_chosen(update: Update, context: BotContext) -> None:
    """Person or company."""
    turn = await context.turn(update)
    match = keyboards.VERIFY_HOLDER.match(update.callback_query.data or "")  # type: ignore[union-attr]
    assert match is not None
    reply = await verify_identity.choose_holder(
        context.deps, chat_id=turn.chat_id, holder=match["holder"]
    )
    await answer_button(update, render.verification(turn.t, reply, via="button"))


async def id_type_chosen(update: Update, context: BotContext) -> None:
    """Identity card, ARC or passport."""
    turn = await context.turn(update)
    match = keyboards.VERIFY_ID_TYPE.match(update.callback_query.data or "")  # type: ignore[union-attr]
    assert match is not None
    id_type = match["id_type"]
    reply = await verify_identity.choose_id_type(
        context.deps, chat_id=turn.chat_id, id_type=id_type
    )
    await answer_button(
        update, render.verification(turn.t, reply, id_type=id_type, via="button")
    )


async def cancel_pressed(update: Update, context: BotContext) -> None:
    """Stop the dialogue; nothing is linked."""
    turn = await context.turn(update)
    await verify_identity.cancel_verification(context.deps, chat_id=turn.chat_id)
    await answer_button(update, render.Reply(render.cancelled(turn.t)))


async def cancel_command(update: Update, context: BotContext) -> None:
    """/cancel: leave whatever dialogue is under way."""
    turn = await context.turn(update)
    reply = await verify_identity.cancel_verification(context.deps, chat_id=turn.chat_id)
    await send(update, render.cancel_reply(turn.t, reply))


async def text_received(update: Update, context: BotContext) -> None:
    """A typed answer: whatever the current step expects (the service knows which)."""
    turn = await context.turn(update)
    text = update.effective_message.text or ""  # type: ignore[union-attr]
    reply = await verify_identity.submit_text(context.deps, chat_id=turn.chat_id, text=text)
    await send(update, render.verification(turn.t, reply, via="text"))


async def contact_received(update: Update, context: BotContext) -> None:
    """A shared contact: only the sender's own number (Telegram's button) verifies."""
    turn = await context.turn(update)
    message = update.effective_message
    assert message is not None and message.contact is not None
    sender = update.effective_user
    reply = await verify_identity.submit_contact(
        context.deps,
        chat_id=turn.chat_id,
        phone=message.contact.phone_number,
        contact_user_id=message.contact.user_id,
        sender_user_id=sender.id if sender else 0,
    )
    await send(update, render.verification(turn.t, reply, via="contact"))


def register(application: Application) -> None:  # type: ignore[type-arg]
    application.add_handler(CommandHandler("cancel", cancel_command, filters=PRIVATE_MESSAGE))
    application.add_handler(
        CallbackQueryHandler(start_pressed, pattern=keyboards.VERIFY_START)
    )
    application.add_handler(
        CallbackQueryHandler(holder_chosen, pattern=keyboards.VERIFY_HOLDER)
    )
    application.add_handler(
        CallbackQueryHandler(id_type_chosen, pattern=keyboards.VERIFY_ID_TYPE)
    )
    application.add_handler(
        CallbackQueryHandler(cancel_pressed, pattern=keyboards.VERIFY_CANCEL)
    )
    application.add_handler(
        MessageHandler(PRIVATE_MESSAGE & filters.TEXT & ~filters.COMMAND, text_received)
    )
    application.add_handler(MessageHandler(PRIVATE_MESSAGE & filters.CONTACT, contact_received))

