"""OutboxRepository on SQLite and PostgreSQL (DEBTBOT_TEST_DB): a message queued once per
key, claims that two senders never share, stale claims released, delivered rows recorded
as sent whoever holds them now, the one cancellation, and the reminder planner's set-based
query agreeing with the domain's `reminders_due_for`."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from debtbot.domain.calendar import local_date
from debtbot.domain.debts import DebtKind
from debtbot.domain.messages import DeliveryStatus, InvalidMessage, OutboxPurpose
from debtbot.domain.milestones import milestone_kinds, milestones
from debtbot.domain.reminders import reminders_due_for, served_on_window
from debtbot.domain.rules import DEFAULT_RULEBOOK
from debtbot.store.mapping import debt_from_row
from debtbot.store.models import Chat, ChatLink, DebtRow, OutboxMessage, Person
from debtbot.store.outbox import HELD, Contention, contention, news_key, reminder_key
from debtbot.store.unit_of_work import Store

NOW = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)  # 10:00 in Nicosia
TEXT = {"text": "<b>Hello</b>"}


@pytest.fixture
def store(sessions: async_sessionmaker[AsyncSession]) -> Store:
    return Store(sessions)


def _postgres_only(store: Store) -> None:
    if store.dialect != "postgresql":
        pytest.skip("claimers at the same time: PostgreSQL's SKIP LOCKED (SQLite has one writer)")


async def _queue(store: Store, *rows: dict) -> None:
    async with store.uow() as uow:
        for row in rows:
            await uow.outbox.enqueue(
                payload=TEXT, not_before=row.pop("not_before", NOW - timedelta(minutes=1)),
                purpose=row.pop("purpose", OutboxPurpose.NOTICE), **row,
            )


async def _statuses(store: Store) -> dict[str, str]:
    async with store.sessions() as session:
        rows = await session.execute(select(OutboxMessage.dedupe_key, OutboxMessage.status))
        return dict(rows.all())  # type: ignore[arg-type]


async def _row(store: Store, key: str) -> OutboxMessage:
    async with store.sessions() as session:
        found = await session.scalar(select(OutboxMessage).where(OutboxMessage.dedupe_key == key))
        assert found is not None
        return found


async def _notices(store: Store, count: int) -> None:
    await _queue(store, *({"dedupe_key": f"n{i}", "chat_id": 100 + i} for i in range(count)))


# ----------------------------------------------------------------------------- queueing


async def test_a_key_queues_one_message_however_often_it_is_enqueued(store: Store) -> None:
    async with store.uow() as uow:
        first = await uow.outbox.enqueue(dedupe_key="k", chat_id=1, purpose=OutboxPurpose.NOTICE,
                                         payload=TEXT, not_before=NOW)
        again = await uow.outbox.enqueue(dedupe_key="k", chat_id=1, purpose=OutboxPurpose.NOTICE,
                                         payload={"text": "other"}, not_before=NOW)
        many = await uow.outbox.add_many([])
    assert (first, again, many) == (True, False, 0)
    assert (await _row(store, "k")).payload["text"] == TEXT["text"]


async def test_a_payload_telegram_would_refuse_is_not_queued(store: Store) -> None:
    with pytest.raises(InvalidMessage):
        async with store.uow() as uow:
            await uow.outbox.enqueue(dedupe_key="k", chat_id=1, purpose=OutboxPurpose.NOTICE,
                                     payload={"text": "x" * 4097}, not_before=NOW)
    assert await _statuses(store) == {}


# ----------------------------------------------------------------------------- claiming


async def test_two_claims_one_after_the_other_never_take_the_same_row(store: Store) -> None:
    await _notices(store, 10)
    async with store.uow() as uow:
        first = await uow.outbox.claim(worker="a", now=NOW, limit=4)
    async with store.uow() as uow:
        second = await uow.outbox.claim(worker="b", now=NOW, limit=10)
    assert len(first) == 4 and len(second) == 6
    assert not {r.id for r in first} & {r.id for r in second}
    assert set((await _statuses(store)).values()) == {"sending"}


async def test_two_claimers_at_the_same_time_skip_each_others_rows(store: Store) -> None:
    _postgres_only(store)
    await _notices(store, 10)
    async with store.uow() as first_uow:
        first = await first_uow.outbox.claim(worker="a", now=NOW, limit=4)
        # The first claim's transaction is still open, its rows locked: the second claimer
        # skips them at once instead of waiting.
        async with store.uow() as second_uow:
            second = await asyncio.wait_for(
                second_uow.outbox.claim(worker="b", now=NOW, limit=10), timeout=5
            )
    assert len(first) == 4 and len(second) == 6
    assert not {r.id for r in first} & {r.id for r in second}


async def test_many_claimers_racing_share_out_every_row_once(store: Store) -> None:
    _postgres_only(store)
    await _notices(store, 60)
    taken: list[int] = []

    async def claimer(worker: str) -> None:
        while True:
            async with store.uow() as uow:
                rows = await uow.outbox.claim(worker=worker, now=NOW, limit=3)
            if not rows:
                return
            taken.extend(row.id for row in rows)

    await asyncio.gather(*(claimer(f"w{n}") for n in range(4)))
    assert len(taken) == 60 == len(set(taken))


async def test_a_claim_takes_a_chats_other_due_reminders_along(store: Store) -> None:
    await _queue(store,
                 {"dedupe_key": "r1", "chat_id": 7, "purpose": OutboxPurpose.REMINDER},
                 {"dedupe_key": "r2", "chat_id": 7, "purpose": OutboxPurpose.REMINDER},
                 {"dedupe_key": "r3", "chat_id": 8, "purpose": OutboxPurpose.REMINDER},
                 {"dedupe_key": "later", "chat_id": 7, "purpose": OutboxPurpose.REMINDER,
                  "not_before": NOW + timedelta(hours=1)})
    async with store.uow() as uow:
        claimed = await uow.outbox.claim(worker="a", now=NOW, limit=1)
    assert sorted(row.dedupe_key for row in claimed) == ["r1", "r2"]


async def test_quiet_hours_let_only_replies_and_what_cannot_wait_go(store: Store) -> None:
    await _queue(store,
                 {"dedupe_key": "reply", "chat_id": 1, "purpose": OutboxPurpose.REPLY},
                 {"dedupe_key": "notice", "chat_id": 2},
                 {"dedupe_key": "urgent", "chat_id": 3, "purpose": OutboxPurpose.REMINDER,
                  "expires_at": NOW + timedelta(hours=2)})
    async with store.uow() as uow:
        claimed = await uow.outbox.claim(worker="a", now=NOW, limit=10, quiet=True,
                                         quiet_end=NOW + timedelta(hours=3))
    assert sorted(row.dedupe_key for row in claimed) == ["reply", "urgent"]


async def test_stale_claims_go_back_to_pending_and_live_ones_stay(store: Store) -> None:
    await _notices(store, 2)
    async with store.uow() as uow:
        then = NOW - timedelta(seconds=30)
        [dead] = await uow.outbox.claim(worker="dead", now=then, limit=1)
        [alive] = await uow.outbox.claim(worker="alive", now=then, limit=1)
    async with store.uow() as uow:
        assert await uow.outbox.refresh_claims(worker="alive", now=NOW) == 1
    async with store.uow() as uow:
        assert await uow.outbox.release_stale_claims(older_than=NOW - timedelta(seconds=10)) == 1
    released = await _row(store, dead.dedupe_key)
    assert (released.status, released.claimed_by) == ("pending", None)
    assert (await _row(store, alive.dedupe_key)).status == "sending"


async def test_a_new_sender_releases_the_claims_of_others_not_before_the_chats_pause(
    store: Store,
) -> None:
    await _notices(store, 2)
    async with store.uow() as uow:
        [old] = await uow.outbox.claim(worker="old", now=NOW, limit=1)
        [mine] = await uow.outbox.claim(worker="new", now=NOW, limit=1)
    async with store.uow() as uow:
        released = await uow.outbox.release_claims_of_others(
            worker="new", not_before=NOW + timedelta(seconds=1))
    assert released == 1
    row = await _row(store, old.dedupe_key)
    assert (row.status, row.not_before) == ("pending", NOW + timedelta(seconds=1))
    assert (await _row(store, mine.dedupe_key)).status == "sending"


async def test_delivered_rows_are_recorded_as_sent_even_once_released_to_pending(
    store: Store,
) -> None:
    await _notices(store, 3)
    async with store.uow() as uow:
        mine, released, theirs = await uow.outbox.claim(worker="a", now=NOW, limit=3)
    async with store.uow() as uow:
        # `released` went back to pending (a new sender took over); `theirs` was claimed by
        # another worker since.
        await uow.outbox.settle([released.id, theirs.id], worker="a",
                                status=DeliveryStatus.PENDING, error=None)
        [again] = await uow.outbox.claim(worker="b", now=NOW, limit=1, exclude_chats=[
            released.chat_id])
    assert again.id == theirs.id
    async with store.uow() as uow:
        await uow.outbox.mark_sent_many(
            [(theirs.id, 3, 1), (released.id, 2, 1), (mine.id, 1, 1)], worker="a", now=NOW)
    statuses = await _statuses(store)
    assert statuses[mine.dedupe_key] == "sent"
    assert statuses[released.dedupe_key] == "sent"  # delivered: not sent a second time
    assert statuses[theirs.dedupe_key] == "sending"  # the other worker's to settle
    assert (await _row(store, released.dedupe_key)).telegram_message_id == 2


async def test_settling_a_claim_retries_later_or_ends_it(store: Store) -> None:
    await _notices(store, 2)
    async with store.uow() as uow:
        retry, fail = await uow.outbox.claim(worker="a", now=NOW, limit=2)
        later = NOW + timedelta(seconds=30)
        await uow.outbox.settle([retry.id], worker="a", status=DeliveryStatus.PENDING,
                                error="flood control", not_before=later)
        await uow.outbox.settle([fail.id], worker="a", status=DeliveryStatus.FAILED,
                                error="rejected", attempts=5)
        assert await uow.outbox.settle([fail.id], worker="b", status=DeliveryStatus.SENT,
                                       error=None) == 0  # not b's claim
    retried, failed = await _row(store, retry.dedupe_key), await _row(store, fail.dedupe_key)
    assert (retried.status, retried.not_before, retried.claimed_by) == ("pending", later, None)
    assert (failed.status, failed.attempts, failed.last_error) == ("failed", 5, "rejected")
    assert await store.read(lambda uow: uow.outbox.next_due_at()) == later


async def test_what_expired_before_delivery_is_dropped(store: Store) -> None:
    await _queue(store,
                 {"dedupe_key": "gone", "chat_id": 1, "expires_at": NOW - timedelta(seconds=1)},
                 {"dedupe_key": "ahead", "chat_id": 1, "expires_at": NOW + timedelta(days=1)})
    async with store.uow() as uow:
        dropped = await uow.outbox.drop_expired(now=NOW)
    assert [purpose for _, purpose in dropped] == ["notice"]
    assert await _statuses(store) == {"gone": "dropped", "ahead": "pending"}
    assert await store.read(lambda uow: uow.outbox.counts_by_status()) == {
        "dropped": 1, "pending": 1}


async def test_a_driver_error_comes_out_as_contention_and_the_marks_roll_back(
    store: Store,
) -> None:
    await _notices(store, 1)
    async with store.uow() as uow:
        [row] = await uow.outbox.claim(worker="a", now=NOW, limit=1)
    with pytest.raises(Contention) as raised:
        async with contention(), store.uow() as uow:
            await uow.outbox.mark_sent_many([(row.id, 1, 1)], worker="a", now=NOW)
            raise OperationalError("COMMIT", {}, TimeoutError("connection lost"))
    assert raised.value.cause == "TimeoutError"
    assert (await _row(store, row.dedupe_key)).status == "sending"  # to be marked again


# ----------------------------------------------------------------------------- cancelling


async def _person_with_debts(
    sessions: async_sessionmaker[AsyncSession], *debts: tuple[str, str, str], chat_id: int = 7,
    served_on: date = date(2026, 11, 2), due_on: date | None = None,
) -> list[int]:
    """A person, a chat linked to them, and debts (reference, kind, status); their ids."""
    async with sessions() as session, session.begin():
        person = Person(id_type="id_card", id_hash=f"h{chat_id}", name="Andreas")
        session.add(person)
        session.add(Chat(id=chat_id, language="en"))
        await session.flush()
        session.add(ChatLink(chat_id=chat_id, person_id=person.id, verified_by="dob"))
        rows = [DebtRow(source="test", reference=reference, kind=kind, authority="Police",
                        person_id=person.id, amount=Decimal("100.00"), served_on=served_on,
                        due_on=due_on, status=status)
                for reference, kind, status in debts]
        session.add_all(rows)
        await session.flush()
        return [row.id for row in rows]


async def test_one_cancellation_takes_back_exactly_what_each_caller_names(
    store: Store, sessions: async_sessionmaker[AsyncSession]
) -> None:
    fine, tax, paid = await _person_with_debts(
        sessions, ("F1", "out_of_court_fine", "outstanding"), ("T1", "tax", "outstanding"),
        ("F2", "out_of_court_fine", "paid"))
    reminder = OutboxPurpose.REMINDER
    await _queue(
        store,
        {"dedupe_key": "fine-reminder", "chat_id": 7, "purpose": reminder, "debt_id": fine},
        {"dedupe_key": "fine-receipt", "chat_id": 7, "purpose": OutboxPurpose.RECEIPT,
         "debt_id": fine},
        {"dedupe_key": "tax-reminder", "chat_id": 7, "purpose": reminder, "debt_id": tax},
        {"dedupe_key": "paid-reminder", "chat_id": 8, "purpose": reminder, "debt_id": paid},
        {"dedupe_key": news_key("amount", fine, 7), "chat_id": 7, "purpose": reminder,
         "debt_id": fine},
        {"dedupe_key": reminder_key(tax, "passed.surcharge", 0, 7), "chat_id": 7,
         "purpose": reminder, "debt_id": tax},
        {"dedupe_key": "broadcast-a", "chat_id": 9, "purpose": OutboxPurpose.BROADCAST,
         "broadcast_id": 4},
        {"dedupe_key": "broadcast-b", "chat_id": 10, "purpose": OutboxPurpose.BROADCAST,
         "broadcast_id": 4},
        {"dedupe_key": "notice-11", "chat_id": 11},
    )
    async with store.uow() as uow:
        # A paid debt's reminders, found by its status (the sender's sweep).
        assert await uow.outbox.cancel(purpose=reminder, debt_closed=True,
                                       reason="debt closed") == 1
        # The chat turned news off: news and thresholds passed, not the plain reminders.
        assert await uow.outbox.cancel(chat_id=7, purpose=reminder, news="all", held=True,
                                       reason="news.off") == 2
        # The chat muted tax.
        assert await uow.outbox.cancel(chat_id=7, purpose=reminder, kind="tax",
                                       reason="reminders.mute_kind") == 1
        # A debt closed by an import: all but its receipt.
        assert await uow.outbox.cancel(debt_ids=[fine], except_purpose=OutboxPurpose.RECEIPT,
                                       reason="debt closed") == 1
        assert await uow.outbox.cancel(broadcast_id=4, reason="broadcast cancelled") == 2
        assert await uow.outbox.cancel(broadcast_id=4, reason="broadcast cancelled") == 0
    statuses = await _statuses(store)
    assert {key for key, status in statuses.items() if status == "pending"} == {
        "fine-receipt", "notice-11"}
    assert (await _row(store, "tax-reminder")).last_error == "reminders.mute_kind"


async def test_cancelling_leaves_what_went_out_and_reaches_held_news_only_when_asked(
    store: Store, sessions: async_sessionmaker[AsyncSession]
) -> None:
    [fine] = await _person_with_debts(sessions, ("F1", "out_of_court_fine", "outstanding"))
    await _notices(store, 1)
    async with store.uow() as uow:
        await uow.outbox.claim(worker="a", now=NOW, limit=1)
        await uow.outbox.add_many([{
            "dedupe_key": news_key("new", fine, 7), "chat_id": 7, "purpose": "reminder",
            "priority": 20, "debt_id": fine, "broadcast_id": None, "payload": TEXT,
            "status": HELD, "not_before": NOW, "expires_at": None, "attempts": 0,
        }])
    async with store.uow() as uow:
        assert await uow.outbox.cancel(chat_id=100, reason="chat inactive") == 0  # sending
        assert await uow.outbox.cancel(chat_id=7, reason="chat inactive") == 0  # held
        assert await uow.outbox.cancel(debt_keys=[("test", "F1")], news="new", held=True,
                                       reason="the file named the debt twice") == 1


async def test_a_chat_that_blocked_the_bot_hears_nothing_more(
    store: Store, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await _person_with_debts(sessions)
    await _queue(store, {"dedupe_key": "a", "chat_id": 7}, {"dedupe_key": "b", "chat_id": 8})
    async with store.uow() as uow:
        await uow.chats.set_active(7, False)
        assert await uow.outbox.cancel(chat_inactive=True, reason="chat inactive") == 1
    assert await _statuses(store) == {"a": "cancelled", "b": "pending"}


# ----------------------------------------------------------------------------- planning


async def _debts_every_few_days(sessions: async_sessionmaker[AsyncSession]) -> dict[int, object]:
    """Every kind, a clock date every third day over 400 days, all held by chat 7's person.
    Tax is served long before its due date: its clock must start at the due date."""
    today = local_date(NOW)
    specs = []
    for kind in DebtKind:
        for back in range(0, 400, 3):
            day = today - timedelta(days=back)
            if kind is DebtKind.TAX:
                specs.append((kind, day - timedelta(days=200), day))
            else:
                specs.append((kind, day, None))
    async with sessions() as session, session.begin():
        person = Person(id_type="id_card", id_hash="h-plan", name="Andreas")
        session.add(person)
        session.add(Chat(id=7, language="en"))
        await session.flush()
        session.add(ChatLink(chat_id=7, person_id=person.id, verified_by="dob"))
        rows = [DebtRow(source="test", reference=f"D{n}", kind=kind.value, authority="Police",
                        person_id=person.id, amount=Decimal("100.00"), served_on=served,
                        due_on=due, status="outstanding")
                for n, (kind, served, due) in enumerate(specs)]
        session.add_all(rows)
        await session.flush()
        found = await session.execute(select(DebtRow).where(DebtRow.person_id == person.id))
        return {row.id: debt_from_row(row) for row in found.scalars()}  # type: ignore[arg-type]


async def test_the_set_based_reminder_query_finds_what_the_domain_says_is_due(
    store: Store, sessions: async_sessionmaker[AsyncSession]
) -> None:
    debts = await _debts_every_few_days(sessions)
    today = local_date(NOW)
    checked = 0
    for kind in DebtKind:
        for milestone in milestone_kinds(kind, today, DEFAULT_RULEBOOK,
                                         lambda m: m.reminder):
            for lead in (timedelta(days=7), timedelta(days=1)):
                expected = {
                    debt_id for debt_id, debt in debts.items() if debt.kind == kind and any(
                        due.milestone.kind is milestone and local_date(due.remind_at) == today
                        for due in reminders_due_for(debt, milestones(debt), NOW, [lead]))
                }
                ranges = served_on_window(kind, milestone, lead, today, today)
                found = await store.read(lambda uow, k=kind, m=milestone, r=ranges, lead=lead:
                                         uow.outbox.reminder_candidates(
                                             kind=k.value, milestone=m.value,
                                             lead_days=lead.days, now=NOW, ranges=r))
                assert all(c.chat_id == 7 for c in found)
                # The query narrows by clock date; the domain then decides, as the planner does.
                kept = {c.debt_id for c in found if any(
                    due.milestone.kind is milestone and local_date(due.remind_at) == today
                    for due in reminders_due_for(c.debt, milestones(c.debt), NOW, [lead]))}
                assert kept == expected, (kind, milestone, lead)
                checked += len(expected)
    assert checked >= 5  # the debts do fall due: the comparison is not empty


async def test_the_reminder_query_skips_what_is_planned_and_who_may_not_hear(
    store: Store, sessions: async_sessionmaker[AsyncSession]
) -> None:
    today = local_date(NOW)
    # Served 2 November: the 7-day reminder before the 3 December surcharge falls today.
    [fine] = await _person_with_debts(sessions, ("F1", "out_of_court_fine", "outstanding"))

    async def found() -> list[int]:
        ranges = served_on_window(DebtKind.OUT_OF_COURT_FINE, "surcharge", timedelta(days=7),
                                  today, today)
        return [c.debt_id for c in await store.read(lambda uow: uow.outbox.reminder_candidates(
            kind="out_of_court_fine", milestone="surcharge", lead_days=7, now=NOW,
            ranges=ranges))]

    assert await found() == [fine]
    async with store.uow() as uow:
        await uow.chats.set_preferences(7, muted_kinds=["out_of_court_fine"])
    assert await found() == []
    async with store.uow() as uow:
        await uow.chats.set_preferences(7, muted_kinds=[])
        await uow.outbox.enqueue(dedupe_key=reminder_key(fine, "surcharge", 7, 7), chat_id=7,
                                 purpose=OutboxPurpose.REMINDER, payload=TEXT, not_before=NOW,
                                 debt_id=fine)
    assert await found() == []


async def test_one_planner_at_a_time_and_each_sweep_remembers_the_last(store: Store) -> None:
    async with store.uow() as uow:
        assert await uow.outbox.lock_planner()
        assert await uow.outbox.begin_sweep(now=NOW) is None
        await uow.outbox.end_sweep(now=NOW)
        if store.dialect == "postgresql":
            async with store.uow() as other:
                assert not await other.outbox.lock_planner()
    async with store.uow() as uow:
        assert await uow.outbox.begin_sweep(now=NOW + timedelta(minutes=5)) == NOW
        await uow.outbox.end_sweep(now=NOW + timedelta(minutes=5))
    async with store.uow() as uow:
        assert await uow.outbox.begin_sweep(now=NOW) == NOW + timedelta(minutes=5)
