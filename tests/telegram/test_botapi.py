"""The local Bot API server, driven through the real python-telegram-bot client."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp
import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, LoginUrl, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from debtbot.devtools.botapi import login_data_hash
from debtbot.devtools.echo import build_echo_application
from debtbot.devtools.load import run_load

CHAT = 4242


def add_echo(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """A tiny real bot: echoes text, offers a menu whose buttons edit the message."""

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.message.reply_text(f"echo: {update.message.text}")

    async def menu(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        keyboard = InlineKeyboardMarkup(
            [
                [InlineKeyboardButton("Yes", callback_data="menu:yes")],
                [InlineKeyboardButton("Site", url="https://example.org/pay")],
            ]
        )
        await update.message.reply_text(
            "<b>Pay</b> now?", parse_mode=ParseMode.HTML, reply_markup=keyboard
        )

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        await query.answer("Noted")
        await query.edit_message_text(f"You chose {query.data.split(':')[1]}")

    application.add_handler(CommandHandler("menu", menu))
    application.add_handler(CallbackQueryHandler(pressed, pattern="^menu:"))
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))


async def test_echo_bot_answers_through_the_fake_in_polling_mode(botapi, app_builder, polling):
    application = app_builder().build()
    add_echo(application)
    async with polling(application):
        await botapi.user_sends(CHAT, "hello", language_code="el", first_name="Μαρία")
        [reply] = await botapi.wait_for_messages(CHAT)
        await botapi.user_sends(CHAT, "again")
        [second] = await botapi.wait_for_messages(CHAT)

    assert reply.text == "echo: hello"
    assert second.text == "echo: again"
    assert [m.text for m in botapi.screen(CHAT)] == ["echo: hello", "echo: again"]
    [call, _] = botapi.calls_to("sendMessage")
    assert call.params["chat_id"] == CHAT
    assert call.params["text"] == "echo: hello"
    assert botapi.counters["calls:getMe"] >= 1
    assert botapi.pending_updates == 0  # every update was confirmed by the next offset
    assert botapi.counters["errors"] == 0  # the long poll cut short on stop is not an error


async def test_echo_bot_answers_in_webhook_mode_and_the_secret_is_checked(
    botapi, app_builder, webhook
):
    application = app_builder().updater(None).build()
    add_echo(application)
    async with webhook(application) as url:
        await botapi.user_sends(CHAT, "via webhook")
        [reply] = await botapi.wait_for_messages(CHAT)
        update = json.dumps({"update_id": 999, "message": {}})
        async with aiohttp.ClientSession() as http:
            async with http.post(url, data=update) as missing:
                assert missing.status == 403
            wrong = {"X-Telegram-Bot-Api-Secret-Token": "not-the-secret"}
            async with http.post(url, data=update, headers=wrong) as refused:
                assert refused.status == 403
            right = {"X-Telegram-Bot-Api-Secret-Token": "test-webhook-secret"}
            async with http.post(url, data=b"{not json", headers=right) as bad:
                assert bad.status == 400
            async with http.post(url, data=update, headers=right) as not_an_update:
                assert not_an_update.status == 400
            async with http.post(url, data=b"[1, 2]", headers=right) as a_list:
                assert a_list.status == 400
            async with http.post(f"{botapi.base_url}{botapi.token}/getUpdates") as polled:
                assert polled.status == 409  # Telegram refuses polling while a webhook is set
        info = await application.bot.get_webhook_info()

    assert reply.text == "echo: via webhook"
    assert info.url == url
    assert botapi.counters["webhook_deliveries"] == 1
    assert botapi.webhook_url is None  # deleted on the way out


async def test_failed_webhook_deliveries_are_retried_then_reported(botapi, app_builder, webhook):
    application = app_builder().updater(None).build()
    add_echo(application)
    async with webhook(application) as url:
        await application.bot.set_webhook(url, secret_token="stale-secret")
        await botapi.user_sends(CHAT, "lost")
        await botapi.wait_for(lambda: botapi.counters["webhook_dropped"] == 1)
        info = await application.bot.get_webhook_info()

    assert botapi.counters["webhook_failures"] == botapi.webhook_retries + 1
    assert "403" in info.last_error_message
    assert botapi.screen(CHAT) == []


async def test_inline_keyboard_round_trip(botapi, app_builder, polling):
    application = app_builder().build()
    add_echo(application)
    async with polling(application):
        await botapi.user_sends(CHAT, "/menu")
        [menu] = await botapi.wait_for_messages(CHAT)
        with pytest.raises(ValueError, match="not a callback button"):
            await botapi.user_presses_button(CHAT, "Site")  # a URL button opens a page
        query_id = await botapi.user_presses_button(CHAT, "Yes")
        [edited] = await botapi.wait_for_messages(CHAT)
        await botapi.wait_for_calls("answerCallbackQuery")

    assert menu.text == "Pay now?"  # as the user reads it: the HTML tags are formatting
    assert menu.raw_text == "<b>Pay</b> now?"
    assert menu.button_texts == ["Yes", "Site"]
    assert edited.message_id == menu.message_id
    assert edited.text == "You chose yes" and edited.edited
    assert edited.buttons == []  # editMessageText without reply_markup drops the keyboard
    assert botapi.callback_answer(query_id)["text"] == "Noted"
    assert [m.text for m in botapi.screen(CHAT)] == ["You chose yes"]
    with pytest.raises(LookupError, match="shows no button 'Yes'"):
        await botapi.user_presses_button(CHAT, "Yes")  # the keyboard is gone


async def test_every_kind_of_user_update_parses_in_ptb(botapi, app_builder, polling):
    application = app_builder().build()
    seen: list[Update] = []

    async def record(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        seen.append(update)

    application.add_handler(TypeHandler(Update, record))
    async with polling(application):
        await botapi.user_sends(CHAT, "/start abc", language_code="tr")
        await botapi.user_shares_contact(CHAT, "+35799123456")
        await botapi.user_shares_contact(CHAT, "+35799000000", own=False)
        for kind in ("sticker", "photo", "voice", "location", "document"):
            await botapi.user_sends_update(CHAT, kind)
        first = (await botapi.user_sends(CHAT, "typo"))["message"]["message_id"]
        await botapi.user_edits(CHAT, first, "fixed")
        await botapi.user_blocks_bot(CHAT)
        await botapi.wait_for(lambda: len(seen) == 11)

    start, own, other, sticker, photo, voice, location, document, _, edit, blocked = seen
    assert start.message.text == "/start abc" and start.message.from_user.language_code == "tr"
    assert start.message.entities[0].type == "bot_command"
    assert own.message.contact.user_id == CHAT
    assert other.message.contact.user_id != CHAT
    assert sticker.message.sticker and photo.message.photo and voice.message.voice
    assert location.message.location.latitude == pytest.approx(35.1856)
    assert document.message.document.file_name == "scan.pdf"
    assert edit.edited_message.text == "fixed"
    assert blocked.my_chat_member.new_chat_member.status == "kicked"
    assert len({u.update_id for u in seen}) == len(seen)


async def test_blocked_user_gets_403_and_unblocking_restores_delivery(botapi, app_builder, polling):
    application = app_builder().build()
    statuses: list[str] = []

    async def member(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        statuses.append(update.my_chat_member.new_chat_member.status)

    application.add_handler(ChatMemberHandler(member, ChatMemberHandler.MY_CHAT_MEMBER))
    async with polling(application):
        await botapi.user_blocks_bot(CHAT)
        await botapi.wait_for(lambda: statuses == ["kicked"])
        with pytest.raises(Forbidden, match="bot was blocked by the user"):
            await application.bot.send_message(CHAT, "reminder")
        await botapi.user_unblocks_bot(CHAT)
        await botapi.wait_for(lambda: statuses == ["kicked", "member"])
        await application.bot.send_message(CHAT, "welcome back")

    assert botapi.counters["403"] == 1
    assert botapi.chat_counters(CHAT)["403"] == 1
    assert [m.text for m in botapi.screen(CHAT)] == ["welcome back"]


async def test_rate_limits_answer_429_with_retry_after_and_are_counted(botapi, app_builder):
    botapi.enforce_limits(per_second=3, per_chat_per_second=20)
    application = app_builder().build()
    async with application:
        await application.bot.send_message(1, "one")
        with pytest.raises(RetryAfter, match="Retry in 1 seconds"):
            await application.bot.send_message(1, "same chat, at once")
        for chat_id in (2, 3):
            await application.bot.send_message(chat_id, "fine")
        with pytest.raises(RetryAfter):
            await application.bot.send_message(4, "fourth in one second")
        await asyncio.sleep(0.06)
        assert botapi.counters["429"] == 2

    assert [c.status for c in botapi.calls_to("sendMessage")] == [200, 429, 200, 200, 429]
    assert botapi.chat_counters(1)["429"] == 1


async def test_injected_5xx_then_recovery_and_stalls(botapi, app_builder):
    application = app_builder().build()
    async with application:
        botapi.inject_server_error(count=2, status=502)
        for _ in range(2):
            with pytest.raises(NetworkError):
                await application.bot.send_message(CHAT, "during the outage")
        await application.bot.send_message(CHAT, "after")
        botapi.inject_stall(count=1, seconds=0.5)
        with pytest.raises(TimedOut):
            await application.bot.send_message(CHAT, "slow", read_timeout=0.1)
        botapi.inject_chat_not_found(chat_id=CHAT, count=1)
        with pytest.raises(BadRequest, match="(?i)chat not found"):
            await application.bot.send_message(CHAT, "gone")

    assert botapi.counters["5xx"] == 2
    assert botapi.counters["stalls"] == 1
    assert botapi.counters["400"] == 1
    assert botapi.screen(CHAT)[0].text == "after"


async def test_the_fake_refuses_what_telegram_refuses(botapi, app_builder):
    application = app_builder().build()
    async with application:
        with pytest.raises(BadRequest, match="(?i)can't parse entities"):
            await application.bot.send_message(CHAT, "<b>unclosed", parse_mode=ParseMode.HTML)
        with pytest.raises(BadRequest, match="(?i)unsupported start tag"):
            await application.bot.send_message(CHAT, "a<br>b", parse_mode=ParseMode.HTML)
        with pytest.raises(BadRequest, match="(?i)button_data_invalid"):
            markup = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="x" * 65)]])
            await application.bot.send_message(CHAT, "long data", reply_markup=markup)
        sent = await application.bot.send_message(CHAT, "same")
        with pytest.raises(BadRequest, match="(?i)message is not modified"):
            await sent.edit_text("same")
        with pytest.raises(BadRequest, match="(?i)message to edit not found"):
            await application.bot.edit_message_text("x", chat_id=CHAT, message_id=999)
        await sent.delete()
        commands = [("debts", "Your debts"), ("language", "Change the language")]
        await application.bot.set_my_commands(commands, language_code="en")
        assert [c.command for c in await application.bot.get_my_commands(language_code="en")] == [
            "debts",
            "language",
        ]
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{botapi.base_url}{botapi.token}/sendSomethingNew") as unknown:
                assert unknown.status == 404
            async with http.post(f"{botapi.base_url}wrong:token/getMe") as other_token:
                assert other_token.status == 401

    assert botapi.screen(CHAT) == []
    assert botapi.messages(CHAT)[0].deleted


async def test_a_login_url_button_opens_its_url_signed_for_whoever_presses_it(
    botapi, app_builder
):
    application = app_builder().build()
    await botapi.user_sends(CHAT, "hi", username="ann")
    async with application:
        login = LoginUrl("https://bot.example.cy/signin?h=abc", request_write_access=False)
        markup = InlineKeyboardMarkup([
            [InlineKeyboardButton("Sign in", login_url=login)],
            [InlineKeyboardButton("Site", url="https://example.org/")],
        ])
        sent = await application.bot.send_message(CHAT, "Sign in?", reply_markup=markup)
        with pytest.raises(BadRequest, match="(?i)login url"):
            bad = InlineKeyboardMarkup([[InlineKeyboardButton("x", login_url=LoginUrl("nope"))]])
            await application.bot.send_message(CHAT, "bad", reply_markup=bad)

    opened = await botapi.user_opens_login_url(CHAT, sent.message_id, "Sign in")
    forwarded = await botapi.user_opens_login_url(CHAT, sent.message_id, "Sign in", as_user=77)

    [button] = botapi.screen(CHAT)[-1].buttons[0]
    assert button["login_url"] == {"url": login.url, "request_write_access": False}
    base, _, appended = opened.partition("&")
    assert base == login.url  # the button's own query kept, Telegram's data after it
    fields = dict(part.split("=", 1) for part in appended.split("&"))
    assert (fields["id"], fields["first_name"], fields["username"]) == (str(CHAT), "Test", "ann")
    assert abs(int(fields["auth_date"]) - time.time()) < 5
    assert fields.pop("hash") == login_data_hash(fields, botapi.token)
    assert "&id=77&" in forwarded
    with pytest.raises(ValueError, match="not a login_url button"):
        await botapi.user_opens_login_url(CHAT, sent.message_id, "Site")
    # A press of a login_url button opens a page; nothing reaches the bot.
    assert not any("callback_query" in update for update in botapi.queued_updates)
    assert len(botapi.queued_updates) == 1  # only the "hi"


async def test_wait_for_messages_names_what_came_when_too_little_did(botapi):
    await botapi.user_sends(CHAT, "anyone there?")
    with pytest.raises(TimeoutError, match="got 0"):
        await botapi.wait_for_messages(CHAT, timeout=0.05)


async def test_a_blocked_user_who_writes_again_unblocks_the_bot_first(botapi):
    await botapi.user_blocks_bot(CHAT)
    await botapi.user_sends(CHAT, "/start")

    assert not botapi.is_blocked(CHAT)
    kinds = [next(k for k in u if k != "update_id") for u in botapi.queued_updates]
    assert kinds == ["my_chat_member", "my_chat_member", "message"]


async def test_run_load_measures_an_echo_bot(botapi, polling):
    application = build_echo_application(botapi.url, botapi.token)
    async with polling(application):
        result = await run_load(botapi, range(1, 11), "/debts", n_updates=20, concurrency=5)

    assert result.answered == 20 and result.timeouts == 0
    assert 0 < result.p50_ms <= result.p99_ms
    assert result.updates_per_second > 0
    assert len(botapi.calls_to("sendMessage")) == 20
