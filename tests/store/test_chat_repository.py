"""ChatRepository on SQLite and PostgreSQL (the backend is DEBTBOT_TEST_DB's): the one-statement
/debts read gives what the plain reads give, touching a chat is safe from many tasks at
once, and a chat's first contact from two tasks makes one chat."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from debtbot.domain.debts import DebtKind, DebtStatus
from debtbot.services import chats
from debtbot.services.deps import Deps
from debtbot.settings import Settings
from debtbot.store.db import transaction
from debtbot.store.models import Chat, ChatLink, Company, DebtRow, Person
from debtbot.store.unit_of_work import Store

SEEN = datetime(2026, 11, 20, 8, 30, 15, 123456, tzinfo=UTC)
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


async def _chat_with_debts(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with transaction(sessions) as session:
        await session.execute(insert(Person), [
            {"id": 1, "id_type": "id_card", "id_hash": "h1", "name": "Ελένη Σάββα"},
            {"id": 3, "id_type": "id_card", "id_hash": "h3", "name": "Άλλος"},
        ])
        await session.execute(insert(Company), [{"id": 2, "reg_hash": "c2", "name": "Ακμή Λτδ"}])
        await session.execute(insert(Chat), [{"id": 10, "language": "el"}])
        await session.execute(
            update(Chat).where(Chat.id == 10).values(discreet=True, last_seen_at=SEEN)
        )
        await session.execute(insert(ChatLink), [
            {"chat_id": 10, "person_id": 1, "verified_by": "dob"},
            {"chat_id": 10, "person_id": 1, "company_id": 2, "verified_by": "token"},
        ])
        await session.execute(insert(DebtRow), [
            {"id": 101, "source": "police", "reference": "P-1", "kind": "out_of_court_fine",
             "authority": "Αστυνομία", "person_id": 1, "amount": Decimal("85.50"),
             "served_on": date(2026, 11, 1), "status": "outstanding", "points": 2,
             "post_clearance": False, "enforcement_suspended": False,
             "instalments_on_time": True,
             "served_at": datetime(2026, 11, 1, 7, 45, tzinfo=UTC)},
            {"id": 102, "source": "tax", "reference": "T-1", "kind": "tax", "authority": "Tax",
             "company_id": 2, "amount": Decimal("1500.05"), "due_on": date(2026, 12, 31),
             "served_on": date(2026, 11, 5),
             "status": "outstanding", "surcharge_rate": "0.1", "post_clearance": True,
             "enforcement_suspended": False, "instalments_on_time": False,
             "finding_notice_on": date(2026, 11, 2)},
            {"id": 103, "source": "tax", "reference": "T-PAID", "kind": "tax",
             "authority": "Tax", "company_id": 2, "amount": Decimal("10"), "status": "paid",
             "post_clearance": False, "enforcement_suspended": False,
             "instalments_on_time": False},
            {"id": 104, "source": "police", "reference": "P-OTHER",
             "kind": "out_of_court_fine", "authority": "Αστυνομία", "person_id": 3,
             "amount": Decimal("20"), "status": "outstanding", "post_clearance": False,
             "enforcement_suspended": False, "instalments_on_time": False},
        ])


async def test_the_debts_read_gives_what_the_plain_reads_give(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await _chat_with_debts(sessions)
    store = Store(sessions)

    record, found = await store.read(lambda uow: uow.chats.chat_and_debts(10))
    async with store.uow() as uow:  # the same read in a transaction, and the plain reads
        in_work = await uow.chats.chat_and_debts(10)
        plain = await uow.chats.record(10)
        identities = await uow.chats.identities(10)
        one_by_one = [await uow.chats.debt(debt_id) for debt_id in (101, 102)]

    assert (record, found) == in_work
    assert record == plain
    assert record is not None and record.identities == identities
    assert (record.language, record.discreet, record.active, record.last_seen_at) == (
        "el", True, True, SEEN,
    )
    assert (found.persons, found.companies) == ({1: "Ελένη Σάββα"}, {2: "Ακμή Λτδ"})
    assert found.debts == one_by_one  # open debts only, oldest service first, each once
    fine, tax = found.debts
    assert (fine.person_id, fine.company_id, tax.person_id, tax.company_id) == (1, None, None, 2)
    assert (fine.debt.kind, fine.debt.amount, fine.debt.points) == (
        DebtKind.OUT_OF_COURT_FINE, Decimal("85.50"), 2,
    )
    assert fine.debt.served_at == datetime(2026, 11, 1, 7, 45, tzinfo=UTC)
    assert fine.debt.instalments_on_time is True
    assert (tax.debt.amount, tax.debt.due_on, tax.debt.surcharge_rate) == (
        Decimal("1500.05"), date(2026, 12, 31), Decimal("0.1"),
    )
    assert (tax.debt.status, tax.debt.post_clearance) == (DebtStatus.OUTSTANDING, True)
    assert isinstance(fine.debt.amount, Decimal) and isinstance(tax.debt.due_on, date)


async def test_an_unknown_chat_reads_as_nothing(sessions: async_sessionmaker[AsyncSession]) -> None:
    store = Store(sessions)

    record, found = await store.read(lambda uow: uow.chats.chat_and_debts(999))

    assert record is None
    assert (found.persons, found.companies, found.debts) == ({}, {}, [])
    assert await store.read(lambda uow: uow.chats.record(999)) is None


async def test_a_chat_without_identities_has_no_debts_to_read(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await _chat_with_debts(sessions)
    store = Store(sessions)
    async with store.uow() as uow:
        await uow.chats.first_contact(11, language="tr", now=NOW)

    record, found = await store.read(lambda uow: uow.chats.chat_and_debts(11))

    assert record is not None and (record.language, record.identities) == ("tr", [])
    assert (found.persons, found.companies, found.debts) == ({}, {}, [])


async def test_marking_a_chat_seen_is_read_back_exactly(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await _chat_with_debts(sessions)
    store = Store(sessions)
    later = datetime(2026, 11, 23, 9, 15, 0, 654321, tzinfo=UTC)
    async with store.uow() as uow:
        await uow.chats.set_active(10, False)

    await store.write_once(lambda uow: uow.chats.mark_seen(10, now=later))
    await store.write_once(lambda uow: uow.chats.mark_seen(10, now=later))  # safe to repeat

    record = await store.read(lambda uow: uow.chats.record(10))
    assert record is not None and (record.active, record.last_seen_at) == (True, later)


def _deps(sessions: async_sessionmaker[AsyncSession], now: datetime) -> Deps:
    return Deps(settings=Settings(), sessions=sessions, clock=lambda: now)


async def _chat_rows(sessions: async_sessionmaker[AsyncSession], chat_id: int) -> int:
    async with sessions() as session:
        return int(await session.scalar(
            select(func.count()).select_from(Chat).where(Chat.id == chat_id)
        ) or 0)


async def test_first_contact_from_two_tasks_at_once_makes_one_chat(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    store = Store(sessions)

    async def first_contact(language: str) -> None:
        async with store.uow() as uow:
            await uow.chats.first_contact(20, language=language, now=NOW)

    await asyncio.gather(first_contact("el"), first_contact("tr"))

    assert await _chat_rows(sessions, 20) == 1
    record = await store.read(lambda uow: uow.chats.record(20))
    assert record is not None and record.language in ("el", "tr")
    assert (record.active, record.last_seen_at) == (True, NOW)


async def test_touching_a_new_chat_from_many_tasks_makes_one_chat_all_see_alike(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    deps = _deps(sessions, NOW)

    touched = await asyncio.gather(*(
        chats.touch_chat(deps, chat_id=21, language_code="el", with_debts=n % 2 == 0)
        for n in range(8)
    ))

    assert await _chat_rows(sessions, 21) == 1
    assert {(t.chat.chat_id, t.chat.language, t.chat.active) for t in touched} == {
        (21, "el", True)
    }
    assert all(t.debts is not None and not t.debts.verified for t in touched[::2])


async def test_touching_a_known_chat_from_many_tasks_marks_it_seen_once_over(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await _chat_with_debts(sessions)
    store = Store(sessions)
    async with store.uow() as uow:
        await uow.chats.set_active(10, False)  # as after a 403
    later = SEEN + timedelta(days=3)
    deps = _deps(sessions, later)

    touched = await asyncio.gather(*(
        chats.touch_chat(deps, chat_id=10, language_code="en", with_debts=n % 2 == 0)
        for n in range(8)
    ))

    # The chat keeps its own language, is active again and seen now, whatever the door.
    assert {(t.chat.language, t.chat.active, t.chat.discreet) for t in touched} == {
        ("el", True, True)
    }
    assert all(t.debts is not None and len(t.debts.lines) == 2 for t in touched[::2])
    record = await store.read(lambda uow: uow.chats.record(10))
    assert record is not None and (record.active, record.last_seen_at) == (True, later)


async def test_a_chat_seen_lately_is_not_written_again(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await _chat_with_debts(sessions)
    store = Store(sessions)
    deps = _deps(sessions, SEEN + timedelta(minutes=1))

    await chats.touch_chat(deps, chat_id=10, language_code="en", with_debts=True)

    record = await store.read(lambda uow: uow.chats.record(10))
    assert record is not None and record.last_seen_at == SEEN


async def test_each_identity_is_linked_once(sessions: async_sessionmaker[AsyncSession]) -> None:
    await _chat_with_debts(sessions)
    store = Store(sessions)
    async with store.uow() as uow:
        outcomes = [
            await uow.chats.link_person(10, person_id=1, verified_by="contact"),
            await uow.chats.link_company(10, company_id=2, person_id=3, verified_by="token"),
            await uow.chats.link_person(10, person_id=3, verified_by="dob"),
        ]
        held = (await uow.chats.holds(10, person_id=3), await uow.chats.holds(10, company_id=2),
                await uow.chats.holds(11, person_id=1))

    assert outcomes == [False, False, True]
    assert held == (True, True, False)
    identities = await store.read(lambda uow: uow.chats.identities(10))
    assert [(i.person_id, i.company_id, i.name, i.holder_type) for i in identities] == [
        (1, None, "Ελένη Σάββα", "person"), (None, 2, "Ακμή Λτδ", "company"),
        (3, None, "Άλλος", "person"),
    ]
    assert await store.read(lambda uow: uow.chats.identity_count(10)) == 3


async def test_forgetting_a_chat_keeps_the_chat_and_its_language(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await _chat_with_debts(sessions)
    store = Store(sessions)
    async with store.uow() as uow:
        await uow.chats.set_preferences(10, reminders=False, muted_kinds=["tax"],
                                        snoozed_until=NOW)
        removed = await uow.chats.forget(10)

    assert removed == 2
    record = await store.read(lambda uow: uow.chats.record(10))
    preferences = await store.read(lambda uow: uow.chats.preferences(10))
    assert record is not None and (record.language, record.identities) == ("el", [])
    assert preferences is not None
    assert (preferences.discreet, preferences.enabled, preferences.muted_kinds,
            preferences.snoozed_until, preferences.identities) == (False, True, (), None, 0)


async def test_debt_messages_are_taken_newest_first_once(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await _chat_with_debts(sessions)
    store = Store(sessions)
    for message_id in (5, 7, 6):
        await store.write_once(
            lambda uow, m=message_id: uow.chats.remember_debt_message(10, message_id=m, now=NOW)
        )

    async with store.uow() as uow:
        taken = await uow.chats.take_debt_messages(10, limit=2)
    async with store.uow() as uow:
        again = await uow.chats.take_debt_messages(10, limit=2)

    assert (taken, again) == ([7, 6], [])


async def test_a_chats_language_is_kept_when_it_is_ensured(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    store = Store(sessions)
    async with store.uow() as uow:
        first = await uow.chats.ensure(30, language="tr")
        second = await uow.chats.ensure(30, language="en")
        await uow.chats.set_language(30, "el")
        third = await uow.chats.language(30)

    assert (first, second, third) == ("tr", "tr", "el")
