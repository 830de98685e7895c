"""Bursts wait, they don't fail: the bot works on a bounded number of updates at once, never
more than the store's pool holds, so an update waits in the queue, not for a connection."""

from __future__ import annotations

import pytest

from debtbot.services.deps import Deps
from debtbot.settings import Settings
from debtbot.store.db import POSTGRES_POOL_SIZE, SQLITE_POOL_SIZE
from debtbot.telegram.application import AUTO_CONCURRENT_UPDATES, build_application

SQLITE = "sqlite+aiosqlite:///x.sqlite3"
POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1/x"


@pytest.mark.parametrize(
    ("url", "setting", "expected"),
    [
        (SQLITE, 0, AUTO_CONCURRENT_UPDATES),
        (POSTGRES, 0, AUTO_CONCURRENT_UPDATES),
        (SQLITE, 256, SQLITE_POOL_SIZE),
        (POSTGRES, 256, POSTGRES_POOL_SIZE),
        (POSTGRES, 3, 3),
    ],
)
def test_concurrent_updates_are_bounded_by_the_stores_pool(url, setting, expected):
    settings = Settings(telegram_token="1:x", database_url=url, concurrent_updates=setting)
    application = build_application(Deps(settings=settings, sessions=None, clock=None))  # type: ignore[arg-type]
    assert application.update_processor.max_concurrent_updates == expected
    assert min(SQLITE_POOL_SIZE, POSTGRES_POOL_SIZE) >= AUTO_CONCURRENT_UPDATES
