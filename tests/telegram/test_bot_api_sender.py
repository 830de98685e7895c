"""BotApiSender (the outbox's port straight over HTTP) against the local Bot API server: what
Telegram answers becomes the delivery service's own errors, as with TelegramSender."""

from __future__ import annotations

import pytest

from debtbot.services.deliver_outbox import (
    ChatUnreachable,
    MessageRejected,
    OutgoingMessage,
    RetryAfter,
    TransientError,
)
from debtbot.settings import Settings
from debtbot.telegram.sender import BotApiSender


def _settings(botapi) -> Settings:  # type: ignore[no-untyped-def]
    return Settings(telegram_token=botapi.token, telegram_api_url=botapi.url)


async def test_a_message_goes_out_with_its_buttons_and_paid_flag(botapi):
    async with BotApiSender(_settings(botapi)) as send:
        message_id = await send(OutgoingMessage(
            chat_id=42, text="<b>Reminder</b> &amp; more",
            buttons=[[{"text": "Pay", "url": "https://www.jccsmart.com/x"}]],
            disable_notification=True, paid_broadcast=True,
        ))
    [shown] = botapi.messages(42)
    assert shown.message_id == message_id
    assert shown.text == "Reminder & more" and shown.button_texts == ["Pay"]
    assert shown.disable_notification and shown.params["allow_paid_broadcast"] is True


async def test_telegrams_answers_become_the_senders_errors(botapi):
    message = OutgoingMessage(chat_id=42, text="hello")
    async with BotApiSender(_settings(botapi), timeout=1.0) as send:
        botapi.inject_flood(count=1, retry_after=3)
        with pytest.raises(RetryAfter) as flood:
            await send(message)
        assert flood.value.seconds == 3
        botapi.inject_server_error(count=1, status=502)
        with pytest.raises(TransientError) as server:
            await send(message)
        assert not server.value.maybe_delivered
        botapi.inject_blocked(chat_id=42, count=1)
        with pytest.raises(ChatUnreachable):
            await send(message)
        botapi.inject_chat_not_found(chat_id=42, count=1)
        with pytest.raises(ChatUnreachable):
            await send(message)
        with pytest.raises(MessageRejected):
            await send(OutgoingMessage(chat_id=42, text="<blink>no</blink>"))
        botapi.inject_timeout_after_delivery(count=1, seconds=2)
        with pytest.raises(TransientError) as late:
            await send(message)
        assert late.value.maybe_delivered  # delivered, but nobody could know
    assert [m.text for m in botapi.messages(42)] == ["hello"]
