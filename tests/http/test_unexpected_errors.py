"""An unexpected failure is a JSON 500 with an id to quote, logged without the request body
or the exception's message (database errors quote the values they were given)."""

from __future__ import annotations

import logging

import aiohttp
import pytest
from aiohttp import web

from debtbot.http.app import bound_port, errors_as_json, start_http_server


async def test_an_unexpected_error_is_a_json_500_and_the_log_has_no_personal_data(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(request: web.Request) -> web.Response:
        body = await request.text()
        raise RuntimeError(f"could not store {body}")

    app = web.Application(middlewares=[errors_as_json])
    app.router.add_post("/broken", broken)
    runner = await start_http_server(app, host="127.0.0.1", port=0)
    try:
        with caplog.at_level(logging.ERROR, logger="debtbot.http.app"):
            async with aiohttp.ClientSession() as client, client.post(
                f"http://127.0.0.1:{bound_port(runner)}/broken",
                json={"id_number": "1234567", "date_of_birth": "1980-11-23"},
            ) as reply:
                status, body = reply.status, await reply.json()
    finally:
        await runner.cleanup()
    assert status == 500
    assert body["error"]["code"] == "internal_error" and len(body["error"]["error_id"]) == 12
    assert "1234567" not in str(body)
    logged = caplog.text
    assert body["error"]["error_id"] in logged and "RuntimeError" in logged
    assert "1234567" not in logged and "1980-11-23" not in logged
