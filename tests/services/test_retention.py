"""Retention: delivery records past retention_days go, pending ones never; the audit log keeps
its own, longer period."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from staff_seed import NOW, make_deps, outbox_rows

from debtbot.services import audit, retention
from debtbot.store.models import AuditEntry, OutboxMessage


async def _message(sessions, key, *, status, age_days, sent=True):
    at = NOW - timedelta(days=age_days)
    async with sessions() as session, session.begin():
        session.add(
            OutboxMessage(
                dedupe_key=key, chat_id=1, purpose="notice", priority=30,
                payload={"text": "Your notice"}, status=status, not_before=at, created_at=at,
                sent_at=at if sent else None, attempts=1,
            )
        )


async def test_old_delivered_messages_are_purged_and_pending_ones_kept(sessions):
    deps = make_deps(sessions, retention_days=90, audit_retention_days=400)
    await _message(sessions, "old-sent", status="sent", age_days=91)
    await _message(sessions, "old-blocked", status="blocked", age_days=120, sent=False)
    await _message(sessions, "old-pending", status="pending", age_days=200, sent=False)
    await _message(sessions, "recent-sent", status="sent", age_days=89)
    async with sessions() as session, session.begin():
        session.add(AuditEntry(actor="cli", action="old", at=NOW - timedelta(days=401)))
        session.add(AuditEntry(actor="cli", action="kept", at=NOW - timedelta(days=200)))

    result = await retention.purge_old_messages(deps, now=NOW)

    assert (result.messages, result.audit_entries) == (2, 1)
    assert [r.dedupe_key for r in await outbox_rows(sessions)] == ["old-pending", "recent-sent"]
    async with sessions() as session:
        actions = set(await session.scalars(select(AuditEntry.action)))
    assert actions == {"kept", "retention.purge"}
    [entry] = await audit.list_entries(deps, action="retention.purge")
    assert entry.details == {"messages": 2, "audit_entries": 1, "debt_messages": 0}


async def test_the_job_uses_the_clock_and_default_settings(sessions):
    deps = make_deps(sessions)
    await _message(sessions, "a", status="sent", age_days=100)
    await _message(sessions, "b", status="sent", age_days=80)
    result = await retention.retention_job(deps)
    assert result.messages == 1


async def test_remembered_debt_messages_go_after_the_retention_period(sessions):
    from debtbot.store.models import DebtMessage

    deps = make_deps(sessions, retention_days=90, audit_retention_days=400)
    async with sessions() as session, session.begin():
        session.add(DebtMessage(chat_id=1, message_id=10, sent_at=NOW - timedelta(days=91)))
        session.add(DebtMessage(chat_id=1, message_id=11, sent_at=NOW - timedelta(days=2)))
    await retention.purge_old_messages(deps)
    async with sessions() as session:
        kept = (await session.scalars(select(DebtMessage.message_id))).all()
    assert kept == [11]
