"""Retention: delivered message bodies and delivery records are kept for
settings.retention_days (default 90), the audit log for settings.audit_retention_days
(default 2555, about seven years). A scheduled job purges what is older.

API:
    @dataclass(frozen=True) PurgeResult(messages: int, audit_entries: int, updates: int = 0)
    async def purge_old_messages(deps, *, now: datetime | None = None) -> PurgeResult
        deletes outbox rows in a final state (sent, failed, blocked, cancelled, dropped) whose
        last event (sent, else claimed, else created) is older than retention_days, and audit
        entries older than audit_retention_days, the remembered debt messages (for /forget)
        older than retention_days, and the record of Telegram updates processed more than a
        day ago (services.fleet); records "retention.purge" with the counts.
        Pending and in-flight rows are never touched, whatever their age.
    async def retention_job(deps) -> PurgeResult     the scheduler's entry point (daily).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from debtbot.domain.messages import FINAL_STATUSES
from debtbot.services import audit, fleet
from debtbot.services.deps import Deps
from debtbot.store import broadcasts as store
from debtbot.store.db import transaction

BATCH = 10_000
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PurgeResult:
    messages: int
    audit_entries: int
    updates: int = 0  # processed update ids forgotten (services.fleet.first_time)


async def _purge(deps: Deps, delete: object) -> int:
    total = 0
    while True:
        async with transaction(deps.sessions) as session:
            removed = await delete(session)  # type: ignore[operator]
        total += removed
        if removed < BATCH:
            return total


async def purge_old_messages(deps: Deps, *, now: datetime | None = None) -> PurgeResult:
    """Delete delivery records and audit entries past their retention period."""
    now = now or deps.clock()
    messages_before = now - timedelta(days=deps.settings.retention_days)
    audit_before = now - timedelta(days=deps.settings.audit_retention_days)
    finals = sorted(status.value for status in FINAL_STATUSES)
    messages = await _purge(
        deps,
        lambda session: store.delete_final_outbox_before(
            session, final_statuses=finals, before=messages_before, limit=BATCH
        ),
    )
    audit_entries = await _purge(
        deps, lambda session: store.delete_audit_before(session, before=audit_before, limit=BATCH)
    )
    updates = await fleet.purge_updates(deps, now=now)
    # The /debts replies /forget would mark "no longer valid": kept as long as messages are.
    async with deps.uow() as uow:
        debt_messages = await uow.chats.purge_debt_messages(before=messages_before)
    details = {"messages": messages, "audit_entries": audit_entries,
               "debt_messages": debt_messages}
    if updates:
        details["updates"] = updates
    await audit.record_now(
        deps,
        actor="scheduler",
        action="retention.purge",
        count=messages,
        details=details,
    )
    log.info("retention purge: %d messages, %d audit entries, %d update ids", messages,
             audit_entries, updates)
    return PurgeResult(messages, audit_entries, updates)


async def retention_job(deps: Deps) -> PurgeResult:
    """The scheduler's daily entry point."""
    return await purge_old_messages(deps)
