"""Repositories on SQLite and PostgreSQL: chat links stay unique (tests/store/
test_chat_repository.py for the rest of the chats), persons keep what a
registry row leaves empty, debts come back in order, the audit log newest first."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from debtbot.domain.debts import DebtStatus
from debtbot.store import audit, debts, persons
from debtbot.store.bulk import Driver
from debtbot.store.chats import ChatRepository
from debtbot.store.db import transaction
from debtbot.store.models import ChatLink, Person

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


async def _holders(sessions: async_sessionmaker[AsyncSession]) -> tuple[int, int, int]:
    async with transaction(sessions) as session:
        people = await persons.sync_persons(session, {
            "h1": {"id_type": "id_card", "name": "Ελένη", "date_of_birth_hash": "dob-1",
                   "phone_hash": "tel-1", "language": "el", "key_id": "k1"},
            "h2": {"id_type": "passport", "name": "Zeynep", "date_of_birth_hash": None,
                   "phone_hash": None, "language": None, "key_id": "k1"},
        })
        companies = await persons.sync_companies(
            session, {"c1": {"name": "Ακμή", "language": None, "key_id": "k1"}}
        )
        await ChatRepository(session).ensure(100, language="el")
    return people["h1"], people["h2"], companies["c1"]


async def test_the_database_refuses_a_duplicate_person_link(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    eleni, _zeynep, _acme = await _holders(sessions)
    async with transaction(sessions) as session:
        session.add(ChatLink(chat_id=100, person_id=eleni, verified_by="dob"))

    with pytest.raises(IntegrityError):
        async with transaction(sessions) as session:
            session.add(ChatLink(chat_id=100, person_id=eleni, verified_by="dob"))


async def test_sync_persons_keeps_what_a_row_leaves_empty_and_skips_unchanged_rows(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await _holders(sessions)
    async with sessions() as session:
        stamp = (await persons.person_by_hash(session, "h1")).updated_at  # type: ignore[union-attr]

    async with transaction(sessions) as session:
        ids = await persons.sync_persons(session, {
            "h1": {"id_type": "id_card", "name": "Ελένη", "date_of_birth_hash": None,
                   "phone_hash": None, "language": None, "key_id": "k1"},
            "h2": {"id_type": "passport", "name": "Zeynep Kaya", "date_of_birth_hash": None,
                   "phone_hash": "tel-2", "language": "tr", "key_id": "k1"},
        })

    async with sessions() as session:
        found = {p.id_hash: p for p in await session.scalars(select(Person))}
    assert set(ids) == {"h1", "h2"}
    assert (found["h1"].phone_hash, found["h1"].date_of_birth_hash, found["h1"].updated_at) == (
        "tel-1", "dob-1", stamp
    )
    assert (found["h2"].name, found["h2"].phone_hash, found["h2"].language) == (
        "Zeynep Kaya", "tel-2", "tr"
    )


def _debt(reference: str, **values: object) -> dict[str, object]:
    return {"source": "police", "reference": reference, "kind": "out_of_court_fine",
            "authority": "Police", "amount": Decimal("100"), "served_on": date(2026, 11, 1),
            "due_on": None, "status": None, "points": None, "surcharge_rate": None,
            "post_clearance": None, "enforcement_suspended": None, "instalments_on_time": None,
            "finding_notice_on": None, "person_id": None, "company_id": None} | values


async def test_debts_of_holders_oldest_first_and_closing_them(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    eleni, zeynep, acme = await _holders(sessions)
    async with transaction(sessions) as session:
        changes = await debts.sync_debts(session, [
            _debt("B", person_id=eleni, served_on=date(2026, 11, 10)),
            _debt("A", person_id=eleni, served_on=date(2026, 10, 1)),
            _debt("N", person_id=eleni, served_on=None),
            _debt("Z", person_id=zeynep),
            _debt("C", company_id=acme, status="paid"),
        ], now=NOW)

    async with transaction(sessions) as session:
        open_refs = [d.reference for d in await debts.debts_of(session, person_ids=[eleni],
                                                                 company_ids=[acme])]
        all_refs = [d.reference for d in await debts.debts_of(
            session, company_ids=[acme], open_only=False)]
        closed = await debts.close_debts(session, [("police", "A"), ("police", "C")],
                                         status=DebtStatus.PAID, now=NOW + timedelta(hours=1))
        a = await debts.debt_by_reference(session, "police", "A")

    assert (changes.inserted, changes.updated) == (5, 0)
    assert open_refs == ["A", "B", "N"]
    assert all_refs == ["C"]
    assert a is not None and closed == [a.id]
    assert (a.status, a.status_changed_at) == ("paid", NOW + timedelta(hours=1))


async def test_audit_entries_come_back_newest_first(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with transaction(sessions) as session:
        for minutes, action in ((0, "debts.import"), (5, "notice.send"), (9, "debts.import")):
            await audit.record(session, actor="cli", action=action, count=minutes,
                               details={"rows": minutes}, at=NOW + timedelta(minutes=minutes))

    async with sessions() as session:
        imports = await audit.AuditRepository(session).entries(action="debts.import")

    assert [(e.count, e.details, e.at) for e in imports] == [
        (9, {"rows": 9}, NOW + timedelta(minutes=9)), (0, {"rows": 0}, NOW),
    ]


@pytest.mark.skipif(
    os.environ.get("DEBTBOT_TEST_DB", "sqlite").lower() != "postgres",
    reason="SQLite has one writer at a time: no one can take a key between lookup and write",
)
async def test_a_debt_another_writer_added_meanwhile_is_updated_not_failed(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    eleni, _, _ = await _holders(sessions)
    async with transaction(sessions) as session:  # the other writer, first to commit
        await debts.sync_debts(session, [_debt("TAKEN", person_id=eleni)], now=NOW)

    # This batch looked "TAKEN" up before that commit and found nothing: it writes it as new.
    columns = ["source", "reference", *debts.FIELDS, "status_changed_at"]
    stored = debts.stored_debts("postgresql", [
        _debt("TAKEN", person_id=eleni, amount=Decimal("250"), status="outstanding",
              post_clearance=False, enforcement_suspended=False, instalments_on_time=False),
        _debt("FRESH", person_id=eleni, amount=Decimal("75"), status="outstanding",
              post_clearance=False, enforcement_suspended=False, instalments_on_time=False),
    ])
    rows = [("police", reference, *values, None)
            for reference, values in zip(("TAKEN", "FRESH"), stored, strict=True)]
    async with transaction(sessions) as session:
        driver = await Driver.of(session)
        await driver.insert_rows(debts.DEBTS, columns, rows, conflict=debts.KEY_COLUMNS,
                                 update=columns[2:])
        await audit.record(session, actor="test", action="debts.import", count=2, details={},
                           at=NOW)  # the transaction is still usable

    async with sessions() as session:
        taken = await debts.debt_by_reference(session, "police", "TAKEN")
        fresh = await debts.debt_by_reference(session, "police", "FRESH")
        logged = await audit.AuditRepository(session).entries(action="debts.import")
    assert taken is not None and taken.amount == Decimal("250")
    assert fresh is not None and fresh.amount == Decimal("75")
    assert [entry.count for entry in logged] == [2]
