"""What the bot says when nothing else applies, and when something breaks.

The fallbacks are registered after every feature, so they only see what no feature took:
stickers, photos, voice notes, locations, edited messages, unknown commands, old buttons.
Each gets a short explanation in the chat's language and changes nothing.

The error handler logs internal ids and the exception's type and frames only: never the
update, the user's text or the exception message (a database error can quote parameters).
"""

from __future__ import annotations

import contextlib
import logging
import traceback

from telegram import Update
from telegram.constants import ParseMode
from telegram.error import Forbidden, TelegramError
from telegram.ext import Application, CallbackQueryHandler, MessageHandler, filters

from debtbot.i18n import language_from_telegram, translator
from debtbot.services import chats, verify_identity
from debtbot.store.health import OUTAGE, is_database_outage
from debtbot.telegram import render
from debtbot.telegram.context import PRIVATE_MESSAGE, BotContext
from debtbot.telegram.paced import ReplyQueued
from debtbot.telegram.replies import answer_button, send

log = logging.getLogger(__name__)


async def edited(update: Update, context: BotContext) -> None:
    """Edits are not read: the answer must come as a new message."""
    turn = await context.turn(update)
    await send(update, render.Reply(render.edited_message(turn.t)))


async def unknown_command(update: Update, context: BotContext) -> None:
    """A /command no feature knows."""
    turn = await context.turn(update)
    await send(update, render.Reply(render.unknown_command(turn.t)))


async def not_text(update: Update, context: BotContext) -> None:
    """Stickers, photos, voice notes, locations, documents: in a dialogue, re-ask its question."""
    turn = await context.turn(update)
    reply = await verify_identity.submit_text(context.deps, chat_id=turn.chat_id, text=None)
    if reply.outcome == verify_identity.Outcome.NO_DIALOGUE:
        await send(update, render.Reply(render.text_only(turn.t)))
        return
    await send(update, render.verification(turn.t, reply, via="text"))


async def stale_button(update: Update, context: BotContext) -> None:
    """A button whose data no feature accepts (old, forged or from an older version)."""
    turn = await context.turn(update)
    await answer_button(update, render.Reply(render.stale_button(turn.t)), edit=False)


def register_fallbacks(application: Application) -> None:  # type: ignore[type-arg]
    private = filters.ChatType.PRIVATE
    application.add_handler(MessageHandler(private & filters.UpdateType.EDITED_MESSAGE, edited))
    application.add_handler(MessageHandler(PRIVATE_MESSAGE & filters.COMMAND, unknown_command))
    application.add_handler(MessageHandler(PRIVATE_MESSAGE, not_text))
    application.add_handler(CallbackQueryHandler(stale_button))
    application.add_error_handler(on_error)


async def on_error(update: object, context: BotContext) -> None:
    """Log ids and frames only; tell the user, in their language, to try again."""
    error = context.error
    update_id = update.update_id if isinstance(update, Update) else None
    if isinstance(error, ReplyQueued):  # not lost: the outbox sends it first
        log.info("update %s: the reply went to the outbox", update_id)
        return
    if error is not None and is_database_outage(error):
        OUTAGE.failed(error)  # one line per outage, not a traceback per update
    else:
        frames = "".join(traceback.format_tb(error.__traceback__)) if error else ""
        log.error("update %s failed with %s\n%s", update_id, type(error).__name__, frames)
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    if isinstance(error, Forbidden):  # blocked: nobody to tell
        return
    if update.effective_chat.type != "private":
        return
    t = translator(await _language(update, context))
    with contextlib.suppress(TelegramError):
        if update.callback_query is not None:
            await update.callback_query.answer()
        await update.effective_chat.send_message(
            render.something_went_wrong(t), parse_mode=ParseMode.HTML
        )


async def _language(update: Update, context: BotContext) -> str:
    user = update.effective_user
    fallback = language_from_telegram(user.language_code if user else None)
    chat = update.effective_chat
    assert chat is not None
    try:
        view = await chats.get_chat(context.deps, chat_id=chat.id)
    except Exception:  # the database may be what failed; the user still gets an answer
        return fallback
    return view.language if view else fallback
