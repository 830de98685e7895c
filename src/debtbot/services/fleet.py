"""Several instances, one pace: what the fleet coordinates through PostgreSQL.

- **Leadership.** One instance at a time drains the outbox (the active sender) and one polls
  Telegram for a bot token: each holds a lease (store.fleet.AdvisoryLease, a session-level
  advisory lock). The others stand by and try again every `retry` seconds; the holder checks
  its lease every `heartbeat` seconds and stops the moment it cannot. A SIGKILLed holder's
  lock is released by PostgreSQL at once, a holder cut off by the network within about five
  seconds (keepalives), so a stand-by takes over well within ten.
- **One budget.** Every message that counts against Telegram's limit (the outbox's and the
  citizens' replies, from whichever instance) first reserves a slot in a shared budget
  (`SharedBudget`: one row in PostgreSQL, a generic cell rate algorithm); a 429 pushes the
  budget back for everyone. SQLite runs one instance: `LocalBudget` does the same in memory.
- **Each update once.** `first_time(deps, update_id)` records the update in
  `processed_updates`; a second delivery (a webhook retry, a new poller re-reading what the
  old one had not confirmed) is acknowledged and skipped. Purged by the retention job.
- **Counted across the fleet.** `count(deps, name)` adds to a counter in the database that
  /metrics reports (possible duplicates, replies retried and queued).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from debtbot.services.deps import Deps
from debtbot.store.health import warn_unless_outage

log = logging.getLogger(__name__)

SENDER_LEASE = "outbox-sender"
# While sending on, slots that a busy event loop let pass by up to this much are still handed
# out (a short catch-up, well inside Telegram's one-second window), so the rate holds at
# 1,000 a second too; after a longer pause the next slot is now, so nothing bursts.
LATENESS = 0.05
UPDATE_MEMORY = timedelta(hours=24)  # an update_id seen within this is not processed again
PURGE_BATCH = 10_000

# Counter names (fleet_counters.name); /metrics turns them into labelled series.
POSSIBLE_DUPLICATE = "possible_duplicate:"  # + kind (reply, reminder, notice, ...)
REPLY_RETRIED = "reply_retried:"  # + reason (flood, transient)
REPLY_QUEUED = "reply_queued"


def poller_lease(token: str) -> str:
    """The lease of the one poller of a bot: named after the bot's id, never its secret."""
    return f"poller-{token.split(':', 1)[0]}"


# ----------------------------------------------------------------------------- budgets


class Budget(Protocol):
    """Sending slots shared by everything that sends from this budget."""

    interval: float
    lateness: float

    async def reserve(self, count: int = 1) -> float:
        """Reserve `count` consecutive slots, one `interval` apart; seconds until the first
        (below zero, by `lateness` at most: slots a late wake-up missed, to use now)."""
        ...

    async def pause(self, seconds: float) -> None:
        """Nobody sends from this budget for `seconds` (Telegram answered 429)."""
        ...


class LocalBudget:
    """One process's budget, in memory (SQLite: one instance)."""

    def __init__(self, rate: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = 1.0 / rate
        self.lateness = max(self.interval, LATENESS)
        self._clock = clock
        self._next = 0.0

    async def reserve(self, count: int = 1) -> float:
        now = self._clock()
        # Sending on: the next slot, even if a late wake-up let it pass (by `lateness` at
        # most). Idle since: now.
        start = self._next if self._next >= now - self.lateness else now
        self._next = start + count * self.interval
        return start - now

    async def pause(self, seconds: float) -> None:
        self._next = max(self._next, self._clock() + seconds)


class SharedBudget:
    """The fleet's budget: one row of `send_budget` in PostgreSQL, reserved with one
    autocommit statement (a pooled connection, about a third of a millisecond here)."""

    def __init__(self, deps: Deps, name: str, rate: float) -> None:
        self.deps = deps
        self.name = name
        self.interval = 1.0 / rate
        self.lateness = max(self.interval, LATENESS)

    async def reserve(self, count: int = 1) -> float:
        return await self.deps.write_once(
            lambda uow: uow.fleet.reserve_slots(
                name=self.name, count=count, interval=self.interval, lateness=self.lateness,
            ),
        )

    async def pause(self, seconds: float) -> None:
        try:
            await self.deps.write_once(
                lambda uow: uow.fleet.push_back(name=self.name, seconds=seconds),
            )
        except Exception as exc:  # the local pause still holds; the others will get a 429
            warn_unless_outage(log, exc, "send budget %s: could not pause the fleet (%s)",
                               self.name, type(exc).__name__)


def shared_database(deps: Deps) -> bool:
    """True where several instances may run (PostgreSQL)."""
    return deps.store.dialect == "postgresql"


def budgets(deps: Deps) -> tuple[Budget, Budget]:
    """This process's (ordinary, paid broadcast) budgets: shared on PostgreSQL, local on
    SQLite. Build them once per process and give the same objects to the outbox sender and
    the replies, so both count against one pace."""
    settings = deps.settings
    if shared_database(deps):
        return (SharedBudget(deps, "messages", settings.send_rate_per_second),
                SharedBudget(deps, "paid", settings.paid_broadcast_rate_per_second))
    return (LocalBudget(settings.send_rate_per_second),
            LocalBudget(settings.paid_broadcast_rate_per_second))


# ----------------------------------------------------------------------------- leadership


class Lease(Protocol):
    name: str

    async def try_acquire(self) -> bool: ...

    async def alive(self) -> bool: ...

    async def release(self) -> None: ...


class Leadership:
    """Whether this instance holds a lease. With no lease (SQLite), it always does.

        term = await leadership.acquire(stop)   # waits until held (None if stop came first)
        ...work until term.is_set() (lost, or stop)...
        await leadership.resign()
    """

    def __init__(
        self, lease: Lease | None, *, retry: float = 1.0, heartbeat: float = 1.0
    ) -> None:
        self.lease = lease
        self.retry = retry
        self.heartbeat = heartbeat
        self._watch: asyncio.Task[None] | None = None
        self.terms = 0

    @property
    def name(self) -> str:
        return self.lease.name if self.lease is not None else "(single instance)"

    async def acquire(self, stop: asyncio.Event) -> asyncio.Event | None:
        term = asyncio.Event()
        if self.lease is None:
            self._watch = asyncio.create_task(self._mirror(stop, term))
            self.terms += 1
            return term
        while not stop.is_set():
            try:
                if await self.lease.try_acquire():
                    break
            except Exception as exc:  # the database away: keep standing by
                warn_unless_outage(log, exc, "lease %s: could not ask (%s)", self.name,
                                   type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.retry)
        else:
            return None
        self.terms += 1
        log.info("lease %s taken", self.name)
        self._watch = asyncio.create_task(self._beat(stop, term))
        return term

    async def resign(self) -> None:
        watch, self._watch = self._watch, None
        if watch is not None:
            watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watch
        if self.lease is not None:
            await self.lease.release()

    async def _mirror(self, stop: asyncio.Event, term: asyncio.Event) -> None:
        await stop.wait()
        term.set()

    async def _beat(self, stop: asyncio.Event, term: asyncio.Event) -> None:
        assert self.lease is not None
        try:
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.heartbeat)
                if stop.is_set():
                    break
                if not await self.lease.alive():
                    log.info("lease %s lost: standing down", self.name)
                    break
        finally:
            term.set()


async def while_leading(
    leadership: Leadership,
    stop: asyncio.Event,
    work: Callable[[asyncio.Event], Awaitable[Any]],
    *,
    restart_delay: float = 1.0,
) -> None:
    """Run `work(term)` each time this instance holds the lease, until `stop`: `term` is set
    when the lease is lost or `stop` comes, and `work` must then return."""
    while not stop.is_set():
        term = await leadership.acquire(stop)
        if term is None:
            return
        try:
            await work(term)
        except Exception:
            log.exception("%s: the leader's work failed; standing down and trying again",
                          leadership.name)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), restart_delay)
        finally:
            await leadership.resign()


# ----------------------------------------------------------------------------- updates


async def first_time(deps: Deps, update_id: int) -> bool:
    """True if no instance has taken this update before (and now this one has)."""
    now = deps.clock()
    return await deps.write_once(lambda uow: uow.fleet.take_update(update_id=update_id, now=now))


async def purge_updates(deps: Deps, *, now: datetime | None = None) -> int:
    """Forget updates taken more than a day ago (the retention job)."""
    before = (now or deps.clock()) - UPDATE_MEMORY
    total = 0
    while True:
        async with deps.uow() as uow:
            removed = await uow.fleet.forget_updates_before(before=before, limit=PURGE_BATCH)
        total += removed
        if removed < PURGE_BATCH:
            return total


# ----------------------------------------------------------------------------- counters


async def count(deps: Deps, name: str, amount: int = 1) -> None:
    """Add to a fleet-wide counter; a failure is logged, never raised (it is a metric)."""
    try:
        await deps.write_once(lambda uow: uow.fleet.add_to_counter(name, amount))
    except Exception as exc:
        warn_unless_outage(log, exc, "counter %s not recorded (%s)", name, type(exc).__name__)
