"""Schemathesis against the live server's own /api/openapi.json: generated requests (valid
and invalid) never get a 5xx, and every answer matches the documented schema and statuses.

The server runs in a thread with its own event loop (schemathesis calls it synchronously);
every request carries a token with every scope, so the positive paths are reached too.
"""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from http_support import NOW, Clock, make_settings
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from debtbot.http.app import all_operations, bound_port, build_http_app, start_http_server
from debtbot.http.openapi import build_document
from debtbot.services.api_tokens import SCOPES, create_token
from debtbot.services.deps import Deps
from debtbot.store.db import create_engine, session_factory

EXAMPLES = 12


class LiveServer(threading.Thread):
    def __init__(self, database_url: str) -> None:
        super().__init__(daemon=True)
        self.database_url = database_url
        self.ready = threading.Event()
        self.port = 0
        self.token = ""
        self.failure: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._halt: asyncio.Event | None = None

    def run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported to the test thread
            self.failure = exc
            self.ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._halt = asyncio.Event()
        engine = create_engine(self.database_url)
        deps = Deps(make_settings(), session_factory(engine), Clock(NOW))
        self.token = (await create_token(deps, name="schemathesis", scopes=SCOPES)).secret
        runner = await start_http_server(build_http_app(deps), host="127.0.0.1", port=0)
        self.port = bound_port(runner)
        self.ready.set()
        try:
            await self._halt.wait()
        finally:
            await runner.cleanup()
            await engine.dispose()

    def stop(self) -> None:
        if self._loop is not None and self._halt is not None:
            self._loop.call_soon_threadsafe(self._halt.set)
        self.join(timeout=10)


@pytest.fixture
def live_server(database_url: str) -> Iterator[LiveServer]:
    server = LiveServer(database_url)
    server.start()
    server.ready.wait(timeout=30)
    if server.failure is not None:
        raise server.failure
    yield server
    server.stop()


# The document the server publishes, built by the same code; the test below checks that the
# live /api/openapi.json is exactly this. (schemathesis' lazy fixture loader does not work
# with pytest 9, so the schema is loaded at collection time.)
DOCUMENT = build_document(all_operations())
schema = schemathesis.openapi.from_dict(DOCUMENT)


def test_the_served_document_is_the_one_tested(live_server: LiveServer) -> None:
    url = f"http://127.0.0.1:{live_server.port}/api/openapi.json"
    with urllib.request.urlopen(url, timeout=10) as reply:  # noqa: S310 (local test server)
        assert json.load(reply) == DOCUMENT


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_the_api_never_fails_and_matches_its_schema(case: Any, live_server: LiveServer) -> None:
    case.call_and_validate(
        base_url=f"http://127.0.0.1:{live_server.port}",
        headers={"Authorization": f"Bearer {live_server.token}"},
        # A schema-valid body may still be refused with 422 for what a schema cannot say
        # (an ARC number's shape, a date of service in the future, a broadcast in the wrong
        # state). Everything else is checked: no 5xx, documented statuses and bodies,
        # schema-invalid data rejected, missing auth rejected.
        excluded_checks=[positive_data_acceptance],
    )
