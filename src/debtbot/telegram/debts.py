"""/debts: what the verified chat owes now, page by page, with Pay buttons.

In discreet mode the first message says only that there is news; the details replace it
(an edit, which raises no notification) when the citizen presses the button, so a locked
phone's preview never shows an amount or a kind of debt.
"""

from __future__ import annotations

import contextlib

from telegram import InputFile, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from debtbot.services import chats, show_debts
from debtbot.telegram import calendar_file, keyboards, render
from debtbot.telegram.context import PRIVATE_MESSAGE, BotContext
from debtbot.telegram.replies import answer_button, send


async def debts_command(update: Update, context: BotContext) -> None:
    """Send page 1 of the report (or, in discreet mode, the button that reveals it)."""
    # The chat and its report in one statement: the report's own check decides what an
    # unverified chat sees, so nothing leaks.
    turn = await context.turn(update, with_debts=True)
    report = turn.debts
    assert report is not None
    if not report.verified:
        await send(update, render.Reply(render.not_verified(turn.t)))
        return
    if turn.chat.discreet:
        sent = await send(update, render.discreet_teaser(turn.t, keyboards.debts_page_data(1)))
    else:
        sent = await send(update, render.debts_page(turn.t, report, 1))
    if report.lines:  # its buttons (Pay, Details) stop being valid after /forget
        await chats.remember_debt_message(
            context.deps, chat_id=turn.chat_id, message_id=sent.message_id
        )


async def page_pressed(update: Update, context: BotContext) -> None:
    """`debts:page:<n>`: show that page in place of the message whose button was pressed."""
    match = keyboards.DEBTS_PAGE.match(update.callback_query.data or "")  # type: ignore[union-attr]
    assert match is not None
    turn = await context.turn(update, with_debts=True)
    report = turn.debts
    assert report is not None
    if not report.verified:
        await answer_button(update, render.Reply(render.stale_button(turn.t)), edit=False)
        return
    await answer_button(update, render.debts_page(turn.t, report, int(match["page"])))


async def debt_pressed(update: Update, context: BotContext) -> None:
    """`debt:show:<id>`: one debt's details (the reveal button of discreet reminders)."""
    turn = await context.turn(update)
    match = keyboards.DEBT_SHOW.match(update.callback_query.data or "")  # type: ignore[union-attr]
    assert match is not None
    line = await show_debts.debt_for_chat(
        context.deps, chat_id=turn.chat_id, debt_id=int(match["debt_id"])
    )
    if line is None:  # not this chat's, paid and gone, or the chat was forgotten
        await answer_button(update, render.Reply(render.stale_button(turn.t)), edit=False)
        return
    await answer_button(update, render.single_debt(turn.t, line))


async def calendar_pressed(update: Update, context: BotContext) -> None:
    """`debt:ics:<id>`: the debt's upcoming deadlines as an .ics file, or why there is none."""
    turn = await context.turn(update)
    match = keyboards.DEBT_CALENDAR.match(update.callback_query.data or "")  # type: ignore[union-attr]
    assert match is not None
    found = await show_debts.debt_for_calendar(
        context.deps, chat_id=turn.chat_id, debt_id=int(match["debt_id"])
    )
    if isinstance(found, show_debts.CalendarRefusal):
        await answer_button(update, render.Reply(render.no_calendar(turn.t, found)), edit=False)
        return
    with contextlib.suppress(BadRequest):
        await update.callback_query.answer()  # type: ignore[union-attr]
    content = calendar_file.calendar_file(turn.t, found, now=context.deps.clock())
    await context.bot.send_document(
        chat_id=turn.chat_id,
        document=InputFile(content, filename=calendar_file.filename(found)),
        caption=render.calendar_caption(turn.t, found),
        parse_mode=ParseMode.HTML,
    )


def register(application: Application) -> None:  # type: ignore[type-arg]
    application.add_handler(CommandHandler("debts", debts_command, filters=PRIVATE_MESSAGE))
    application.add_handler(CallbackQueryHandler(page_pressed, pattern=keyboards.DEBTS_PAGE))
    application.add_handler(CallbackQueryHandler(debt_pressed, pattern=keyboards.DEBT_SHOW))
    application.add_handler(
        CallbackQueryHandler(calendar_pressed, pattern=keyboards.DEBT_CALENDAR)
    )
