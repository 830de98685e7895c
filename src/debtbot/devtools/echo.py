"""A bare python-telegram-bot echo bot: the baseline the chat benchmark compares against."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import Application, ContextTypes, MessageHandler, filters

from debtbot.devtools.ptb import application_builder


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer any text (commands too) with the same text."""
    if update.effective_message is not None and update.effective_message.text is not None:
        await update.effective_message.reply_text(update.effective_message.text)


def build_echo_application(
    api_url: str, token: str, *, concurrent_updates: bool | int = True
) -> Application[Any, Any, Any, Any, Any, Any]:
    """An Application answering every text message with itself, talking to `api_url`."""
    application = application_builder(api_url, token).concurrent_updates(concurrent_updates).build()
    application.add_handler(MessageHandler(filters.TEXT, echo))
    return application
