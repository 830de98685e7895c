"""/help: what the bot does, and the legal notice that its reminders are only a courtesy."""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, CommandHandler

from debtbot.i18n import Translator
from debtbot.telegram.context import PRIVATE_MESSAGE, BotContext
from debtbot.telegram.render import Reply
from debtbot.telegram.replies import send


def help_text(t: Translator) -> str:
    commands = t.gettext(
        "What I can do:\n"
        "/debts: what you owe now, with deadlines and payment buttons\n"
        "/reminders: reminders before each deadline\n"
        "/language: change the language\n"
        "/privacy: discreet mode for notifications\n"
        "/forget: unlink this chat and delete your data\n"
        "/start: confirm who you are, or add a person or company"
    )
    # Issue #16: what the bot tells of its own accord, and when.
    news = t.gettext(
        "<b>News:</b> the day the authorities record a new debt in your name, correct its "
        "amount or date of service, cancel or withdraw it or confirm it is paid, and the day a "
        "deadline passes (a surcharge applies, the case goes to prosecution or court), I tell "
        "you, outside quiet hours. Several pieces of news at once come as one message. Turn "
        "this news off or on with /reminders."
    )
    # LEGAL_RULES.md, "What the bot never does": not legal service of a notice.
    notice = t.gettext(
        "<b>Please note:</b> my reminders are a courtesy, not the legal service of a notice. "
        "The official amounts and dates are those in the authorities' records and on the "
        "notices served on you; if anything I show differs, the official ones apply."
    )
    return f"{commands}\n\n{news}\n\n{notice}"


async def help_command(update: Update, context: BotContext) -> None:
    """List the commands and the legal notice."""
    turn = await context.turn(update)
    await send(update, Reply(help_text(turn.t)))


def register(application: Application) -> None:  # type: ignore[type-arg]
    application.add_handler(CommandHandler("help", help_command, filters=PRIVATE_MESSAGE))
