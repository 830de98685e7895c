"""Staff commands: notices to one person, broadcasts, approvals, live progress.

Only active staff of the right role get an answer. For anyone else these handlers do nothing
and the update goes on to the citizen handlers, where it is an unknown command like any
other: nobody learns that staff commands exist. (They run in handler group -1 and stop the
update only when they answered a member of staff.)

    /staff                                   the staff commands (any role)
    /notice TEMPLATE RECIPIENT [k=v …]       operator+: send a notice now
    /notice_preview TEMPLATE RECIPIENT [k=v …]   operator+: the same, nothing sent
        RECIPIENT: id:TYPE:NUMBER (id_card, arc, passport, company_reg), ref:REFERENCE
        (add source=REGISTRY if two registries share it) or chat:CHAT_ID;
        k=v: placeholder values (amount=150 deadline=2026-12-01 name="…")
    /broadcast TEMPLATE SEGMENT [k=v …] [at=YYYY-MM-DDTHH:MM] [test]   supervisor+
        SEGMENT: all, kind:DEBT_KIND, overdue, past:MILESTONE; `at` is Nicosia time;
        `test` sends only to staff on the test list. Shows the three language versions and
        the dry-run count; it then waits for a second supervisor.
    /approve ID                              supervisor+ (not the author): it goes out; the
                                             answer is a progress message that updates itself
    /progress ID                             supervisor+: a new live progress message
    /cancel_broadcast ID                     supervisor+: stop it part-way (also a button)
    /broadcasts                              supervisor+: those waiting, approved or sending

Citizens in discreet mode get a notice or broadcast as a teaser with a "Read it" button
(`nshow:…`); `reveal_notice` shows the text in place (handler group 0, a citizen feature).

The progress messages are edited by `update_progress_messages(application)`, which `register`
schedules every PROGRESS_SECONDS on the application's JobQueue. Queuing a broadcast's
batches is services.broadcasts.run_broadcasts (the scheduler's job; /approve also starts it
at once).
"""

from __future__ import annotations

import contextlib
import html
import logging
import shlex
from datetime import datetime
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
)

from debtbot.i18n import LANGUAGE_NAMES, LANGUAGES, Translator, translator
from debtbot.services import broadcasts, console_auth, notices, staff
from debtbot.services.broadcasts import BroadcastProgress, Segment, SegmentKind
from debtbot.services.notices import NoticePreview, RecipientQuery
from debtbot.services.staff import Actor, Role, StaffError, StaffView
from debtbot.telegram.context import PRIVATE_MESSAGE, BotContext

log = logging.getLogger(__name__)

GROUP = -1
PROGRESS_SECONDS = 3.0
MAX_MESSAGE = 4096


# --- texts -----------------------------------------------------------------------------------


def help_text(t: Translator, role: Role) -> str:
    lines = [
        t.gettext(
            "Staff commands:\n"
            "/notice TEMPLATE RECIPIENT [name=value …]: send a notice to one person\n"
            "/notice_preview TEMPLATE RECIPIENT [name=value …]: see it first, nothing is sent\n"
            "RECIPIENT: id:id_card:NUMBER, ref:REFERENCE (add source=REGISTRY if needed) or "
            "chat:CHAT_ID"
        )
    ]
    if role.includes(Role.SUPERVISOR):
        lines.append(
            t.gettext(
                "/broadcast TEMPLATE SEGMENT [name=value …] [at=YYYY-MM-DDTHH:MM] [test]: "
                "prepare a broadcast\n"
                "SEGMENT: all, kind:DEBT_KIND, overdue or past:MILESTONE\n"
                "/approve ID: approve another supervisor's broadcast\n"
                "/progress ID: live progress\n"
                "/cancel_broadcast ID: stop a broadcast\n"
                "/broadcasts: broadcasts waiting or sending"
            )
        )
    return "\n\n".join(lines)


def error_text(t: Translator, error: StaffError) -> str:
    texts = {
        "no_recipient": t.gettext("Nobody found for that recipient."),
        "bad_identifier": t.gettext("That is not a valid identifier of that type."),
        "bad_recipient": t.gettext(
            "Give the recipient as id:TYPE:NUMBER, ref:REFERENCE or chat:CHAT_ID."
        ),
        "ambiguous_reference": t.gettext(
            "Several registries use that reference: add source=REGISTRY."
        ),
        "no_template": t.gettext("There is no template with that name."),
        "bad_amount": t.gettext("The amount is not a valid amount of euro."),
        "bad_deadline": t.gettext("The deadline is not a date (YYYY-MM-DD)."),
        "bad_values": t.gettext("A value is not valid."),
        "bad_segment": t.gettext("Give the segment as all, kind:DEBT_KIND, overdue or past:MILESTONE."),
        "same_supervisor": t.gettext("A second supervisor must approve this broadcast."),
        "bad_state": t.gettext("The broadcast cannot do that in its current state."),
        "no_broadcast": t.gettext("There is no broadcast with that number."),
        "bad_send_at": t.gettext("The time is not valid (YYYY-MM-DDTHH:MM)."),
        "past_send_at": t.gettext("That time is in the past: give a time to come."),
        "placeholders_differ": t.gettext(
            "Every language of a template needs the same placeholders."
        ),
    }
    if error.code == "no_chat":
        if "inactive" in error.detail:
            return t.gettext(
                "Nothing was sent: every chat linked to this person is inactive (they blocked "
                "the bot or deleted the chat)."
            )
        return t.gettext(
            "Nothing was sent: this person has never verified themselves in the bot, so no "
            "chat is linked to them."
        )
    if error.code == "missing_values":
        names = error.detail.split(":", 1)[-1].strip()
        return t.gettext("Values are missing for: %(names)s") % {"names": names}
    return texts.get(error.code, t.gettext("That did not work: check the command and try again."))


def status_label(t: Translator, status: str) -> str:
    labels = {
        "draft": t.pgettext("broadcast status", "draft"),
        "awaiting_approval": t.pgettext("broadcast status", "waiting for approval"),
        "approved": t.pgettext("broadcast status", "approved"),
        "sending": t.pgettext("broadcast status", "sending"),
        "done": t.pgettext("broadcast status", "done"),
        "cancelled": t.pgettext("broadcast status", "cancelled"),
    }
    return labels.get(status, status)


def previews_text(t: Translator, previews: list[NoticePreview]) -> str:
    blocks = []
    for preview in previews:
        heading = f"<b>{LANGUAGE_NAMES[preview.language]}</b>"
        if preview.fallback:
            heading += " " + t.gettext("(no translation: the Greek text is used)")
        blocks.append(f"{heading}\n{html.escape(preview.text, quote=False)}")
    return "\n\n".join(blocks)


def progress_text(t: Translator, progress: BroadcastProgress) -> str:
    return t.gettext(
        "Broadcast #%(id)d: %(status)s\n"
        "Sent: %(sent)d\nFailed: %(failed)d\nBlocked: %(blocked)d\n"
        "Cancelled: %(cancelled)d\nRemaining: %(remaining)d of %(total)d"
    ) % {
        "id": progress.broadcast_id,
        "status": status_label(t, progress.status),
        "sent": progress.sent,
        "failed": progress.failed,
        "blocked": progress.blocked,
        "cancelled": progress.cancelled,
        "remaining": progress.remaining,
        "total": progress.total,
    }


def progress_markup(t: Translator, progress: BroadcastProgress) -> InlineKeyboardMarkup | None:
    if progress.status in ("done", "cancelled"):
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(
            t.pgettext("button", "Cancel the broadcast"),
            callback_data=f"staff:cancel:{progress.broadcast_id}",
        )]]
    )


def _clip(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


# --- parsing ---------------------------------------------------------------------------------


class Usage(ValueError):
    pass


def split_args(text: str) -> tuple[list[str], dict[str, str], set[str]]:
    """Words after the command: positional words, name=value options, and bare flags."""
    try:
        words = shlex.split(text)[1:]
    except ValueError as exc:
        raise Usage(str(exc)) from exc
    positional: list[str] = []
    options: dict[str, str] = {}
    flags: set[str] = set()
    for word in words:
        if "=" in word:
            key, _, value = word.partition("=")
            options[key.strip().lower()] = value
        elif word.lower() in ("test",) and len(positional) >= 2:
            flags.add(word.lower())
        else:
            positional.append(word)
    return positional, options, flags


def parse_recipient(word: str, options: dict[str, str]) -> RecipientQuery:
    kind, _, rest = word.partition(":")
    kind = kind.lower()
    if kind == "id":
        id_type, _, number = rest.partition(":")
        return RecipientQuery(id_type=id_type.lower(), id_number=number)
    if kind == "ref" and rest:
        return RecipientQuery(reference=rest, source=options.pop("source", None))
    if kind == "chat":
        try:
            return RecipientQuery(chat_id=int(rest))
        except ValueError as exc:
            raise staff.Invalid("bad chat id", code="bad_recipient") from exc
    raise staff.Invalid("bad recipient", code="bad_recipient")


def parse_segment(word: str) -> Segment:
    kind, _, rest = word.partition(":")
    kind = kind.lower()
    if kind == "all":
        return Segment(SegmentKind.ALL)
    if kind == "kind":
        return Segment(SegmentKind.DEBT_KIND, debt_kind=rest)
    if kind == "overdue":
        return Segment(SegmentKind.OVERDUE, debt_kind=rest or None)
    if kind == "past":
        return Segment(SegmentKind.PAST_THRESHOLD, milestone=rest)
    raise staff.Invalid("bad segment", code="bad_segment")


def parse_when(value: str, tz: Any) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise staff.Invalid("bad time", code="bad_send_at") from exc
    return moment.replace(tzinfo=tz) if moment.tzinfo is None else moment


def _number(words: list[str]) -> int:
    if len(words) != 1 or not words[0].lstrip("#").isdigit():
        raise Usage("a number")
    return int(words[0].lstrip("#"))


# --- the gate --------------------------------------------------------------------------------


async def _member(update: Update, context: BotContext, role: Role) -> StaffView | None:
    user = update.effective_user
    if user is None:
        return None
    member = await staff.staff_member(context.deps, telegram_user_id=user.id)
    if member is None or not member.role.includes(role):
        return None
    return member


async def _reply(update: Update, text: str, markup: InlineKeyboardMarkup | None = None) -> Any:
    chat = update.effective_chat
    assert chat is not None
    return await chat.send_message(_clip(text), parse_mode=ParseMode.HTML, reply_markup=markup)


def staff_command(role: Role, usage: str):  # type: ignore[no-untyped-def]
    """Run the handler only for active staff with `role`; everyone else falls through."""

    def wrap(handler):  # type: ignore[no-untyped-def]
        async def gate(update: Update, context: BotContext) -> None:
            member = await _member(update, context, role)
            if member is None:
                return  # on to the citizen handlers: an unknown command like any other
            turn = await context.turn(update)
            t = turn.t
            try:
                await handler(update, context, member, t)
            except Usage:
                await _reply(update, t.gettext("Usage: %(usage)s") % {"usage": usage})
            except StaffError as error:
                await _reply(update, error_text(t, error))
            raise ApplicationHandlerStop

        gate.__doc__ = handler.__doc__
        return gate

    return wrap


# --- handlers --------------------------------------------------------------------------------


@staff_command(Role.OPERATOR, "/console")
async def console_link(
    update: Update, context: BotContext, member: StaffView, t: Translator
) -> None:
    """A sign-in link to the staff console: valid 10 minutes, usable once."""
    link = await console_auth.login_link(
        context.deps, telegram_user_id=member.telegram_user_id,
        actor=f"staff:{member.telegram_user_id}",
    )
    await _reply(update, t.gettext(
        "Your sign-in link to the staff console. It works once, for 10 minutes; "
        "do not share it.\n%(link)s"
    ) % {"link": html.escape(link)})


@staff_command(Role.OPERATOR, "/staff")
async def staff_help(update: Update, context: BotContext, member: StaffView, t: Translator) -> None:
    """The staff commands this member may use."""
    await _reply(update, help_text(t, member.role))


async def _notice(
    update: Update, context: BotContext, member: StaffView, t: Translator, *, send: bool
) -> None:
    assert update.effective_message is not None
    positional, options, _flags = split_args(update.effective_message.text or "")
    if len(positional) != 2:
        raise Usage("")
    template, recipient_word = positional
    recipient = parse_recipient(recipient_word, options)
    actor = Actor.for_staff(member)
    deps = context.deps
    if send:
        result = await notices.send_notice(
            deps, actor=actor, recipient=recipient, template=template, values=options
        )
        head = t.ngettext(
            "Notice queued for %(n)d chat.", "Notice queued for %(n)d chats.", result.queued
        ) % {"n": result.queued}
    else:
        result = await notices.preview_notice(
            deps, actor=actor, recipient=recipient, template=template, values=options
        )
        head = t.ngettext(
            "Preview, nothing sent: it would reach %(n)d chat.",
            "Preview, nothing sent: it would reach %(n)d chats.",
            result.chats,
        ) % {"n": result.chats}
        if result.missing_values:
            head += "\n" + t.gettext("Values are missing for: %(names)s") % {
                "names": ", ".join(result.missing_values)
            }
        if result.no_chat_reason is not None:
            head += "\n" + error_text(t, staff.Invalid(
                notices.NO_CHAT_REASONS[result.no_chat_reason], code="no_chat"))
    await _reply(update, f"{head}\n\n{previews_text(t, result.previews)}")


@staff_command(Role.OPERATOR, "/notice TEMPLATE RECIPIENT [name=value …]")
async def notice(update: Update, context: BotContext, member: StaffView, t: Translator) -> None:
    """Send a notice to one person, in each of their chats' languages."""
    await _notice(update, context, member, t, send=True)


@staff_command(Role.OPERATOR, "/notice_preview TEMPLATE RECIPIENT [name=value …]")
async def notice_preview(
    update: Update, context: BotContext, member: StaffView, t: Translator
) -> None:
    """What a notice would say, per language; nothing is sent."""
    await _notice(update, context, member, t, send=False)


@staff_command(
    Role.SUPERVISOR, "/broadcast TEMPLATE SEGMENT [name=value …] [at=YYYY-MM-DDTHH:MM] [test]"
)
async def broadcast(update: Update, context: BotContext, member: StaffView, t: Translator) -> None:
    """Prepare a broadcast: preview in three languages, dry-run count, then approval."""
    assert update.effective_message is not None
    positional, options, flags = split_args(update.effective_message.text or "")
    if len(positional) != 2:
        raise Usage("")
    template, segment_word = positional
    segment = parse_segment(segment_word)
    deps = context.deps
    send_at = parse_when(options.pop("at"), deps.settings.tz) if "at" in options else None
    created = await broadcasts.create_broadcast(
        deps,
        actor=Actor.for_staff(member),
        segment=segment,
        template=template,
        values=options,
        send_at=send_at,
        test_mode="test" in flags,
    )
    preview = await broadcasts.preview_broadcast(deps, broadcast_id=created.id)
    if created.test_mode:
        head = t.gettext(
            "Test broadcast #%(id)d goes only to the staff on the test list. "
            "Send it with /approve %(id)d"
        ) % {"id": created.id}
    else:
        head = t.ngettext(
            "Broadcast #%(id)d would reach %(n)d chat now. "
            "A second supervisor approves it with /approve %(id)d",
            "Broadcast #%(id)d would reach %(n)d chats now. "
            "A second supervisor approves it with /approve %(id)d",
            preview.count,
        ) % {"id": created.id, "n": preview.count}
    if send_at is not None:
        head += "\n" + t.gettext("It goes out on %(when)s.") % {"when": t.datetime(send_at)}
    await _reply(update, f"{head}\n\n{previews_text(t, preview.previews)}")


async def _send_progress(
    update: Update, context: BotContext, t: Translator, broadcast_id: int
) -> None:
    progress = await broadcasts.broadcast_progress(context.deps, broadcast_id=broadcast_id)
    message = await _reply(update, progress_text(t, progress), progress_markup(t, progress))
    await broadcasts.set_progress_message(
        context.deps,
        broadcast_id=broadcast_id,
        chat_id=message.chat_id,
        message_id=message.message_id,
        language=t.language,
    )
    await broadcasts.mark_progress_shown(context.deps, broadcast_id=broadcast_id, progress=progress)


@staff_command(Role.SUPERVISOR, "/approve ID")
async def approve(update: Update, context: BotContext, member: StaffView, t: Translator) -> None:
    """Approve another supervisor's broadcast; the answer is its live progress."""
    assert update.effective_message is not None
    positional, _options, _flags = split_args(update.effective_message.text or "")
    broadcast_id = _number(positional)
    deps = context.deps
    approved = await broadcasts.approve_broadcast(
        deps, actor=Actor.for_staff(member), broadcast_id=broadcast_id
    )
    if approved.status == "approved" and approved.send_at is not None:
        await _reply(
            update,
            t.gettext("Broadcast #%(id)d is approved and goes out on %(when)s.")
            % {"id": approved.id, "when": t.datetime(approved.send_at)},
        )
    await _send_progress(update, context, t, broadcast_id)
    # The first batch is queued; the rest now rather than at the scheduler's next tick.
    context.application.create_task(broadcasts.run_broadcasts(deps), update=update)


@staff_command(Role.SUPERVISOR, "/progress ID")
async def progress(update: Update, context: BotContext, member: StaffView, t: Translator) -> None:
    """A new progress message for a broadcast, which then updates itself."""
    assert update.effective_message is not None
    positional, _options, _flags = split_args(update.effective_message.text or "")
    await _send_progress(update, context, t, _number(positional))


@staff_command(Role.SUPERVISOR, "/cancel_broadcast ID")
async def cancel(update: Update, context: BotContext, member: StaffView, t: Translator) -> None:
    """Stop a broadcast part-way."""
    assert update.effective_message is not None
    positional, _options, _flags = split_args(update.effective_message.text or "")
    result = await broadcasts.cancel_broadcast(
        context.deps, actor=Actor.for_staff(member), broadcast_id=_number(positional)
    )
    await _reply(update, progress_text(t, result))


@staff_command(Role.SUPERVISOR, "/broadcasts")
async def list_open(update: Update, context: BotContext, member: StaffView, t: Translator) -> None:
    """Broadcasts waiting for approval, approved or sending."""
    found = [
        view
        for view in await broadcasts.list_broadcasts(context.deps, limit=50)
        if view.status in ("draft", "awaiting_approval", "approved", "sending")
    ]
    if not found:
        await _reply(update, t.gettext("No broadcasts are waiting or sending."))
        return
    lines = [
        t.gettext("#%(id)d %(status)s: %(template)s, by %(author)s") % {
            "id": view.id,
            "status": status_label(t, view.status),
            "template": view.template,
            "author": view.created_by,
        }
        for view in found
    ]
    await _reply(update, "\n".join(lines))


async def cancel_button(update: Update, context: BotContext) -> None:
    """The progress message's Cancel button."""
    query = update.callback_query
    assert query is not None
    member = await _member(update, context, Role.SUPERVISOR)
    if member is None:
        return  # on to the citizen handlers: a stale button like any other
    turn = await context.turn(update)
    t = turn.t
    with contextlib.suppress(BadRequest):
        await query.answer()
    try:
        broadcast_id = int((query.data or "").rsplit(":", 1)[-1])
        result = await broadcasts.cancel_broadcast(
            context.deps, actor=Actor.for_staff(member), broadcast_id=broadcast_id
        )
    except (ValueError, StaffError) as error:
        text = error_text(t, error) if isinstance(error, StaffError) else t.gettext(
            "That did not work: check the command and try again."
        )
        await _reply(update, text)
        raise ApplicationHandlerStop from None
    with contextlib.suppress(BadRequest):
        await query.edit_message_text(progress_text(t, result), parse_mode=ParseMode.HTML)
    await broadcasts.mark_progress_shown(context.deps, broadcast_id=broadcast_id, progress=result)
    raise ApplicationHandlerStop


# --- citizens: the text behind a discreet notice's button -----------------------------------


async def reveal_notice(update: Update, context: BotContext) -> None:
    """A citizen in discreet mode presses "Read it": the notice replaces its teaser."""
    query = update.callback_query
    assert query is not None
    turn = await context.turn(update)
    text = await notices.reveal(context.deps, chat_id=turn.chat_id, data=query.data or "")
    with contextlib.suppress(BadRequest):
        await query.answer()
    if text is None:
        await _reply(update, turn.t.gettext("This message is no longer available."))
        return
    try:
        await query.edit_message_text(_clip(text), parse_mode=ParseMode.HTML)
    except BadRequest as error:
        if "not modified" not in str(error).lower():
            await _reply(update, text)


# --- the self-updating progress message ------------------------------------------------------


async def update_progress_messages(application: Application) -> int:  # type: ignore[type-arg]
    """Edit every progress message whose counts changed; returns how many were edited."""
    deps = application.bot_data["deps"]
    edited = 0
    for due in await broadcasts.progress_updates_due(deps):
        t = translator(due.language if due.language in LANGUAGES else "en")
        try:
            await application.bot.edit_message_text(
                progress_text(t, due.progress),
                chat_id=due.chat_id,
                message_id=due.message_id,
                parse_mode=ParseMode.HTML,
                reply_markup=progress_markup(t, due.progress),
            )
            edited += 1
        except BadRequest as error:
            if "not modified" not in str(error).lower():
                log.warning("progress message of broadcast %s: %s", due.broadcast_id, type(error).__name__)
        except (Forbidden, TelegramError) as error:
            log.warning("progress message of broadcast %s: %s", due.broadcast_id, type(error).__name__)
            continue
        await broadcasts.mark_progress_shown(deps, broadcast_id=due.broadcast_id, progress=due.progress)
    return edited


async def _progress_job(context: BotContext) -> None:
    await update_progress_messages(context.application)


def register(application: Application) -> None:  # type: ignore[type-arg]
    commands = {
        "staff": staff_help,
        "console": console_link,
        "notice": notice,
        "notice_preview": notice_preview,
        "broadcast": broadcast,
        "approve": approve,
        "progress": progress,
        "cancel_broadcast": cancel,
        "broadcasts": list_open,
    }
    for name, callback in commands.items():
        application.add_handler(
            CommandHandler(name, callback, filters=PRIVATE_MESSAGE), group=GROUP
        )
    application.add_handler(
        CallbackQueryHandler(cancel_button, pattern=r"^staff:cancel:\d+$"), group=GROUP
    )
    application.add_handler(CallbackQueryHandler(reveal_notice, pattern=r"^nshow:"))
    if application.job_queue is not None:
        application.job_queue.run_repeating(
            _progress_job, interval=PROGRESS_SECONDS, first=PROGRESS_SECONDS, name="staff-progress"
        )
