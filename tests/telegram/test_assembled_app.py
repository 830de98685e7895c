"""`debtbot run` as an operator starts it: the bot, the scheduler and the HTTP API in one
process (debtbot.app.serve), talking to the local Bot API server by polling and by webhook.
Also: a whole verification leaves no identity number, date of birth or phone in the logs."""

from __future__ import annotations

import asyncio
import gc
import logging
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date

import aiohttp
import pytest
from citizen_harness import add_debt, add_person, press, say

from debtbot.app import serve
from debtbot.devtools.botapi import FakeBotApi
from debtbot.settings import Settings
from debtbot.store.db import create_engine, session_factory

CHAT = 7301
NUMBER = "7654321"
PHONE = "+35799765432"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[str]:
    """serve() in the background until the block ends; yields the HTTP API's base URL."""
    stop = asyncio.Event()
    task = asyncio.create_task(serve(settings, stop=stop))
    base = f"http://127.0.0.1:{settings.http_port}"
    async with aiohttp.ClientSession() as http:
        for _ in range(200):
            if task.done():
                task.result()  # raise what stopped it
            try:
                async with http.get(f"{base}/readyz") as response:
                    if response.status == 200:
                        break
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the app did not become ready")
    try:
        yield base
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)


def settings_for(botapi: FakeBotApi, database_url: str, **extra: object) -> Settings:
    return Settings(
        telegram_token=botapi.token,
        telegram_api_url=botapi.url,
        database_url=database_url,
        hash_key="assembled-app-key",
        http_port=free_port(),
        **extra,
    )


async def test_run_answers_by_polling_and_serves_the_api(botapi, empty_database_url):
    thresholds = gc.get_threshold()
    async with serving(settings_for(botapi, empty_database_url)) as base:
        [welcome] = await say(botapi, CHAT, "/start", language_code="el")
        # While serving, start-up objects are out of the garbage collector's reach.
        assert gc.get_freeze_count() > 0 and gc.get_threshold()[0] > thresholds[0]
        assert "επιβεβαιώσω" in welcome.text  # Greek from Telegram's language_code
        menus = botapi.calls_to("setMyCommands") if hasattr(botapi, "calls_to") else [
            call for call in botapi.calls if call.method.lower() == "setmycommands"
        ]
        assert {call.params.get("language_code") for call in menus} >= {"el", "en", "tr"}
        async with aiohttp.ClientSession() as http, http.get(f"{base}/healthz") as response:
            assert response.status == 200
    assert (gc.get_freeze_count(), gc.get_threshold()) == (0, thresholds)  # Python's again


async def test_run_receives_updates_by_webhook_when_a_webhook_url_is_set(
    botapi, empty_database_url
):
    port = free_port()
    settings = settings_for(botapi, empty_database_url).model_copy(update={
        "http_port": port,
        "webhook_url": f"http://127.0.0.1:{port}",
        "webhook_secret": "assembled-webhook-secret",
    })
    async with serving(settings):
        [welcome] = await say(botapi, CHAT, "/start", language_code="tr")
        assert "kimliğinizi" in welcome.text.lower() or "doğrula" in welcome.text.lower()
        assert botapi.counters.get("webhook_deliveries", 0) >= 1


async def test_a_whole_verification_leaves_no_identity_data_in_the_logs(
    botapi, empty_database_url, caplog
):
    settings = settings_for(botapi, empty_database_url)
    # As configure_logging leaves it: our own code at DEBUG, the libraries at INFO (PTB logs
    # whole updates, what the citizen typed, at DEBUG).
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="debtbot")
    engine = create_engine(empty_database_url)
    sessions = session_factory(engine)
    async with serving(settings):  # migrates the empty database
        person = await add_person(
            sessions, number=NUMBER, born=date(1979, 2, 1), phone=PHONE, key="assembled-app-key"
        )
        await add_debt(sessions, reference="OOC-LOG-1", person_id=person)
        await say(botapi, CHAT, "/start")
        await press(botapi, CHAT, "Myself")
        await press(botapi, CHAT, "Cypriot identity card")
        await say(botapi, CHAT, f"{NUMBER[:3]} {NUMBER[3:]}")
        await say(botapi, CHAT, "01/02/1979")
        await botapi.user_shares_contact(CHAT, PHONE, own=True)
        await botapi.wait_for_messages(CHAT)
        [report] = await say(botapi, CHAT, "/debts")
        assert "OOC-LOG-1" in report.text
    await engine.dispose()
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert logged, "the app logged nothing at all: the check would prove nothing"
    for secret in (NUMBER, "01/02/1979", "1979-02-01", PHONE, PHONE.lstrip("+"), "99765432"):
        assert secret not in logged


@pytest.fixture(autouse=True)
def _quiet_scheduler_logs() -> None:
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
