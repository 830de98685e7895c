"""Replies are never lost, and each update is processed once: `debtbot run` (debtbot.app.serve)
against the local Bot API server injecting 429s, 5xx and timeouts after delivery on the
citizen's replies, and posting a webhook update twice. On the selected backend."""

from __future__ import annotations

import asyncio
import json

import aiohttp
from citizen_harness import say
from sqlalchemy import select
from test_assembled_app import serving, settings_for

from debtbot.devtools.botapi import FakeBotApi
from debtbot.http.app import webhook_path
from debtbot.http.webhook import SECRET_HEADER
from debtbot.store.db import create_engine, session_factory
from debtbot.store.models import FleetCounter, OutboxMessage

CHAT = 7401


async def _counters(database_url: str) -> dict[str, int]:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            rows = (await session.execute(select(FleetCounter.name, FleetCounter.value))).all()
    finally:
        await engine.dispose()
    return dict(rows)


def _sends(botapi: FakeBotApi, chat_id: int) -> list:
    return [call for call in botapi.calls_to("sendMessage") if call.chat_id == chat_id]


async def test_a_reply_answered_429_waits_retry_after_and_arrives_once(
    botapi, empty_database_url
):
    async with serving(settings_for(botapi, empty_database_url)) as base:
        botapi.inject_flood(count=1, retry_after=1, chat_id=CHAT, methods="sendMessage")
        [welcome] = await say(botapi, CHAT, "/start")
        await asyncio.sleep(0.3)  # nothing else comes
        assert len(botapi.new_messages(CHAT)) == 1
        async with aiohttp.ClientSession() as http, http.get(f"{base}/metrics") as response:
            metrics = await response.text()

    flooded, delivered = _sends(botapi, CHAT)
    assert (flooded.status, delivered.status) == (429, 200)
    assert delivered.at - flooded.at >= 0.95  # it waited retry_after
    assert welcome.text
    assert (await _counters(empty_database_url)).get("reply_retried:flood") == 1
    assert 'debtbot_replies_retried_total{reason="flood"} 1.0' in metrics


async def test_a_reply_that_timed_out_after_delivery_is_sent_again_and_counted_as_a_possible_duplicate(  # noqa: E501
    botapi, empty_database_url
):
    async with serving(settings_for(botapi, empty_database_url)) as base:
        # Delivered at once, answered after the client's 5 s read timeout.
        botapi.inject_timeout_after_delivery(count=1, seconds=6, chat_id=CHAT,
                                             methods="sendMessage")
        await botapi.user_sends(CHAT, "/start")
        shown = await botapi.wait_for_messages(CHAT, 2, timeout=15)
        async with aiohttp.ClientSession() as http, http.get(f"{base}/metrics") as response:
            metrics = await response.text()

    assert shown[0].text == shown[1].text  # the duplicate the README warns about
    assert botapi.counters["late_answers"] == 1
    assert (await _counters(empty_database_url)).get("possible_duplicate:reply") == 1
    assert 'debtbot_messages_possible_duplicates_total{kind="reply"} 1.0' in metrics


async def test_a_reply_failing_every_try_goes_to_the_outbox_first_and_is_delivered_from_there(
    botapi, empty_database_url
):
    settings = settings_for(
        botapi, empty_database_url, send_max_attempts=2, send_backoff_initial_seconds=0.05,
    )
    async with serving(settings):
        botapi.inject_server_error(count=2, status=502, chat_id=CHAT, methods="sendMessage")
        await botapi.user_sends(CHAT, "/start")
        [welcome] = await botapi.wait_for_messages(CHAT, timeout=10)

    assert [call.status for call in _sends(botapi, CHAT)] == [502, 502, 200]
    assert welcome.text == _sends(botapi, CHAT)[-1].params["text"]
    engine = create_engine(empty_database_url)
    async with session_factory(engine)() as session:
        [row] = (await session.execute(select(OutboxMessage))).scalars().all()
    await engine.dispose()
    assert (row.purpose, row.priority, row.status) == ("reply", 0, "sent")
    assert row.payload["text"] == _sends(botapi, CHAT)[-1].params["text"]
    assert (await _counters(empty_database_url)).get("reply_queued") == 1


async def test_a_webhook_update_posted_twice_is_acknowledged_and_answered_once(
    botapi, empty_database_url
):
    from test_assembled_app import free_port

    port = free_port()
    settings = settings_for(botapi, empty_database_url).model_copy(update={
        "http_port": port,
        "webhook_url": f"http://127.0.0.1:{port}",
        "webhook_secret": "fleet-webhook-secret",
    })
    async with serving(settings) as base:
        update = await botapi.user_sends(CHAT, "/start")
        await botapi.wait_for_messages(CHAT)
        async with aiohttp.ClientSession() as http, http.post(
            base + webhook_path(settings), data=json.dumps(update),
            headers={SECRET_HEADER: "fleet-webhook-secret",
                     "Content-Type": "application/json"},
        ) as response:
            assert response.status == 200  # acknowledged, so Telegram stops retrying
        await asyncio.sleep(1.0)  # time for a second answer, if one were coming
    assert len(_sends(botapi, CHAT)) == 1


async def test_replies_to_one_chat_keep_a_second_apart_and_the_budget_counts_them(
    botapi, sessions, database_url
):
    from telegram import Bot

    from debtbot.services.deps import Deps
    from debtbot.services.fleet import LocalBudget
    from debtbot.settings import Settings
    from debtbot.telegram.paced import PacedRequest, ReplyPace

    deps = Deps(settings=Settings(database_url=database_url), sessions=sessions)
    budget = LocalBudget(25)
    request = PacedRequest(ReplyPace.for_deps(deps, budget))
    bot = Bot(botapi.token, base_url=f"{botapi.url}/bot", request=request)
    async with bot:
        await asyncio.gather(*(bot.send_message(CHAT, f"part {n}") for n in range(3)),
                             bot.send_message(CHAT + 1, "elsewhere"))
    times = sorted(call.at for call in _sends(botapi, CHAT))
    assert len(times) == 3
    assert all(b - a >= 0.95 for a, b in zip(times, times[1:], strict=False))
    assert request._chat_locks == {}  # nothing kept for chats with nothing in flight
    assert budget._next > 0  # the four took slots from the budget
