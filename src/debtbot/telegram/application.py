"""The python-telegram-bot Application: built from Deps, one module per feature.

`build_application(deps)` points PTB at `settings.telegram_api_url` (Telegram, a Local Bot
API Server, or the fake one in tests), handles a bounded number of updates concurrently
(state lives in the database, so any instance and any task can take any update; the bound
keeps a burst waiting in the queue rather than timing out on database connections) and
registers every feature,
then the fallbacks and the error handler. Running it (polling or webhook) is app.py's job.
"""

from __future__ import annotations

from telegram import BotCommand, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.ext import Application, ApplicationBuilder, ContextTypes, Defaults
from telegram.request import BaseRequest

from debtbot.i18n import LANGUAGES, translator
from debtbot.services.deps import Deps
from debtbot.settings import Settings
from debtbot.store.db import pool_size
from debtbot.telegram import (
    chat_member,
    debts,
    errors,
    forget,
    help,
    language,
    once,
    privacy,
    reminders,
    start,
    verify,
)
from debtbot.telegram import staff as staff_commands
from debtbot.telegram.context import BotContext
from debtbot.telegram.request import JsonRequest

# Order matters: the first handler that accepts an update takes it. Other workstreams add
# their module here (reminders, chat_member, staff); errors' fallbacks always come last.
FEATURES = [
    start, verify, debts, language, privacy, forget, help, staff_commands, reminders, chat_member,
]

COMMANDS = ("start", "debts", "reminders", "language", "privacy", "forget", "cancel", "help")


class DebtbotApplication(Application):  # type: ignore[type-arg]
    """Publishes the command menu whenever it starts, in polling, webhook or shell mode."""

    async def initialize(self) -> None:
        await super().initialize()
        await publish_commands(self)


# Measured with bench/chat_bench.py: a few updates at once keep the event loop busy while one
# waits for the database; many at once cost more in scheduling than they gain (README).
AUTO_CONCURRENT_UPDATES = 8


def concurrent_updates(settings: Settings) -> int:
    """The updates worked on at once: the setting, else AUTO_CONCURRENT_UPDATES, never more
    than the store's pool holds (an update would wait for a connection and could time out)."""
    wanted = settings.concurrent_updates or AUTO_CONCURRENT_UPDATES
    return max(1, min(wanted, pool_size(settings.database_url)))


def build_application(
    deps: Deps, *, request: BaseRequest | None = None, updates_once: bool = False
) -> Application:  # type: ignore[type-arg]
    """The bot, ready for `async with application:` and polling or a webhook.

    `request`: how the bot talks to the Bot API (app.py gives a PacedRequest: replies on the
    fleet's pace, retried, never lost); `updates_once`: skip an update_id already processed
    (several instances, or a webhook that may deliver twice)."""
    settings = deps.settings
    api = settings.telegram_api_url.rstrip("/")
    application = (
        ApplicationBuilder()
        .token(settings.telegram_token)
        .base_url(f"{api}/bot")
        .base_file_url(f"{api}/file/bot")
        .request(request or JsonRequest())
        # getUpdates on the same client as the replies (PTB's default would be httpx's).
        .get_updates_request(JsonRequest(connection_pool_size=1))
        .concurrent_updates(concurrent_updates(settings))
        .context_types(ContextTypes(context=BotContext))
        .defaults(
            Defaults(
                parse_mode=ParseMode.HTML,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        )
        .application_class(DebtbotApplication)
        .build()
    )
    application.bot_data["deps"] = deps
    if updates_once:
        once.register(application)
    for feature in FEATURES:
        feature.register(application)
    errors.register_fallbacks(application)
    return application


def command_menu(language: str) -> list[BotCommand]:
    t = translator(language)
    descriptions = {
        "start": t.pgettext("command", "Confirm who you are"),
        "debts": t.pgettext("command", "What you owe now"),
        "reminders": t.pgettext("command", "Reminders before deadlines"),
        "language": t.pgettext("command", "Change the language"),
        "privacy": t.pgettext("command", "Discreet mode"),
        "forget": t.pgettext("command", "Unlink this chat and delete your data"),
        "cancel": t.pgettext("command", "Leave the current dialogue"),
        "help": t.pgettext("command", "Help and legal notice"),
    }
    return [BotCommand(name, descriptions[name]) for name in COMMANDS]


async def publish_commands(application: Application) -> None:  # type: ignore[type-arg]
    """The command menu in each language (setMyCommands), English for everyone else."""
    bot = application.bot
    await bot.set_my_commands(command_menu("en"))
    for code in LANGUAGES:
        await bot.set_my_commands(command_menu(code), language_code=code)
