"""The outbox: one message per key, however often it is queued; when it may go out."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest
from sqlalchemy import select

from debtbot.domain.messages import InvalidMessage, OutboxPurpose, Priority
from debtbot.services import outbox
from debtbot.store.models import OutboxMessage
from debtbot.store.unit_of_work import Store

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
PAYLOAD = {"text": "Hello <b>there</b>", "buttons": [[{"text": "Pay", "url": "https://x.test/"}]]}


async def _rows(sessions):
    async with sessions() as session:
        return list((await session.execute(select(OutboxMessage).order_by(OutboxMessage.id))).scalars())


async def test_enqueue_twice_with_one_key_queues_one_message(sessions):
    for _ in range(2):
        async with Store(sessions).uow() as uow:
            first = await uow.outbox.enqueue(
                dedupe_key="notice:1:42", chat_id=42, purpose=OutboxPurpose.NOTICE,
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
    async with Store(sessions).uow() as uow:
        assert await uow.outbox.enqueue(
            dedupe_key="reply:1", chat_id=7, purpose=OutboxPurpose.REPLY,
            payload={"text": "hi"}, not_before=NOW,
        )
    [row] = await _rows(sessions)
    assert row.priority == Priority.REPLY


async def test_enqueue_refuses_an_empty_text_and_writes_nothing(sessions):
    with pytest.raises(InvalidMessage):
        async with Store(sessions).uow() as uow:
            await uow.outbox.enqueue(
                dedupe_key="x", chat_id=7, purpose=OutboxPurpose.NOTICE,
                payload={"text": "  "}, not_before=NOW,
            )
    assert await _rows(sessions) == []


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
