"""Helpers for the HTTP tests: a served app, a client, tokens, signed payment callbacks."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from sqlalchemy import select

from debtbot.domain.messages import OutboxPurpose
from debtbot.http.app import bound_port, build_http_app, start_http_server
from debtbot.services.api_tokens import SCOPES, create_token
from debtbot.services.deps import Deps
from debtbot.services.record_payment import sign
from debtbot.settings import Settings
from debtbot.store.db import transaction
from debtbot.store.models import Chat, ChatLink, DebtRow
from debtbot.store.outbox import OutboxRepository

NOW = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
PAYMENT_SECRET = "test-payment-secret"


@dataclass
class Clock:
    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Api:
    """A running server, a client session and one token per scope (plus one with all)."""

    url: str
    client: aiohttp.ClientSession
    deps: Deps
    clock: Clock
    tokens: dict[str, str] = field(default_factory=dict)

    def auth(self, scope: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[scope]}"}

    async def call(
        self, method: str, path: str, *, scope: str | None = None, body: Any = None,
        raw: bytes | None = None, headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        sent = dict(headers or {})
        if scope is not None:
            sent.update(self.auth(scope))
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
        if data is not None:
            sent.setdefault("Content-Type", "application/json")
        async with self.client.request(method, self.url + path, data=data, headers=sent) as reply:
            text = await reply.text()
            content_type = reply.headers.get("Content-Type", "")
            if content_type.startswith("application/json"):
                return reply.status, json.loads(text)
            return reply.status, text

    def signed(self, body: Any, *, at: datetime | None = None,
               secret: str = PAYMENT_SECRET) -> tuple[bytes, dict[str, str]]:
        raw = json.dumps(body).encode()
        timestamp = str(int((at or self.clock.now).timestamp()))
        return raw, {
            "X-Payment-Timestamp": timestamp,
            "X-Payment-Signature": sign(secret, timestamp=timestamp, body=raw),
        }


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "hash_key": "test-hash-key",
        "payment_webhook_secret": PAYMENT_SECRET,
        "telegram_token": "",
        "webhook_url": "",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


async def serve(deps: Deps, clock: Clock, **app_options: Any) -> AsyncIterator[Api]:
    app = build_http_app(deps, **app_options)
    runner = await start_http_server(app, host="127.0.0.1", port=0)
    try:
        async with aiohttp.ClientSession() as client:
            api = Api(f"http://127.0.0.1:{bound_port(runner)}", client, deps, clock)
            for scope in SCOPES:
                created = await create_token(deps, name=f"test {scope}", scopes=[scope])
                api.tokens[scope] = created.secret
            second = await create_token(deps, name="second supervisor", scopes=["notices"])
            api.tokens["notices2"] = second.secret
            everything = await create_token(deps, name="all", scopes=list(SCOPES))
            api.tokens["all"] = everything.secret
            yield api
    finally:
        await runner.cleanup()


def debt(reference: str = "OOC-1", **overrides: Any) -> dict[str, Any]:
    """One debt as a registry sends it through the API."""
    record: dict[str, Any] = {
        "kind": "out_of_court_fine",
        "source": "police",
        "reference": reference,
        "authority": "Cyprus Police",
        "holder_type": "person",
        "id_type": "id_card",
        "id_number": "1234567",
        "name": "Andreas Georgiou",
        "date_of_birth": "1980-11-23",
        "amount": "85.00",
        "served_on": "2026-03-01",
    }
    record.update(overrides)
    return record


async def ingest(api: Api, *debts: dict[str, Any]) -> None:
    status, body = await api.call("POST", "/api/debts/upsert", scope="ingest",
                                  body={"debts": list(debts)})
    assert status == 200, body


async def link_chat(api: Api, reference: str, *, chat_id: int, language: str,
                    discreet: bool = False) -> int:
    """A verified chat for the holder of that debt, with a pending reminder for the debt."""
    async with transaction(api.deps.sessions) as session:
        row = await session.scalar(select(DebtRow).where(DebtRow.reference == reference))
        assert row is not None
        session.add(Chat(id=chat_id, language=language, discreet=discreet))
        await session.flush()
        session.add(ChatLink(chat_id=chat_id, person_id=row.person_id,
                             company_id=row.company_id, verified_by="dob"))
        await OutboxRepository(session).enqueue(
            dedupe_key=f"reminder:{row.id}:{chat_id}", chat_id=chat_id,
            purpose=OutboxPurpose.REMINDER, payload={"text": "reminder"},
            not_before=api.clock.now + timedelta(days=2), debt_id=row.id,
        )
        return row.id


def serve_forever(database_url: str, reply: Any) -> None:
    """The API with a fixed clock, in a process of its own (for schemathesis, which calls it
    synchronously): puts (port, token with every scope) on `reply`, then serves until killed.
    """
    import asyncio

    from debtbot.http.app import bound_port, build_http_app, start_http_server
    from debtbot.store.db import create_engine, session_factory

    async def main() -> None:
        engine = create_engine(database_url)
        deps = Deps(make_settings(), session_factory(engine), Clock(NOW))
        token = await create_token(deps, name="schemathesis", scopes=SCOPES)
        runner = await start_http_server(build_http_app(deps), host="127.0.0.1", port=0)
        reply.put((bound_port(runner), token.secret))
        await asyncio.Event().wait()

    asyncio.run(main())
