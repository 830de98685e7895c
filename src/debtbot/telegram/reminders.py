"""/reminders: turn reminders off and on per kind of debt, pause them for a week, or stop
them all, so nobody has to block the bot to get peace.

And news (issue #16): the day a new debt is recorded, a debt changes or closes, or a
threshold passes, on by default.

Buttons carry what they do (`rem:kind:<kind>:on|off`, `rem:snooze`, `rem:resume`,
`rem:all:on|off`, `rem:news:on|off`); no dialogue state is needed.
"""

from __future__ import annotations

import re

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from debtbot.i18n import Translator
from debtbot.services import reminder_preferences as preferences
from debtbot.services.reminder_preferences import KINDS, ReminderPreferences
from debtbot.telegram import render
from debtbot.telegram.context import PRIVATE_MESSAGE, BotContext
from debtbot.telegram.render import Reply
from debtbot.telegram.replies import answer_button, send
from debtbot.texts import kind_label

REMINDER_BUTTON = re.compile(
    r"^rem:(?:(?P<what>kind):(?P<kind>[a-z_]{1,32}):(?P<state>on|off)|(?P<action>snooze|resume)"
    r"|all:(?P<all>on|off)|news:(?P<news>on|off))$"
)


def _leads(t: Translator, days: tuple[int, ...]) -> str:
    return ", ".join(
        t.ngettext("%(n)d day before", "%(n)d days before", n) % {"n": n} for n in days
    )


def reminders_reply(t: Translator, view: ReminderPreferences, *, quiet: tuple[str, str]) -> Reply:
    """The chat's reminder settings, with a button for each change."""
    if not view.verified:
        return Reply(t.gettext(
            "Reminders start once you have confirmed who you are. Send /start to begin."
        ))
    lines = ["<b>" + t.gettext("Reminders") + "</b>"]
    lines.append(t.gettext(
        "I remind you before each legal deadline (%(leads)s), only between %(start)s and "
        "%(end)s. Reminders are a courtesy: the official dates are the registry's."
    ) % {"leads": _leads(t, view.lead_days), "start": quiet[1], "end": quiet[0]})
    if not view.enabled:
        lines.append(t.gettext("Reminders are <b>off</b>."))
    elif view.snoozed_until is not None:
        lines.append(t.gettext("Reminders are paused until %(when)s.")
                     % {"when": t.datetime(view.snoozed_until)})
    else:
        lines.append(t.gettext("Reminders are <b>on</b>."))
    rows: list[list[InlineKeyboardButton]] = []
    if view.enabled:
        lines.append(t.gettext("Press a kind of debt to turn its reminders off or on:"))
        for kind in KINDS:
            on = view.kind_on(kind)
            label = ("✅ " if on else "🔕 ") + kind_label(t, kind)
            rows.append([InlineKeyboardButton(
                label, callback_data=f"rem:kind:{kind}:{'off' if on else 'on'}"
            )])
        if view.snoozed_until is None:
            rows.append([InlineKeyboardButton(
                t.pgettext("button", "Pause for a week"), callback_data="rem:snooze"
            )])
        else:
            rows.append([InlineKeyboardButton(
                t.pgettext("button", "Resume reminders"), callback_data="rem:resume"
            )])
        rows.append([InlineKeyboardButton(
            t.pgettext("button", "Turn all reminders off"), callback_data="rem:all:off"
        )])
    else:
        rows.append([InlineKeyboardButton(
            t.pgettext("button", "Turn reminders on"), callback_data="rem:all:on"
        )])
    lines.append(
        t.gettext(
            "News: the day a new debt is recorded in your name, a debt is corrected, "
            "cancelled, withdrawn or paid, or a deadline passes, I tell you."
        )
        + " "
        + (t.gettext("News is <b>on</b>.") if view.news else t.gettext("News is <b>off</b>."))
    )
    rows.append([InlineKeyboardButton(
        t.pgettext("button", "Turn news off") if view.news
        else t.pgettext("button", "Turn news on"),
        callback_data=f"rem:news:{'off' if view.news else 'on'}",
    )])
    return Reply("\n\n".join(lines), InlineKeyboardMarkup(rows))


def _quiet(context: BotContext) -> tuple[str, str]:
    settings = context.deps.settings
    return (settings.quiet_hours_start.strftime("%H:%M"),
            settings.quiet_hours_end.strftime("%H:%M"))


async def reminders_command(update: Update, context: BotContext) -> None:
    """Show the reminder settings with buttons to change them."""
    turn = await context.turn(update)
    view = await preferences.get_preferences(context.deps, chat_id=turn.chat_id)
    assert view is not None  # turn() created the chat
    await send(update, reminders_reply(turn.t, view, quiet=_quiet(context)))


async def reminders_pressed(update: Update, context: BotContext) -> None:
    """`rem:…`: apply the change and show the new settings in place."""
    turn = await context.turn(update)
    match = REMINDER_BUTTON.match(update.callback_query.data or "")  # type: ignore[union-attr]
    assert match is not None
    deps, chat_id = context.deps, turn.chat_id
    current = await preferences.get_preferences(deps, chat_id=chat_id)
    if current is None or not current.verified or (match["kind"] and match["kind"] not in KINDS):
        await answer_button(update, Reply(render.stale_button(turn.t)), edit=False)
        return
    if match["kind"]:
        view = await preferences.set_kind(
            deps, chat_id=chat_id, kind=match["kind"], enabled=match["state"] == "on"
        )
    elif match["news"]:
        view = await preferences.set_news(deps, chat_id=chat_id, enabled=match["news"] == "on")
    elif match["action"] == "snooze":
        view = await preferences.snooze(deps, chat_id=chat_id)
    elif match["action"] == "resume":
        view = await preferences.resume(deps, chat_id=chat_id)
    else:
        view = await preferences.set_enabled(deps, chat_id=chat_id, enabled=match["all"] == "on")
    assert view is not None
    await answer_button(update, reminders_reply(turn.t, view, quiet=_quiet(context)))


def register(application: Application) -> None:  # type: ignore[type-arg]
    application.add_handler(
        CommandHandler("reminders", reminders_command, filters=PRIVATE_MESSAGE)
    )
    application.add_handler(CallbackQueryHandler(reminders_pressed, pattern=REMINDER_BUTTON))
