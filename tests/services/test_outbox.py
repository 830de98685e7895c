"""The outbox: one message per key, however often it is queued; cancelling what is pending."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from debtbot.domain.messages import OutboxPurpose, Priority
from debtbot.services import outbox
from debtbot.store.db import transaction
from debtbot.store.models import OutboxMessage

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
PAYLOAD = {"text": "Hello <b>there</b>", "buttons": [[{"text": "Pay", "url": "https://x.test/"}]]}


async def _rows(sessions):
    async with sessions() as session:
        return list((await session.execute(select(OutboxMessage).order_by(OutboxMessage.id))).scalars())


async def test_enqueue_twice_with_one_key_queues_one_message(sessions):
    for _ in range(2):
        async with transaction(sessions) as session:
            first = await outbox.enqueue(
                session, dedupe_key="notice:1:42", chat_id=42, purpose=OutboxPurpose.NOTICE,
                payload=PAYLOAD, not_before=NOW,
            )
    rows = await _rows(sessions)
    assert first is False
    assert len(rows) == 1
    assert rows[0].priority == Priority.NOTICE
    assert rows[0].status == "pending"
    assert rows[0].payload == {**PAYLOAD, "disable_notification": False}
    assert rows[0].not_before == NOW


async def test_enqueue_answers_true_for_a_new_key(sessions):
    async with transaction(sessions) as session:
        assert await outbox.enqueue(
            session, dedupe_key="reply:1", chat_id=7, purpose=OutboxPurpose.REPLY,
            payload={"text": "hi"}, not_before=NOW,
        )
    [row] = await _rows(sessions)
    assert row.priority == Priority.REPLY


async def test_enqueue_refuses_an_empty_text_and_writes_nothing(sessions):
    with pytest.raises(outbox.InvalidMessage):
        async with transaction(sessions) as session:
            await outbox.enqueue(
                session, dedupe_key="x", chat_id=7, purpose=OutboxPurpose.NOTICE,
                payload={"text": "  "}, not_before=NOW,
            )
    assert await _rows(sessions) == []


async def test_cancel_for_debt_cancels_only_its_pending_reminders(sessions):
    async with transaction(sessions) as session:
        for key, purpose, debt in [
            ("r1", OutboxPurpose.REMINDER, 1), ("r2", OutboxPurpose.REMINDER, 2),
            ("receipt1", OutboxPurpose.RECEIPT, 1),
        ]:
            await outbox.enqueue(
                session, dedupe_key=key, chat_id=7, purpose=purpose, payload=PAYLOAD,
                not_before=NOW, debt_id=debt,
            )
    async with transaction(sessions) as session:
        assert await outbox.cancel_for_debt(session, 1) == 1
    statuses = {row.dedupe_key: row.status for row in await _rows(sessions)}
    assert statuses == {"r1": "cancelled", "r2": "pending", "receipt1": "pending"}


async def test_cancel_for_chat_and_for_broadcast(sessions):
    async with transaction(sessions) as session:
        await outbox.enqueue(session, dedupe_key="a", chat_id=1, purpose=OutboxPurpose.NOTICE,
                             payload=PAYLOAD, not_before=NOW)
        await outbox.enqueue(session, dedupe_key="b", chat_id=2, purpose=OutboxPurpose.BROADCAST,
                             payload=PAYLOAD, not_before=NOW, broadcast_id=9)
        await outbox.enqueue(session, dedupe_key="c", chat_id=3, purpose=OutboxPurpose.BROADCAST,
                             payload=PAYLOAD, not_before=NOW, broadcast_id=9)
    async with transaction(sessions) as session:
        assert await outbox.cancel_for_chat(session, 1) == 1
        assert await outbox.cancel_for_broadcast(session, 9) == 2
        assert await outbox.cancel_for_broadcast(session, 9) == 0
    assert {row.status for row in await _rows(sessions)} == {"cancelled"}
