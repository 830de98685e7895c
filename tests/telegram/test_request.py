"""JsonRequest at the HTTP boundary: parameters arrive as one JSON object (nested markup,
Greek intact), uploads as multipart forms, a slow server as TimedOut."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import TimedOut

from debtbot.telegram.request import JsonRequest

TOKEN = "123:test"
MESSAGE = {"message_id": 1, "date": 0, "chat": {"id": 7, "type": "private"}, "text": "ok"}


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, list[tuple[str, str, Any]]]]:
    seen: list[tuple[str, str, Any]] = []

    async def method(request: web.Request) -> web.Response:
        name = request.match_info["method"]
        if request.content_type == "application/json":
            body: Any = await request.json()
        else:
            body = {key: value for key, value in (await request.post()).items()}
        seen.append((name, request.content_type, body))
        if name == "slow":
            await asyncio.sleep(1)
        result: Any = {"id": 1, "is_bot": True, "first_name": "B", "username": "b"} \
            if name == "getMe" else MESSAGE
        return web.json_response({"ok": True, "result": result})

    app = web.Application()
    app.router.add_post("/bot{token}/{method}", method)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}/bot", seen
    await runner.cleanup()


async def test_parameters_go_as_one_json_object_and_uploads_as_a_form(
    server: tuple[str, list[tuple[str, str, Any]]],
) -> None:
    base, seen = server
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Πληρωμή €", url="https://pay.example/1")]])
    async with Bot(TOKEN, base_url=base, request=JsonRequest()) as bot:
        await bot.send_message(7, "Οφειλή: <b>€1.500,50</b>", reply_markup=keyboard,
                               parse_mode="HTML")
        await bot.send_document(7, document=b"kind,reference\n", filename="debts.csv")

    (_, get_me_type, _), (_, message_type, message), (_, upload_type, upload) = seen
    assert (get_me_type, message_type) == ("application/json", "application/json")
    assert message["text"] == "Οφειλή: <b>€1.500,50</b>"
    assert message["reply_markup"] == {
        "inline_keyboard": [[{"text": "Πληρωμή €", "url": "https://pay.example/1"}]]
    }
    assert upload_type == "multipart/form-data"
    assert upload["document"].filename == "debts.csv"


async def test_a_server_slower_than_the_read_timeout_is_timed_out(
    server: tuple[str, list[tuple[str, str, Any]]],
) -> None:
    base, _ = server
    request = JsonRequest(read_timeout=0.2)
    await request.initialize()
    try:
        with pytest.raises(TimedOut):
            await request.post(f"{base}{TOKEN}/slow")
    finally:
        await request.shutdown()


async def test_a_sent_message_comes_back_without_the_bots_own_keyboard(
    server: tuple[str, list[tuple[str, str, Any]]],
) -> None:
    base, seen = server
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Pay", url="https://pay.example/1")]])
    async with Bot(TOKEN, base_url=base, request=JsonRequest()) as bot:
        sent = await bot.send_message(7, "ok", reply_markup=keyboard)
    assert (sent.message_id, sent.chat_id, sent.text) == (1, 7, "ok")
    assert sent.reply_markup is None
    assert JsonRequest.parse_json_payload(b'{"ok": true, "result": [{"update_id": 1}]}') == {
        "ok": True, "result": [{"update_id": 1}]
    }
