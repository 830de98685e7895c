"""/start: first contact, the deep link `/start <token>`, and the start of verification."""

from __future__ import annotations

import re

from telegram import Update
from telegram.ext import Application, CommandHandler

from debtbot.services import verify_identity
from debtbot.telegram import render
from debtbot.telegram.context import PRIVATE_MESSAGE, BotContext
from debtbot.telegram.replies import send

# Telegram's start parameter: up to 64 characters of A-Z, a-z, 0-9, _ and -.
TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


async def start(update: Update, context: BotContext) -> None:
    """Greet; redeem a deep-link token if one came with /start; otherwise start verifying."""
    turn = await context.turn(update)
    t = turn.t
    if context.args:
        token = context.args[0] if len(context.args) == 1 else ""
        if not TOKEN.match(token):
            await send(update, render.Reply(render.token_invalid(t)))
            return
        reply = await verify_identity.redeem_link_token(
            context.deps, chat_id=turn.chat_id, token=token
        )
        await send(update, render.verification(t, reply, via="link"))
        return
    if turn.chat.verified:
        # A second /start in the middle of adding a person or company begins it again.
        restarted = await verify_identity.restart_if_under_way(context.deps, chat_id=turn.chat_id)
        if restarted is not None:
            await send(update, render.verification(t, restarted, via="command"))
            return
        names = [identity.display_name for identity in turn.chat.identities]
        await send(update, render.welcome_back(t, names))
        return
    reply = await verify_identity.start_verification(
        context.deps, chat_id=turn.chat_id, bot_username=context.bot.username or ""
    )
    rendered = render.verification(t, reply, via="command")
    if reply.restarted:  # a second /start mid-dialogue: no second welcome
        await send(update, rendered)
        return
    await send(update, render.Reply(f"{render.welcome(t)}\n\n{rendered.text}", rendered.markup))


def register(application: Application) -> None:  # type: ignore[type-arg]
    application.add_handler(CommandHandler("start", start, filters=PRIVATE_MESSAGE))
