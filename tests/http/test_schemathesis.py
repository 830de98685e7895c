"""Schemathesis against the live server and its /api/openapi.json: generated requests (valid
and invalid, examples, boundary coverage and fuzzing) never get a 5xx, and every answer has
a documented status and a body matching the documented schema.

The server runs in a process of its own (schemathesis calls it synchronously), on one
database for the module, so later operations see what earlier ones wrote. Every request
carries a token with every scope, so the positive paths are reached too; schemathesis also
checks that leaving the token out is refused.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from http_support import NOW, PAYMENT_SECRET, serve_forever
from hypothesis import HealthCheck, settings
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance
from sqlalchemy import text

import postgres_databases
from debtbot.http.app import all_operations
from debtbot.http.openapi import build_document
from debtbot.services.record_payment import sign
from debtbot.store.db import create_engine
from debtbot.store.models import Base

EXAMPLES = 10

# The document the server publishes, built by the same code; a test below checks that the
# live /api/openapi.json is exactly this. (schemathesis' lazy fixture loader does not work
# with pytest 9, so the schema is loaded at collection time rather than from the URL.)
DOCUMENT = build_document(all_operations())
schema = schemathesis.openapi.from_dict(DOCUMENT)


async def _fresh_schema(url: str) -> None:
    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.drop_all)
        await connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
        await connection.run_sync(Base.metadata.create_all)
    await engine.dispose()


def _database_url(tmp: Path) -> str:
    if os.environ.get("DEBTBOT_TEST_DB", "sqlite").lower() == "postgres":
        url = postgres_databases.create_database()
    else:
        url = f"sqlite+aiosqlite:///{tmp / 'schemathesis.sqlite3'}"
    asyncio.run(_fresh_schema(url))
    return url


class Live:
    def __init__(self, port: int, token: str) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.headers = {"Authorization": f"Bearer {token}"}
        self.session = requests.Session()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    url = _database_url(tmp_path_factory.mktemp("schemathesis"))
    context = multiprocessing.get_context("spawn")
    reply = context.Queue()
    server = context.Process(target=serve_forever, args=(url, reply), daemon=True)
    server.start()
    try:
        port, token = reply.get(timeout=60)
        running = Live(port, token)
        yield running
        running.session.close()
    finally:
        server.kill()
        server.join(timeout=10)


def test_the_served_document_is_the_one_tested(live: Live) -> None:
    with urllib.request.urlopen(live.url + "/api/openapi.json", timeout=10) as reply:  # noqa: S310
        assert json.load(reply) == DOCUMENT


def _headers_are_valid(case: Any) -> bool:
    """False when schemathesis made the headers invalid on purpose (then they stay so)."""
    meta = case.meta
    info = meta.components.get(ParameterLocation.HEADER) if meta is not None else None
    return info is None or info.mode == GenerationMode.POSITIVE


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_the_api_never_fails_and_matches_its_schema(case: Any, live: Live) -> None:
    headers = dict(live.headers)
    if (
        case.operation.path == "/api/payments"
        and isinstance(case.body, dict)
        and _headers_are_valid(case)
    ):
        # Sign what requests will send, so valid callbacks reach the payment service too.
        raw = json.dumps(case.body, allow_nan=False).encode()
        timestamp = str(int(NOW.timestamp()))
        headers["X-Payment-Timestamp"] = timestamp
        headers["X-Payment-Signature"] = sign(PAYMENT_SECRET, timestamp=timestamp, body=raw)
        case.headers = {k: v for k, v in (case.headers or {}).items()
                        if k not in ("X-Payment-Timestamp", "X-Payment-Signature")}
    case.call_and_validate(
        base_url=live.url,
        session=live.session,
        headers=headers,
        # A schema-valid body may still be refused with 422 for what a schema cannot say
        # (an ARC number's shape, a date of service in the future, a broadcast in the wrong
        # state). Everything else is checked: no 5xx, documented statuses and bodies,
        # schema-invalid data rejected, missing auth rejected.
        excluded_checks=[positive_data_acceptance],
    )

