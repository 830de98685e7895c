"""What the HTTP API reports about the system: readiness and the figures behind /metrics."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import timedelta

from debtbot import authorities
from debtbot.domain import registry_dates
from debtbot.services.deps import Deps
from debtbot.services.verify_identity import lock_expiry
from debtbot.store.health import OUTAGE, is_database_outage

log = logging.getLogger(__name__)

READY_TIMEOUT_SECONDS = 3.0


async def database_ready(deps: Deps) -> bool:
    try:
        async with asyncio.timeout(READY_TIMEOUT_SECONDS):
            await deps.read(lambda uow: uow.fleet.ping())
        return True
    except Exception as exc:  # any failure means "not ready"; the kind is enough to log
        if is_database_outage(exc):
            OUTAGE.failed(exc)  # part of the outage's one story, not a line per probe
        else:
            log.warning("readiness check failed: %s", type(exc).__name__)
        return False


@dataclass(frozen=True, slots=True)
class Snapshot:
    outbox: dict[tuple[str, str], int]  # (purpose, status) → rows
    verification: dict[tuple[str, bool], int]  # (method, succeeded) → attempts
    locked_chats: int
    locked_identifiers: int
    # Outstanding debts whose `authority` matches nothing in authorities.toml (shown to the
    # citizen as the registry wrote it, so possibly in another language).
    unknown_authority: int = 0
    # Outstanding debts whose registry dates differ from what the rulebook computes.
    registry_dates_differ: int = 0
    fleet: dict[str, int] = field(default_factory=dict)  # services.fleet counters


async def metrics_snapshot(deps: Deps) -> Snapshot:
    settings = deps.settings
    now = deps.clock()
    window = timedelta(hours=settings.verify_window_hours)
    async with deps.uow() as uow:
        outbox = await uow.fleet.outbox_counts()
        verification = await uow.fleet.verification_counts()
        # Failures older than two windows cannot hold a lock in force (verify_identity).
        by_chat, by_identifier = await uow.fleet.recent_failures(since=now - 2 * window)
        counters = await uow.fleet.counters()
        by_authority = await uow.debts.open_by_authority()
        with_dates = await uow.debts.open_with_registry_dates()
    differ = sum(1 for debt in with_dates
                 if registry_dates.differences(debt, rulebook=deps.rulebook))
    unknown = sum(
        count for value, count in by_authority.items()
        if value and authorities.find(value) is None
    )

    def locked(failures: dict, threshold: int) -> int:
        return sum(
            1 for times in failures.values()
            if (ends := lock_expiry(times, threshold=threshold, window=window)) and ends > now
        )

    return Snapshot(
        outbox,
        verification,
        locked(by_chat, settings.verify_chat_failures),
        locked(by_identifier, settings.verify_identifier_failures),
        unknown,
        differ,
        counters,
    )
