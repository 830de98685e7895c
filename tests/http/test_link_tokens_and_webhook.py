"""Deep-link tokens for the portal, and Telegram's webhook at a secret path."""

from __future__ import annotations

import json

from http_support import Api, make_settings, serve
from telegram.ext import ApplicationBuilder

from debtbot.domain.identifiers import identifier_hash, normalise_identifier
from debtbot.http.app import webhook_path
from debtbot.services.deps import Deps
from debtbot.services.link_tokens import read_link_token


async def test_the_portal_mints_a_single_step_link_token(api: Api) -> None:
    status, body = await api.call("POST", "/api/link-tokens", scope="portal",
                                  body={"id_type": "id_card", "id_number": "1234567"})
    assert status == 201, body
    assert len(body["token"]) <= 64
    claim = read_link_token(api.deps.settings, body["token"], now=api.clock.now)
    expected = identifier_hash(normalise_identifier("id_card", "1234567"), "test-hash-key")
    assert claim.holder == "person" and expected.startswith(claim.hash_prefix)
    assert body["expires_at"].startswith("2026-03-10T10:15:00")


async def test_a_bad_identifier_is_refused_without_repeating_it(api: Api) -> None:
    status, body = await api.call("POST", "/api/link-tokens", scope="portal",
                                  body={"id_type": "id_card", "id_number": "AB-99"})
    assert status == 422 and body["error"]["code"] == "bad_identifier"
    assert "AB-99" not in json.dumps(body)


async def test_minting_needs_the_portal_scope(api: Api) -> None:
    status, _ = await api.call("POST", "/api/link-tokens", scope="ingest",
                               body={"id_type": "id_card", "id_number": "1234567"})
    assert status == 403


def update(update_id: int) -> dict:
    return {
        "update_id": update_id,
        "message": {
            "message_id": 1, "date": 1773136800, "text": "/start",
            "chat": {"id": 77, "type": "private"},
            "from": {"id": 77, "is_bot": False, "first_name": "A"},
        },
    }


async def test_webhook_mode_receives_updates_only_with_the_secret(api: Api) -> None:
    settings = make_settings(webhook_url="https://bot.example.cy", webhook_secret="s3cr3t")
    deps = Deps(settings, api.deps.sessions, api.clock)
    application = ApplicationBuilder().token("123:TEST").updater(None).build()
    path = webhook_path(settings)
    assert "s3cr3t" not in path and len(path) > 30
    async for hooked in serve(deps, api.clock, telegram_application=application):
        status, _ = await hooked.call("POST", path, body=update(1))
        assert status == 403
        status, _ = await hooked.call(
            "POST", path, body=update(2),
            headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"},
        )
        assert status == 403
        assert application.update_queue.empty()
        status, _ = await hooked.call(
            "POST", path, body=update(3),
            headers={"X-Telegram-Bot-Api-Secret-Token": "s3cr3t"},
        )
        assert status == 200
        received = application.update_queue.get_nowait()
        assert received.update_id == 3 and received.message.text == "/start"


async def test_without_a_webhook_url_there_is_no_webhook_route(api: Api) -> None:
    settings = make_settings(webhook_url="", webhook_secret="s3cr3t")
    deps = Deps(settings, api.deps.sessions, api.clock)
    application = ApplicationBuilder().token("123:TEST").updater(None).build()
    async for polling in serve(deps, api.clock, telegram_application=application):
        status, body = await polling.call(
            "POST", webhook_path(settings), body=update(1),
            headers={"X-Telegram-Bot-Api-Secret-Token": "s3cr3t"},
        )
        assert status == 404 and body["error"]["code"] == "not_found"
