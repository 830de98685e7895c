"""The one sender: it drains the outbox to Telegram at Telegram's pace.

- Rows are claimed (status 'sending', claimed_by, claimed_at) and settled one by one in their
  own short transactions, so a crash loses nothing: a claim whose worker died is released
  after `send_claim_timeout_seconds` and sent again (at most the messages in flight at the
  crash can go out twice; at-least-once is the promise, never at-most-once).
- Pace: one global slot every 1/rate seconds (virtual scheduling, no bursts), handed out by
  priority so a reply never waits behind reminders or broadcasts; one message a second per
  chat; a 429 pauses everyone for its `retry_after`.
- Retries name what they retry (STYLE.md, after hynek/stamina): `RetryAfter` (with its
  delay) and `TransientError` (5xx, timeouts, network), with exponential backoff and jitter,
  up to `send_max_attempts`; then the row is 'failed'. `ChatUnreachable` (403 blocked,
  chat not found) marks the chat inactive and cancels what is pending for it. Anything else
  the API refuses (`MessageRejected`) fails the row at once: sending it again cannot help.
- Several reminders due for one chat are claimed together and go out as one message.

The Telegram call itself is a port (`SendMessage`), implemented in debtbot.telegram.sender
with python-telegram-bot; this module knows nothing about Telegram's classes.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import os
import random
import socket
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy.exc import DBAPIError

from debtbot.domain.messages import DeliveryStatus, OutboxPurpose
from debtbot.services import fleet
from debtbot.services.deps import Deps
from debtbot.services.fleet import Budget, LocalBudget
from debtbot.services.outbox import MAX_TEXT, cancel_for_chat, quiet_until
from debtbot.store import audit as audit_store
from debtbot.store import outbox as store
from debtbot.store.chats import ChatRepository
from debtbot.store.db import transaction
from debtbot.store.health import warn_unless_outage
from debtbot.store.outbox import ClaimedMessage

log = logging.getLogger(__name__)

MERGE_SEPARATOR = "\n\n"
MAX_BUTTON_ROWS = 20


# ----------------------------------------------------------------------------- the port


class DeliveryError(Exception):
    """The Telegram call did not deliver the message."""


class RetryAfter(DeliveryError):
    """429 Too Many Requests: wait `seconds`, then try again."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"flood control: retry after {seconds:g} s")
        self.seconds = float(seconds)


class TransientError(DeliveryError):
    """5xx, a timeout or a network failure: the same request may succeed later.

    `maybe_delivered`: the request reached Telegram and no answer came back in time (a read
    timeout), so Telegram may have delivered it: sending it again may show it twice.
    """

    def __init__(self, message: str, *, maybe_delivered: bool = False) -> None:
        super().__init__(message)
        self.maybe_delivered = maybe_delivered


class ChatUnreachable(DeliveryError):
    """403 (the user blocked the bot, deactivated) or 400 "chat not found"."""


class MessageRejected(DeliveryError):
    """Any other refusal (400 bad request): sending it again cannot help."""


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    chat_id: int
    text: str  # Telegram HTML
    buttons: list[list[dict[str, str]]] = field(default_factory=list)
    disable_notification: bool = False
    paid_broadcast: bool = False


class SendMessage(Protocol):
    """Deliver one message; return Telegram's message_id or raise a DeliveryError."""

    def __call__(self, message: OutgoingMessage) -> Awaitable[int]: ...


RETRY_ON: tuple[type[DeliveryError], ...] = (RetryAfter, TransientError)


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with jitter: initial * base**(attempt-1), capped, plus 0..jitter."""

    initial: float = 0.5
    maximum: float = 30.0
    exp_base: float = 2.0
    jitter: float = 0.5

    def delay(self, attempt: int) -> float:
        wait = min(self.maximum, self.initial * self.exp_base ** max(0, attempt - 1))
        return wait + random.uniform(0, self.jitter)


# ----------------------------------------------------------------------------- pacing


class Pacer:
    """Slots from a budget (services.fleet: shared by the fleet on PostgreSQL, this process's
    own on SQLite), handed to the most urgent waiter (lowest priority number first, then first
    come). Slots are reserved just in time, `block` at a time, so a reply from another
    instance waits behind at most one block; a 429 pauses this process and the budget.
    """

    def __init__(
        self,
        rate: float,
        *,
        budget: Budget | None = None,
        block: int = 1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.budget: Budget = budget or LocalBudget(rate, clock=clock)
        self._block = max(1, block)
        self._clock = clock
        self._paused_until = 0.0
        self._slots: deque[float] = deque()
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self._ticker: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._pausing: set[asyncio.Task[None]] = set()

    async def acquire(self, priority: int = 0) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (priority, next(self._seq), future))
        if self._ticker is None or self._ticker.done():
            self._ticker = asyncio.create_task(self._tick())
        self._wake.set()
        await future

    def pause(self, seconds: float) -> None:
        self._paused_until = max(self._paused_until, self._clock() + seconds)
        self._slots.clear()
        task = asyncio.create_task(self.budget.pause(seconds))
        self._pausing.add(task)
        task.add_done_callback(self._pausing.discard)
        self._wake.set()

    async def _sleep_until(self, moment: float) -> None:
        wait = moment - self._clock()
        if wait > 0:
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)

    async def _tick(self) -> None:
        interval, lateness = self.budget.interval, self.budget.lateness
        while self._waiters:
            now = self._clock()
            if self._paused_until > now:
                await self._sleep_until(self._paused_until)
                continue
            while self._slots and self._slots[0] < now - lateness:
                self._slots.popleft()  # reserved but unused in time: gone
            if not self._slots:
                try:
                    wait = await self.budget.reserve(self._block)
                except Exception as exc:  # the database away: try again shortly
                    log.warning("pacer: no slot from the budget (%s)", type(exc).__name__)
                    await asyncio.sleep(0.5)
                    continue
                start = self._clock() + wait
                self._slots.extend(start + i * interval for i in range(self._block))
            slot = self._slots[0]
            if slot > self._clock():
                await self._sleep_until(slot)
                continue
            while self._waiters and self._waiters[0][2].done():
                heapq.heappop(self._waiters)
            if not self._waiters:
                break
            self._slots.popleft()
            _, _, future = heapq.heappop(self._waiters)
            future.set_result(None)

    def close(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()


class ChatGate:
    """At most one message per chat every `interval` seconds, one at a time per chat."""

    def __init__(self, interval: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._interval = interval
        self._clock = clock
        self._next: dict[int, float] = {}
        self._locks: dict[int, asyncio.Lock] = {}
        self._users: dict[int, int] = {}

    def lock(self, chat_id: int) -> asyncio.Lock:
        return self._locks.setdefault(chat_id, asyncio.Lock())

    def enter(self, chat_id: int) -> None:
        self._users[chat_id] = self._users.get(chat_id, 0) + 1

    def leave(self, chat_id: int) -> None:
        left = self._users.get(chat_id, 1) - 1
        if left <= 0:
            self._users.pop(chat_id, None)
            self._locks.pop(chat_id, None)
            if self._next.get(chat_id, 0.0) <= self._clock():
                self._next.pop(chat_id, None)
        else:
            self._users[chat_id] = left

    def wait_time(self, chat_id: int) -> float:
        return max(0.0, self._next.get(chat_id, 0.0) - self._clock())

    def sent(self, chat_id: int, *, extra: float = 0.0) -> None:
        self._next[chat_id] = self._clock() + self._interval + extra

    def prune(self) -> None:
        now = self._clock()
        for chat_id in [c for c, t in self._next.items() if t <= now and c not in self._users]:
            del self._next[chat_id]


# ----------------------------------------------------------------------------- grouping


@dataclass(slots=True)
class Group:
    """What goes out as one Telegram message, and the rows it settles."""

    chat_id: int
    priority: int
    rows: list[ClaimedMessage]
    message: OutgoingMessage
    superseded: list[ClaimedMessage] = field(default_factory=list)

    @property
    def ids(self) -> list[int]:
        return [row.id for row in self.rows]

    @property
    def attempts(self) -> int:
        return max(row.attempts for row in self.rows)


def _message(rows: Sequence[ClaimedMessage], *, paid: bool) -> OutgoingMessage:
    texts = [row.payload["text"] for row in rows]
    buttons = [button_row for row in rows for button_row in row.payload.get("buttons") or []]
    return OutgoingMessage(
        chat_id=rows[0].chat_id,
        text=MERGE_SEPARATOR.join(texts),
        buttons=buttons,
        disable_notification=all(row.payload.get("disable_notification") for row in rows),
        paid_broadcast=paid,
    )


def compose(rows: Sequence[ClaimedMessage], *, paid_broadcasts: bool = False) -> list[Group]:
    """Claimed rows → messages. Reminders of one chat merge into as few messages as fit;
    a second reminder for the same debt and threshold (a longer lead that was still pending)
    is superseded by the most recent one. Everything else goes out as it is.
    """
    groups: list[Group] = []
    reminders: dict[int, list[ClaimedMessage]] = {}
    for row in rows:
        if row.purpose == OutboxPurpose.REMINDER.value:
            reminders.setdefault(row.chat_id, []).append(row)
            continue
        paid = paid_broadcasts and row.purpose == OutboxPurpose.BROADCAST.value
        groups.append(Group(row.chat_id, row.priority, [row], _message([row], paid=paid)))
    for chat_id, chat_rows in reminders.items():
        latest: dict[tuple[Any, Any], ClaimedMessage] = {}
        superseded: list[ClaimedMessage] = []
        for row in sorted(chat_rows, key=lambda r: (r.not_before, r.id)):
            key = (row.debt_id, row.payload.get("milestone")) if row.debt_id else ("row", row.id)
            if key in latest:
                superseded.append(latest[key])
            latest[key] = row
        keep = sorted(latest.values(), key=lambda r: (r.expires_at or r.not_before, r.id))
        chunk: list[ClaimedMessage] = []
        size = 0
        for row in keep:
            length = len(row.payload["text"]) + len(MERGE_SEPARATOR)
            button_rows = sum(len(r.payload.get("buttons") or []) for r in chunk)
            full = size + length > MAX_TEXT or button_rows + len(
                row.payload.get("buttons") or []
            ) > MAX_BUTTON_ROWS
            if chunk and full:
                groups.append(Group(chat_id, chunk[0].priority, chunk, _message(chunk, paid=False)))
                chunk, size = [], 0
            chunk.append(row)
            size += length
        if chunk:
            groups.append(Group(chat_id, chunk[0].priority, chunk, _message(chunk, paid=False)))
        if superseded:
            groups[-1].superseded.extend(superseded)
    groups.sort(key=lambda g: (g.priority, min(r.not_before for r in g.rows)))
    return groups


# ----------------------------------------------------------------------------- the sender


@dataclass(slots=True)
class DeliveryStats:
    sent: int = 0  # rows
    messages: int = 0  # Telegram messages (merged reminders count once)
    failed: int = 0
    blocked: int = 0
    cancelled: int = 0
    retried: int = 0
    flood_waits: int = 0
    superseded: int = 0
    dropped: int = 0
    released: int = 0
    possible_duplicates: int = 0  # timeouts after the request reached Telegram


def worker_name() -> str:
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class OutboxSender:
    """Claims due rows and delivers them, paced; `run()` until stopped, or `deliver_due()`
    for one pass (tests, the CLI)."""

    MAX_FLOOD_WAITS = 5

    def __init__(
        self,
        deps: Deps,
        send: SendMessage,
        *,
        worker: str | None = None,
        backoff: Backoff | None = None,
        poll_seconds: float = 0.25,
        maintenance_seconds: float = 10.0,
        claim_timeout: timedelta | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        settle_delay: float = 0.02,
        budget: Budget | None = None,
        paid_budget: Budget | None = None,
    ) -> None:
        settings = deps.settings
        self.deps = deps
        self.send = send
        self.worker = worker or worker_name()
        self.backoff = backoff or Backoff(
            initial=settings.send_backoff_initial_seconds,
            maximum=settings.send_backoff_max_seconds,
        )
        self.poll_seconds = poll_seconds
        self.maintenance_seconds = maintenance_seconds
        self.claim_timeout = claim_timeout or timedelta(
            seconds=settings.send_claim_timeout_seconds
        )
        self.max_attempts = settings.send_max_attempts
        # The budgets are the process's (services.fleet.budgets): replies take their slots
        # from the same ones, and on PostgreSQL so does every other instance.
        self.pacer = Pacer(settings.send_rate_per_second, budget=budget)
        paid_rate = settings.paid_broadcast_rate_per_second
        # Paid broadcasts go fast: slots are reserved 20 ms' worth at a time (one database
        # round trip per block instead of per message).
        self.paid_pacer = Pacer(paid_rate, budget=paid_budget, block=max(1, int(paid_rate / 50)))
        self.gate = ChatGate(settings.send_rate_per_chat_seconds)
        # How many messages are claimed ahead of the pace: about a second's worth, capped so a
        # crash leaves few claims to recover (and few possible duplicates). Paid broadcasts
        # need more in flight to keep up with their rate: a fifth of a second's worth.
        self.window = max(4, min(50, int(settings.send_rate_per_second)))
        if settings.allow_paid_broadcast:
            self.window = max(self.window, min(400, int(paid_rate / 5)))
        self.stats = DeliveryStats()
        self._sleep = sleep
        self._inflight: set[asyncio.Task[None]] = set()
        self._groups: dict[asyncio.Task[None], Group] = {}  # what each task in flight delivers
        self._committed: set[asyncio.Task[None]] = set()  # its request has gone to Telegram
        self._wake = asyncio.Event()
        self._room = asyncio.Event()  # half the window is free again
        self._last_maintenance = float("-inf")
        self._batch: tuple[list[tuple[Group, int, int]], asyncio.Future[None]] | None = None
        self.settle_delay = settle_delay
        self._flushers: set[asyncio.Task[None]] = set()

    def wake(self) -> None:
        """Something was queued: look now instead of at the next poll."""
        self._wake.set()

    # -- the loop

    async def run(
        self, stop: asyncio.Event, *, handing_over: Callable[[], bool] = lambda: False
    ) -> None:
        """Deliver until `stop` is set, then finish what is in flight.

        `handing_over()` true when `stop` comes: this sender lost its lease and another
        instance sends now. Only the messages already on their way to Telegram are finished
        and recorded; the rest go back to 'pending' at once, for the new sender, instead of
        going out from two instances at the same time (duplicates).
        """
        log.info("outbox sender %s started", self.worker)
        try:
            while not stop.is_set():
                try:
                    claimed = await self._claim_round()
                except Exception:
                    log.exception("outbox sender: claiming failed; retrying shortly")
                    claimed = 0
                # Claim again once half the window is free (or something urgent is queued):
                # a claim per message sent would cost a transaction per message.
                if claimed == 0 or len(self._inflight) > self.window // 2:
                    await self._idle(stop)
        finally:
            if handing_over():
                await self._hand_over()
            await self._drain()
            self.pacer.close()
            self.paid_pacer.close()
            log.info("outbox sender %s stopped", self.worker)

    async def deliver_due(self) -> DeliveryStats:
        """Deliver everything due now, then return (one pass, for tests and the CLI)."""
        while True:
            claimed = await self._claim_round()
            if claimed == 0 and not self._inflight:
                break
            while self._inflight and len(self._inflight) > self.window // 2:
                await asyncio.wait(self._inflight, return_when=asyncio.FIRST_COMPLETED)
            if claimed == 0 and self._inflight:
                await asyncio.wait(self._inflight, return_when=asyncio.FIRST_COMPLETED)
        return self.stats

    async def _idle(self, stop: asyncio.Event) -> None:
        waiters: set[asyncio.Future[Any]] = {
            asyncio.ensure_future(stop.wait()),
            asyncio.ensure_future(self._wake.wait()),
        }
        if len(self._inflight) > self.window // 2:
            self._room.clear()
            waiters.add(asyncio.ensure_future(self._room.wait()))
        try:
            await asyncio.wait(waiters, timeout=self.poll_seconds,
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
        self._wake.clear()

    def _done(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        self._groups.pop(task, None)
        self._committed.discard(task)
        if len(self._inflight) <= self.window // 2:
            self._room.set()

    async def _hand_over(self) -> None:
        """Stop what has not reached Telegram yet and release its claims (see `run`)."""
        waiting = [task for task in self._inflight if task not in self._committed]
        ids = [row_id for task in waiting for row_id in self._groups[task].ids]
        for task in waiting:
            task.cancel()
        if waiting:
            await asyncio.gather(*waiting, return_exceptions=True)
        if not ids:
            return
        try:
            await self._settle(ids, DeliveryStatus.PENDING, None)
        except Exception as exc:  # the database away: the new sender's take-over releases them
            warn_unless_outage(log, exc, "outbox: could not release %d claims on standing "
                               "down (%s)", len(ids), type(exc).__name__)
        log.info("outbox: lease lost; %d messages left to the new sender", len(waiting))

    async def _drain(self) -> None:
        if self._inflight:
            await asyncio.gather(*self._inflight, return_exceptions=True)

    async def maintain(self) -> None:
        """Release claims of workers that went away; drop what expired; record the drops."""
        now = self.deps.clock()
        # Short transactions, one per step: each takes its row locks briefly.
        async with transaction(self.deps.sessions) as session:
            # Heartbeat first: this worker's own claims are alive, however long they wait.
            await store.refresh_claims(session, worker=self.worker, now=now)
        async with transaction(self.deps.sessions) as session:
            released = await store.release_stale_claims(
                session, older_than=now - self.claim_timeout
            )
        async with transaction(self.deps.sessions) as session:
            closed = await store.cancel_reminders_of_closed_debts(session)
            closed += await store.cancel_for_inactive_chats(session)
        async with transaction(self.deps.sessions) as session:
            dropped = await store.drop_expired(session, now=now)
            if dropped:
                await audit_store.record(
                    session,
                    actor="sender",
                    action="outbox.dropped",
                    count=len(dropped),
                    details={"reason": "expired before delivery",
                             "ids": [row_id for row_id, _ in dropped[:100]]},
                )
        if released:
            log.warning("outbox: released %d stale claims", released)
        self.stats.released += released
        self.stats.dropped += len(dropped)
        self.stats.cancelled += closed
        self.gate.prune()

    async def _claim_round(self) -> int:
        if time.monotonic() - self._last_maintenance >= self.maintenance_seconds:
            self._last_maintenance = time.monotonic()
            await self.maintain()
        room = self.window - len(self._inflight)
        if room <= 0:
            return 0
        now = self.deps.clock()
        settings = self.deps.settings
        quiet_end = quiet_until(
            now, start=settings.quiet_hours_start, end=settings.quiet_hours_end, tz=settings.tz
        )
        async with transaction(self.deps.sessions) as session:
            rows = await store.claim(
                session, worker=self.worker, now=now, limit=room,
                quiet=quiet_end is not None, quiet_end=quiet_end,
            )
        if not rows:
            return 0
        exhausted = [row for row in rows if row.attempts > self.max_attempts]
        if exhausted:
            await self._settle([r.id for r in exhausted], DeliveryStatus.FAILED,
                               "too many attempts")
            self.stats.failed += len(exhausted)
            self._count(exhausted, "failed")
        fresh = [row for row in rows if row.attempts <= self.max_attempts]
        for group in compose(fresh, paid_broadcasts=settings.allow_paid_broadcast):
            self.gate.enter(group.chat_id)
            task = asyncio.create_task(self._deliver(group))
            self._inflight.add(task)
            self._groups[task] = group
            task.add_done_callback(self._done)
        return len(rows)

    # -- one message

    async def _deliver(self, group: Group) -> None:
        try:
            async with self.gate.lock(group.chat_id):
                await self._deliver_locked(group)
        except Exception:
            # Not a DeliveryError (a bug, the database away): the claim stays and is
            # released after the claim timeout, so the message is not lost.
            log.exception("outbox: delivering rows %s failed unexpectedly", group.ids)
        finally:
            self.gate.leave(group.chat_id)

    async def _deliver_locked(self, group: Group) -> None:
        attempts = group.attempts
        floods = 0
        pacer = self.paid_pacer if group.message.paid_broadcast else self.pacer
        while True:
            wait = self.gate.wait_time(group.chat_id)
            if wait > 0:
                await self._sleep(wait)
            await pacer.acquire(group.priority)
            task = asyncio.current_task()
            if task is not None:
                self._committed.add(task)  # from here on it is finished and recorded
            try:
                message_id = await self.send(group.message)
            except RetryAfter as exc:
                self.deps.counters.flood_wait()
                self.gate.sent(group.chat_id, extra=exc.seconds)
                pacer.pause(exc.seconds)
                floods += 1
                self.stats.flood_waits += 1
                if floods >= self.MAX_FLOOD_WAITS:
                    await self._settle(group.ids, DeliveryStatus.PENDING, str(exc),
                                       not_before=self.deps.clock()
                                       + timedelta(seconds=exc.seconds))
                    return
                continue
            except TransientError as exc:
                if exc.maybe_delivered:
                    await self._possible_duplicate(group)
                if attempts >= self.max_attempts:
                    log.warning("outbox: rows %s failed after %d attempts: %s",
                                group.ids, attempts, exc)
                    await self._settle(group.ids, DeliveryStatus.FAILED, str(exc),
                                       attempts=attempts)
                    self.stats.failed += len(group.rows)
                    self._count(group.rows, "failed")
                    return
                self.stats.retried += 1
                await self._sleep(self.backoff.delay(attempts))
                attempts += 1
                continue
            except ChatUnreachable as exc:
                await self._chat_unreachable(group, str(exc))
                return
            except MessageRejected as exc:
                log.warning("outbox: rows %s rejected by Telegram: %s", group.ids, exc)
                await self._settle(group.ids, DeliveryStatus.FAILED, str(exc), attempts=attempts)
                self.stats.failed += len(group.rows)
                self._count(group.rows, "failed")
                return
            self.gate.sent(group.chat_id)
            await self._sent(group, message_id, attempts)
            return

    async def _possible_duplicate(self, group: Group) -> None:
        self.stats.possible_duplicates += 1
        purpose = group.rows[0].purpose
        log.warning("outbox: rows %s timed out after reaching Telegram; sending again may "
                    "duplicate them", group.ids)
        await fleet.count(self.deps, fleet.POSSIBLE_DUPLICATE + purpose)

    async def take_over(self) -> int:
        """This sender became the fleet's active one: what a previous sender left claimed
        (it died, or lost its lease) goes back to pending at once, not after the claim
        timeout. Only the lease holder sends, so no live worker holds those claims; a
        message the previous sender had in flight may go out twice, and so it waits out the
        chat's interval first (the previous sender's per-chat pace died with it)."""
        wait = timedelta(seconds=self.deps.settings.send_rate_per_chat_seconds)
        async with transaction(self.deps.sessions) as session:
            released = await store.release_claims_of_others(
                session, worker=self.worker, not_before=self.deps.clock() + wait
            )
        if released:
            log.warning("outbox: took over %d claims of a previous sender", released)
        self.stats.released += released
        self.wake()
        return released

    async def _sent(self, group: Group, message_id: int, attempts: int) -> None:
        # Sent rows are marked in small batches (one UPDATE … executemany per few dozen
        # messages): per-message transactions would cap the rate on a busy database. A crash
        # before the batch commits leaves those rows 'sending', i.e. in flight: they may go
        # out again, which is the promised at-least-once.
        if self._batch is None:
            self._batch = ([], asyncio.get_running_loop().create_future())
            flusher = asyncio.create_task(self._flush_sent(self._batch))
            self._flushers.add(flusher)
            flusher.add_done_callback(self._flushers.discard)
        items, done = self._batch
        items.append((group, message_id, attempts))
        await asyncio.shield(done)

    async def _flush_sent(
        self, batch: tuple[list[tuple[Group, int, int]], asyncio.Future[None]]
    ) -> None:
        items, done = batch
        try:
            await asyncio.sleep(self.settle_delay)
            self._batch = None
            now = self.deps.clock()
            marks = [(row_id, message_id, attempts)
                     for group, message_id, attempts in items for row_id in group.ids]
            superseded = [row.id for group, _, _ in items for row in group.superseded]
            for attempt in range(1, 4):
                try:
                    async with transaction(self.deps.sessions) as session:
                        await store.mark_sent_many(session, marks, worker=self.worker, now=now)
                        if superseded:
                            await store.settle(session, superseded, worker=self.worker,
                                               status=DeliveryStatus.DROPPED,
                                               error="superseded by a later reminder")
                    break
                except DBAPIError as exc:  # deadlock victim, serialization failure, lost link
                    if attempt == 3:
                        raise
                    log.warning("outbox: marking %d rows sent failed (%s); again",
                                len(marks), type(exc.orig).__name__)
                    await asyncio.sleep(0.05 * attempt)
            self.stats.sent += len(marks)
            for group, _, _ in items:
                self._count(group.rows, "sent")
            self.stats.messages += len(items)
            self.stats.superseded += len(superseded)
            done.set_result(None)
        except asyncio.CancelledError:
            if self._batch is batch:
                self._batch = None
            done.cancel()  # the rows stay 'sending' and are released after the claim timeout
            raise
        except Exception as exc:
            if self._batch is batch:
                self._batch = None
            done.set_exception(exc)

    async def _chat_unreachable(self, group: Group, error: str) -> None:
        async with transaction(self.deps.sessions) as session:
            ids = group.ids + [r.id for r in group.superseded]
            await store.settle(session, ids, worker=self.worker,
                               status=DeliveryStatus.BLOCKED, error=error)
            await ChatRepository(session).set_active(group.chat_id, False)
            cancelled = await cancel_for_chat(session, group.chat_id)
        log.info("outbox: chat %s unreachable; marked inactive, %d pending cancelled",
                 group.chat_id, cancelled)
        self.stats.blocked += len(group.rows)
        self._count(group.rows, "blocked")
        self.stats.cancelled += cancelled

    def _count(self, rows: Sequence[ClaimedMessage], outcome: str) -> None:
        """Prometheus counters that only go up: counted as it happens, not from rows."""
        self.deps.counters.settled((row.purpose for row in rows), outcome)

    async def _settle(
        self,
        ids: list[int],
        status: DeliveryStatus,
        error: str | None,
        *,
        not_before: datetime | None = None,
        attempts: int | None = None,
    ) -> None:
        async with transaction(self.deps.sessions) as session:
            await store.settle(session, ids, worker=self.worker, status=status, error=error,
                               not_before=not_before, attempts=attempts)
