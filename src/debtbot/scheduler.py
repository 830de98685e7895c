"""APScheduler jobs that call services; nothing else.

- The reminder planner, every `reminder_sweep_minutes` (coalesced, one at a time; a second
  instance on the same PostgreSQL database skips a sweep the other holds).
- The outbox sender, one long-running loop per process, restarted if it ever fails. With a
  `leadership` (several instances on PostgreSQL: services.fleet) it sends only while this
  instance holds the sender's lease, so the fleet has one active sender and one pace; a
  stand-by takes over, and releases what the previous one left claimed, when it gets the
  lease. (Rows are still claimed with FOR UPDATE SKIP LOCKED: a CLI pass may run alongside.)

`build_scheduler(deps, send)` returns an AsyncIOScheduler; `send` is the Telegram port
(`debtbot.telegram.sender.TelegramSender(application.bot)`, wired in app.py: the scheduler
and the telegram adapter are independent layers and never import each other).
`shutdown()` also stops the sender (it finishes the messages in flight; anything claimed and
unsent is released by the next sender after the claim timeout).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from debtbot.services import broadcasts, retention, verify_identity
from debtbot.services.deliver_outbox import OutboxSender, SendMessage
from debtbot.services.deps import Deps
from debtbot.services.fleet import Budget, Leadership, while_leading
from debtbot.services.plan_reminders import plan_reminders

log = logging.getLogger(__name__)

RESTART_DELAY = 5.0


class DebtbotScheduler(AsyncIOScheduler):
    """An AsyncIOScheduler that also stops the outbox sender loop when it shuts down."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stop_sending = asyncio.Event()
        self.sender_started = asyncio.Event()
        self.sender_stopped = asyncio.Event()
        self.sender: OutboxSender | None = None
        self.leadership: Leadership | None = None

    def shutdown(self, wait: bool = True) -> None:
        self.stop_sending.set()
        super().shutdown(wait=wait)

    async def wait_sender_stopped(self) -> None:
        """After shutdown(): until the messages in flight are sent and recorded."""
        if self.sender is not None and self.sender_started.is_set():
            await self.sender_stopped.wait()


async def run_sender(scheduler: DebtbotScheduler) -> None:
    sender, stop, stopped = scheduler.sender, scheduler.stop_sending, scheduler.sender_stopped
    assert sender is not None
    scheduler.sender_started.set()
    leadership = scheduler.leadership
    if leadership is not None:
        async def lead(term: asyncio.Event) -> None:
            await sender.take_over()
            await sender.run(term, handing_over=lambda: not stop.is_set())

        try:
            await while_leading(leadership, stop, lead, restart_delay=RESTART_DELAY)
        finally:
            stopped.set()
        return
    try:
        while not stop.is_set():
            try:
                await sender.run(stop)
            except Exception:
                log.exception("outbox sender stopped unexpectedly; restarting")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), RESTART_DELAY)
    finally:
        stopped.set()


def _logged(job: Callable[[Deps], Awaitable[object]]) -> Callable[[Deps], Awaitable[None]]:
    """A periodic job whose failure is logged and retried at its next run, not raised."""

    async def run(deps: Deps) -> None:
        try:
            await job(deps)
        except Exception:
            log.exception("scheduled job %s failed; it runs again at its next time", job.__name__)

    run.__name__ = job.__name__
    return run


def build_scheduler(
    deps: Deps,
    send: SendMessage,
    *,
    leadership: Leadership | None = None,
    budgets: tuple[Budget, Budget] | None = None,
) -> DebtbotScheduler:
    """The planner job and the sender loop (sending through `send`), not started yet.

    `leadership`: send only while holding the sender's lease (services.fleet); `budgets`: the
    process's (ordinary, paid) send budgets, shared with the replies."""
    settings = deps.settings
    scheduler = DebtbotScheduler(timezone=UTC)
    scheduler.add_job(
        _logged(plan_reminders),
        "interval",
        minutes=settings.reminder_sweep_minutes,
        args=[deps],
        id="plan_reminders",
        coalesce=True,
        max_instances=1,
        misfire_grace_time=None,
        next_run_time=datetime.now(UTC),
    )
    scheduler.add_job(
        _logged(broadcasts.run_broadcasts),
        "interval",
        seconds=5,
        args=[deps],
        id="broadcasts",
        coalesce=True,
        max_instances=1,
    )
    nightly = (
        ("retention", retention.retention_job, 30),
        ("verification_housekeeping", verify_identity.purge_stale, 45),
    )
    for job_id, job, minute in nightly:  # 03:xx Nicosia time, when nobody is waiting
        scheduler.add_job(
            _logged(job),
            "cron",
            hour=3,
            minute=minute,
            timezone=settings.tz,
            args=[deps],
            id=job_id,
            coalesce=True,
            max_instances=1,
        )
    budget, paid_budget = budgets or (None, None)
    sender = OutboxSender(deps, send, budget=budget, paid_budget=paid_budget)
    scheduler.sender = sender
    scheduler.leadership = leadership
    scheduler.add_job(
        run_sender,
        "date",
        run_date=datetime.now(UTC),
        args=[scheduler],
        id="deliver_outbox",
        max_instances=1,
        misfire_grace_time=None,
    )
    return scheduler
