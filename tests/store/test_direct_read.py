"""The /debts read straight through the driver gives exactly the rows, values and types that
SQLAlchemy gives for the same statement (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from functools import partial

from sqlalchemy import insert, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from debtbot.store import citizens
from debtbot.store.db import transaction, write_once
from debtbot.store.direct import fetch_rows
from debtbot.store.models import Chat, ChatLink, Company, DebtRow, Person

SEEN = datetime(2026, 11, 20, 8, 30, 15, 123456, tzinfo=UTC)


async def _chat_with_debts(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with transaction(sessions) as session:
        await session.execute(insert(Person), [
            {"id": 1, "id_type": "id_card", "id_hash": "h1", "name": "Ελένη Σάββα",
             "date_of_birth": date(1980, 5, 1)},
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
            {"source": "police", "reference": "P-1", "kind": "out_of_court_fine",
             "authority": "Αστυνομία", "person_id": 1, "amount": Decimal("85.50"),
             "served_on": date(2026, 11, 1), "status": "outstanding", "points": 2,
             "post_clearance": False, "enforcement_suspended": False,
             "instalments_on_time": True},
            {"source": "tax", "reference": "T-1", "kind": "tax", "authority": "Tax",
             "company_id": 2, "amount": Decimal("1500.05"), "due_on": date(2026, 12, 31),
             "status": "outstanding", "surcharge_rate": "0.1", "post_clearance": True,
             "enforcement_suspended": False, "instalments_on_time": False,
             "finding_notice_on": date(2026, 11, 2)},
            {"source": "tax", "reference": "T-PAID", "kind": "tax", "authority": "Tax",
             "company_id": 2, "amount": Decimal("10"), "status": "paid",
             "post_clearance": False, "enforcement_suspended": False,
             "instalments_on_time": False},
        ])


async def test_the_direct_read_matches_sqlalchemy_row_for_row(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await _chat_with_debts(sessions)

    async with engine.connect() as connection:
        direct = await fetch_rows(connection, citizens.CHAT_AND_DEBTS, {"chat_id": 10})
        again = await fetch_rows(connection, citizens.CHAT_AND_DEBTS, {"chat_id": 10})
        through = list(await connection.execute(citizens.CHAT_AND_DEBTS, {"chat_id": 10}))
        record, debts = await citizens.chat_and_debts(connection, 10)

    def typed(rows: list) -> list:  # type: ignore[type-arg]
        return sorted(
            (tuple((type(value).__name__, value) for value in row) for row in rows), key=repr
        )

    assert typed(direct) == typed(through) == typed(again)
    assert len(direct) == 5  # two open debts, two links, the chat
    amounts = {row.reference: row.amount for row in direct if row.id is not None}
    assert amounts == {"P-1": Decimal("85.50"), "T-1": Decimal("1500.05")}
    assert record is not None
    assert (record.language, record.discreet, record.last_seen_at) == ("el", True, SEEN)
    assert (debts.persons, debts.companies) == ({1: "Ελένη Σάββα"}, {2: "Ακμή Λτδ"})
    assert [row.reference for row in debts.rows] == ["P-1", "T-1"]


async def test_an_unknown_chat_reads_as_nothing(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        record, debts = await citizens.chat_and_debts(connection, 999)

    assert record is None
    assert (debts.persons, debts.companies, debts.rows) == ({}, {}, [])


async def test_marking_a_chat_seen_writes_what_sqlalchemy_reads_back(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await _chat_with_debts(sessions)
    later = datetime(2026, 11, 23, 9, 15, 0, 654321, tzinfo=UTC)
    async with sessions() as session:
        await session.execute(update(Chat).where(Chat.id == 10).values(active=False))
        await session.commit()

    await write_once(sessions, partial(citizens.mark_seen, chat_id=10, now=later))

    async with sessions() as session:
        record = await citizens.chat_record(session, 10)
    assert record is not None
    assert (record.active, record.last_seen_at) == (True, later)
