"""What the HTTP API reports about the system: readiness and the figures behind /metrics."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta

from debtbot.services.deps import Deps
from debtbot.store import api as store

log = logging.getLogger(__name__)

READY_TIMEOUT_SECONDS = 3.0


async def database_ready(deps: Deps) -> bool:
    try:
        async with asyncio.timeout(READY_TIMEOUT_SECONDS), deps.sessions() as session:
            await store.ping(session)
        return True
    except Exception as exc:  # any failure means "not ready"; the kind is enough to log
        log.warning("readiness check failed: %s", type(exc).__name__)
        return False


@dataclass(frozen=True, slots=True)
class Snapshot:
    outbox: dict[tuple[str, str], int]  # (purpose, status) → rows
    verification: dict[tuple[str, bool], int]  # (method, succeeded) → attempts
    locked_chats: int
    locked_identifiers: int


async def metrics_snapshot(deps: Deps) -> Snapshot:
    settings = deps.settings
    since = deps.clock() - timedelta(hours=settings.verify_window_hours)
    async with deps.sessions() as session:
        outbox = await store.outbox_counts(session)
        verification = await store.verification_counts(session)
        chats, identifiers = await store.locked_out(
            session,
            since=since,
            chat_failures=settings.verify_chat_failures,
            identifier_failures=settings.verify_identifier_failures,
        )
    return Snapshot(outbox, verification, chats, identifiers)
