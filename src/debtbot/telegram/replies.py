"""Sending a rendered Reply: a new message, or an edit of the message whose button was pressed."""

from __future__ import annotations

import contextlib

from telegram import InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest

from debtbot.telegram.render import Reply


async def send(update: Update, reply: Reply) -> Message:
    chat = update.effective_chat
    assert chat is not None
    return await chat.send_message(
        reply.text, parse_mode=ParseMode.HTML, reply_markup=reply.markup
    )


async def answer_button(update: Update, reply: Reply, *, edit: bool = True) -> None:
    """Answer a button press: edit its message in place when the reply allows, else send."""
    query = update.callback_query
    assert query is not None
    with contextlib.suppress(BadRequest):  # a query older than Telegram keeps is harmless
        await query.answer()
    message = query.message
    can_edit = reply.markup is None or isinstance(reply.markup, InlineKeyboardMarkup)
    if edit and can_edit and message is not None and message.is_accessible:
        try:
            await query.edit_message_text(
                reply.text, parse_mode=ParseMode.HTML, reply_markup=reply.markup
            )
            return
        except BadRequest as error:
            if "not modified" in str(error).lower():
                return
    await send(update, reply)
