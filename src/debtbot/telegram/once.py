"""Each update processed once across the fleet: before any feature sees an update, its
update_id is recorded (services.fleet.first_time); one already taken in the last day, by this
instance or another, is acknowledged (a webhook answers 200 at once, as always) and skipped.

A second delivery happens when Telegram retries a webhook call it thinks failed, or when a
poller takes over from one that died before confirming what it had fetched.
"""

from __future__ import annotations

import logging

from telegram import Update
from telegram.ext import Application, ApplicationHandlerStop, TypeHandler

from debtbot.services import fleet
from debtbot.telegram.context import BotContext

log = logging.getLogger(__name__)

GROUP = -1000  # before every feature's handlers


async def skip_if_seen(update: Update, context: BotContext) -> None:
    """Stop here if the update was already taken."""
    if not await fleet.first_time(context.deps, update.update_id):
        log.info("update %s already processed; skipped", update.update_id)
        raise ApplicationHandlerStop


def register(application: Application) -> None:  # type: ignore[type-arg]
    application.add_handler(TypeHandler(Update, skip_if_seen), group=GROUP)
