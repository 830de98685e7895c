"""The outbox: one message per key, however often it is queued; cancelling what is pending."""

from __future__ import annotations

from datetime import UTC, datetime, time

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


def _local(day: int, hour: int, minute: int = 0) -> datetime:
    from zoneinfo import ZoneInfo

    return datetime(2026, 11, day, hour, minute, tzinfo=ZoneInfo("Europe/Nicosia")).astimezone(UTC)


QUIET = {"start": time(21, 0), "end": time(9, 0)}


@pytest.mark.parametrize(
    ("moment", "ends"),
    [
        (_local(26, 20, 59), None),
        (_local(26, 21, 0), _local(27, 9, 0)),
        (_local(27, 0, 0), _local(27, 9, 0)),
        (_local(27, 8, 59), _local(27, 9, 0)),
        (_local(27, 9, 0), None),
    ],
)
def test_quiet_hours_run_from_21_to_9_nicosia_time(moment, ends):
    from zoneinfo import ZoneInfo

    assert outbox.quiet_until(moment, tz=ZoneInfo("Europe/Nicosia"), **QUIET) == ends


def test_a_reminder_due_at_midnight_goes_out_at_nine_unless_that_passes_its_threshold():
    from zoneinfo import ZoneInfo

    tz = ZoneInfo("Europe/Nicosia")
    midnight = _local(27, 0, 0)
    assert outbox.delivery_time(midnight, deadline=_local(28, 0), tz=tz, **QUIET) == _local(27, 9)
    # The threshold comes before 09:00: waiting would pass it, so it goes at once.
    assert outbox.delivery_time(midnight, deadline=_local(27, 6), tz=tz, **QUIET) == midnight
