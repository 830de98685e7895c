"""The one sender, end to end: outbox rows → python-telegram-bot → the local Bot API server.

Telegram is faked only at the HTTP boundary (debtbot.devtools.botapi); the real PTB client
sends. Pacing, retries and the chat's fate are asserted on what the server received.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from reminder_seed import Clock, add_citizen, add_debt, audit_actions, make_deps, outbox_rows
from sqlalchemy import select, update

from debtbot.devtools.botapi import FakeBotApi
from debtbot.domain.messages import OutboxPurpose
from debtbot.services.deliver_outbox import OutboxSender
from debtbot.services.plan_reminders import plan_reminders
from debtbot.store.db import transaction
from debtbot.store.models import Chat, DebtRow, OutboxMessage
from debtbot.store.unit_of_work import Store
from debtbot.telegram.sender import build_sender, sender_bot

NOON = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)  # 12:00 in Nicosia


@pytest.fixture
async def botapi() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi() as api:
        yield api


def _deps(sessions, botapi, clock=None, **settings):
    options = dict(
        telegram_token=botapi.token, telegram_api_url=botapi.url,
        send_backoff_initial_seconds=0.01, send_backoff_max_seconds=0.05,
    )
    options.update(settings)
    return make_deps(sessions, clock or Clock(NOON), **options)


async def _sender(deps, **options) -> OutboxSender:
    bot = sender_bot(deps.settings, timeout=options.pop("timeout", 5.0))
    await bot.initialize()
    sender = build_sender(deps, bot, **options)
    sender.backoff = type(sender.backoff)(initial=0.01, maximum=0.05, jitter=0.01)
    return sender


async def _queue(sessions, key, chat_id, *, purpose=OutboxPurpose.NOTICE, text=None,
                 not_before=NOON, **extra):
    async with Store(sessions).uow() as uow:
        return await uow.outbox.enqueue(
            dedupe_key=key, chat_id=chat_id, purpose=purpose,
            payload={"text": text or f"<b>Message</b> {key}",
                     "buttons": [[{"text": "Open", "url": "https://www.jccsmart.com/x"}]]},
            not_before=not_before, **extra,
        )


async def _status(sessions) -> dict[str, str]:
    return {row.dedupe_key: row.status for row in await outbox_rows(sessions)}


async def test_a_queued_message_reaches_the_chat_and_is_marked_sent(sessions, botapi):
    deps = _deps(sessions, botapi)
    await _queue(sessions, "n1", 42, text="<b>Hello</b> there")
    sender = await _sender(deps)

    stats = await sender.deliver_due()

    [message] = botapi.messages(42)
    assert message.text == "Hello there"
    assert message.button_texts == ["Open"]
    [row] = await outbox_rows(sessions)
    assert (row.status, row.telegram_message_id, row.attempts) == ("sent", message.message_id, 1)
    assert stats.sent == 1


async def test_nothing_goes_out_before_its_time(sessions, botapi):
    deps = _deps(sessions, botapi)
    await _queue(sessions, "later", 42, not_before=NOON + timedelta(minutes=1))
    sender = await _sender(deps)

    await sender.deliver_due()

    assert botapi.messages(42) == []
    assert await _status(sessions) == {"later": "pending"}


async def test_reminders_due_the_same_day_for_one_chat_go_out_as_one_message(sessions, botapi):
    clock = Clock(datetime(2026, 11, 26, 8, 0, tzinfo=UTC))
    deps = _deps(sessions, botapi, clock)
    person = await add_citizen(sessions, chat_id=42)
    await add_debt(sessions, reference="AB1", person_id=person)
    await add_debt(sessions, reference="AB2", person_id=person, amount="60.00")
    other = await add_citizen(sessions, chat_id=43)
    await add_debt(sessions, reference="CD3", person_id=other)
    await plan_reminders(deps)
    sender = await _sender(deps)

    await sender.deliver_due()

    [message] = botapi.messages(42)
    assert "AB1" in message.text and "AB2" in message.text
    assert message.button_texts == ["Pay €100.00", "Pay €60.00"]
    assert len(botapi.messages(43)) == 1
    rows = await outbox_rows(sessions)
    assert {row.status for row in rows} == {"sent"}
    assert len({row.telegram_message_id for row in rows if row.chat_id == 42}) == 1


async def test_a_paid_debt_gets_no_reminder_even_if_it_was_already_planned(sessions, botapi):
    clock = Clock(datetime(2026, 11, 26, 8, 0, tzinfo=UTC))
    deps = _deps(sessions, botapi, clock)
    person = await add_citizen(sessions, chat_id=42)
    debt = await add_debt(sessions, reference="AB1", person_id=person)
    await plan_reminders(deps)
    async with transaction(sessions) as session:  # paid behind the outbox's back
        await session.execute(update(DebtRow).where(DebtRow.id == debt).values(status="paid"))
    sender = await _sender(deps)

    await sender.deliver_due()

    assert botapi.messages(42) == []
    assert set((await _status(sessions)).values()) == {"cancelled"}


async def test_flood_control_429_is_honoured_and_the_message_still_arrives(sessions, botapi):
    botapi.enforce_limits(per_second=2, per_chat_per_second=1)
    deps = _deps(sessions, botapi, send_rate_per_second=100.0)
    for chat_id in (1, 2, 3):
        await _queue(sessions, f"n{chat_id}", chat_id)
    sender = await _sender(deps)

    started = time.monotonic()
    stats = await sender.deliver_due()

    assert botapi.counters["429"] >= 1 and stats.flood_waits >= 1
    assert time.monotonic() - started >= 0.9  # waited retry_after (1 s) before going again
    assert set((await _status(sessions)).values()) == {"sent"}
    assert all(len(botapi.messages(chat_id)) == 1 for chat_id in (1, 2, 3))


async def test_server_errors_are_retried_with_backoff(sessions, botapi):
    botapi.inject_server_error(count=2, status=502)
    deps = _deps(sessions, botapi)
    await _queue(sessions, "n1", 42)
    sender = await _sender(deps)

    stats = await sender.deliver_due()

    assert len(botapi.messages(42)) == 1
    [row] = await outbox_rows(sessions)
    assert (row.status, row.attempts) == ("sent", 3)
    assert stats.retried == 2


async def test_a_message_that_keeps_failing_is_marked_failed_after_the_allowed_attempts(
    sessions, botapi,
):
    botapi.inject_server_error(count=None, status=500)
    deps = _deps(sessions, botapi, send_max_attempts=3)
    await _queue(sessions, "n1", 42)
    sender = await _sender(deps)

    await sender.deliver_due()

    [row] = await outbox_rows(sessions)
    assert (row.status, row.attempts) == ("failed", 3)
    assert len([c for c in botapi.calls_to("sendMessage") if c.chat_id == 42]) == 3


async def test_a_timeout_is_retried(sessions, botapi):
    botapi.inject_stall(count=1, seconds=1.0)
    deps = _deps(sessions, botapi)
    await _queue(sessions, "n1", 42)
    sender = await _sender(deps, timeout=0.3)

    await sender.deliver_due()

    [row] = await outbox_rows(sessions)
    assert row.status == "sent" and row.attempts == 2
    assert 1 <= len(botapi.messages(42)) <= 2  # the stalled call may land too: at least once


@pytest.mark.parametrize("fault", ["blocked", "chat_not_found"])
async def test_a_chat_that_blocked_the_bot_is_marked_inactive_and_its_queue_cancelled(
    sessions, botapi, fault,
):
    getattr(botapi, f"inject_{fault}")(chat_id=42)
    deps = _deps(sessions, botapi)
    await add_citizen(sessions, chat_id=42)
    await _queue(sessions, "now", 42)
    await _queue(sessions, "tomorrow", 42, not_before=NOON + timedelta(days=1))
    await _queue(sessions, "someone-else", 43)
    sender = await _sender(deps)

    await sender.deliver_due()

    assert await _status(sessions) == {
        "now": "blocked", "tomorrow": "cancelled", "someone-else": "sent",
    }
    async with sessions() as session:
        assert (await session.get(Chat, 42)).active is False


async def test_quiet_hours_hold_reminders_until_nine_but_not_replies(sessions, botapi):
    late = datetime(2026, 11, 26, 20, 30, tzinfo=UTC)  # 22:30 in Nicosia
    clock = Clock(late)
    deps = _deps(sessions, botapi, clock)
    await _queue(sessions, "reply", 1, purpose=OutboxPurpose.REPLY, not_before=late)
    await _queue(sessions, "reminder", 2, purpose=OutboxPurpose.REMINDER, not_before=late,
                 expires_at=late + timedelta(days=3))
    # Its threshold is at midnight: waiting for 09:00 would pass it, so it goes now.
    await _queue(sessions, "urgent", 3, purpose=OutboxPurpose.REMINDER, not_before=late,
                 expires_at=datetime(2026, 11, 26, 22, 0, tzinfo=UTC))
    sender = await _sender(deps)

    await sender.deliver_due()
    at_night = await _status(sessions)
    clock.now = datetime(2026, 11, 27, 7, 0, tzinfo=UTC)  # 09:00 in Nicosia
    await sender.deliver_due()

    assert at_night == {"reply": "sent", "reminder": "pending", "urgent": "sent"}
    assert (await _status(sessions))["reminder"] == "sent"


async def test_a_reminder_that_expired_unsent_is_dropped_and_recorded(sessions, botapi):
    clock = Clock(NOON)
    deps = _deps(sessions, botapi, clock)
    await _queue(sessions, "old", 2, purpose=OutboxPurpose.REMINDER,
                 not_before=NOON - timedelta(days=2), expires_at=NOON - timedelta(hours=1))
    sender = await _sender(deps)

    await sender.deliver_due()

    assert await _status(sessions) == {"old": "dropped"}
    assert ("outbox.dropped", 1) in await audit_actions(sessions)
    assert botapi.messages(2) == []


async def test_a_claim_left_by_a_dead_worker_is_released_and_sent(sessions, botapi):
    deps = _deps(sessions, botapi)
    await _queue(sessions, "n1", 42)
    async with transaction(sessions) as session:
        await session.execute(
            update(OutboxMessage).values(status="sending", claimed_by="dead:1",
                                         claimed_at=NOON - timedelta(hours=1), attempts=1)
        )
    sender = await _sender(deps)

    stats = await sender.deliver_due()

    [row] = await outbox_rows(sessions)
    assert (row.status, row.attempts, stats.released) == ("sent", 2, 1)
    assert len(botapi.messages(42)) == 1


async def test_one_chat_gets_at_most_one_message_a_second(sessions, botapi):
    botapi.enforce_limits(per_second=30, per_chat_per_second=1 / 0.3)
    deps = _deps(sessions, botapi, send_rate_per_chat_seconds=0.3)
    for n in range(3):
        await _queue(sessions, f"n{n}", 42)
    sender = await _sender(deps)

    await sender.deliver_due()

    times = [call.at for call in botapi.calls_to("sendMessage")]
    assert len(times) == 3 and botapi.counters["429"] == 0
    assert all(b - a >= 0.29 for a, b in zip(times, times[1:], strict=False))


async def test_a_reply_overtakes_a_running_broadcast(sessions, botapi):
    deps = _deps(sessions, botapi, send_rate_per_second=50.0)
    for chat_id in range(100, 160):
        await _queue(sessions, f"b{chat_id}", chat_id, purpose=OutboxPurpose.BROADCAST,
                     broadcast_id=1)
    sender = await _sender(deps, poll_seconds=0.02)
    stop = asyncio.Event()
    running = asyncio.create_task(sender.run(stop))
    await botapi.wait_for(lambda: len(botapi.calls_to("sendMessage")) >= 5)
    await _queue(sessions, "reply", 7, purpose=OutboxPurpose.REPLY)
    sender.wake()
    await botapi.wait_for(lambda: len(botapi.calls_to("sendMessage")) >= 61, timeout=20)
    stop.set()
    await running

    order = [call.chat_id for call in botapi.calls_to("sendMessage")]
    assert order.index(7) < 5 + 40  # the reply did not wait for the 55 broadcasts left


async def test_paid_broadcast_mode_marks_broadcasts_only(sessions, botapi):
    deps = _deps(sessions, botapi, allow_paid_broadcast=True)
    await _queue(sessions, "b", 1, purpose=OutboxPurpose.BROADCAST, broadcast_id=1)
    await _queue(sessions, "n", 2)
    sender = await _sender(deps)

    await sender.deliver_due()

    paid = {call.chat_id: call.params.get("allow_paid_broadcast")
            for call in botapi.calls_to("sendMessage")}
    assert paid[1] in (True, "true") and paid[2] in (None, False, "false")


async def test_two_senders_on_one_database_never_send_the_same_message(sessions, botapi):
    deps = _deps(sessions, botapi, send_rate_per_second=200.0)
    for chat_id in range(1, 81):
        await _queue(sessions, f"n{chat_id}", chat_id)
    first, second = await _sender(deps), await _sender(deps)

    a, b = await asyncio.gather(first.deliver_due(), second.deliver_due())

    sent = [call.chat_id for call in botapi.calls_to("sendMessage")]
    assert sorted(sent) == list(range(1, 81))
    assert a.sent + b.sent == 80
    async with sessions() as session:
        workers = set((await session.execute(select(OutboxMessage.claimed_by))).scalars())
    assert len(workers) >= 1


async def test_nothing_is_sent_to_a_chat_that_blocked_the_bot(sessions, botapi):
    deps = _deps(sessions, botapi)
    await add_citizen(sessions, chat_id=42, active=False)
    await _queue(sessions, "n1", 42)
    sender = await _sender(deps)

    await sender.deliver_due()

    assert botapi.messages(42) == []
    assert await _status(sessions) == {"n1": "cancelled"}


async def test_message_counters_count_as_it_happens_and_never_go_down(sessions, botapi):
    """debtbot_messages_*_total come from what the sender settled, not from rows: the
    nightly purge of old rows leaves them where they were."""
    from debtbot.services.retention import purge_old_messages

    deps = _deps(sessions, botapi)
    await _queue(sessions, "n1", 42)
    await _queue(sessions, "n2", 43)
    await _queue(sessions, "r1", 44, purpose=OutboxPurpose.REMINDER)
    botapi.inject_blocked(44)
    sender = await _sender(deps)
    await sender.deliver_due()
    counted, _limited = deps.counters.snapshot()
    assert counted == {("notice", "sent"): 2, ("reminder", "blocked"): 1}

    result = await purge_old_messages(deps, now=NOON + timedelta(days=deps.settings.retention_days + 1))
    assert result.messages == 3 and await outbox_rows(sessions) == []
    assert deps.counters.snapshot()[0] == counted


async def test_a_sender_that_hands_over_finishes_only_what_reached_telegram(sessions, botapi):
    """The lease lost (another instance sends now): what is still waiting for its slot goes
    back to pending at once, for the new sender, instead of going out from both."""
    deps = _deps(sessions, botapi, send_rate_per_second=2.0)
    for chat_id in range(1, 11):
        await _queue(sessions, f"n{chat_id}", chat_id)
    old = await _sender(deps)
    stop = asyncio.Event()
    running = asyncio.create_task(old.run(stop, handing_over=lambda: True))
    await botapi.wait_for(lambda: botapi.calls_to("sendMessage"), timeout=10)
    stop.set()
    await asyncio.wait_for(running, 10)

    first = {call.chat_id for call in botapi.calls_to("sendMessage")}
    statuses = await _status(sessions)
    assert 1 <= len(first) < 10
    assert sorted(k for k, s in statuses.items() if s == "sent") == sorted(
        f"n{chat_id}" for chat_id in first)
    assert set(statuses.values()) == {"sent", "pending"}  # nothing left claimed

    await (await _sender(deps)).deliver_due()  # the new sender: the rest, each once
    sent = sorted(call.chat_id for call in botapi.calls_to("sendMessage"))
    assert sent == list(range(1, 11))
