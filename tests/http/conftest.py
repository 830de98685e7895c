"""The HTTP API served for real on 127.0.0.1 (port 0), called with aiohttp.ClientSession."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from http_support import Api, Clock, make_settings, serve
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from debtbot.services.deps import Deps


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def deps(sessions: async_sessionmaker[AsyncSession], clock: Clock) -> Deps:
    return Deps(settings=make_settings(), sessions=sessions, clock=clock)


@pytest.fixture
async def api(deps: Deps, clock: Clock) -> AsyncIterator[Api]:
    async for running in serve(deps, clock):
        yield running
