"""Repositories on SQLite and PostgreSQL: chat links stay unique, the audit log newest first
(debts and their holders: test_debt_repository.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from debtbot.store import audit
from debtbot.store.chats import ChatRepository
from debtbot.store.db import transaction
from debtbot.store.debts import DebtBatch
from debtbot.store.models import ChatLink, Company, Person
from debtbot.store.unit_of_work import Store

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


async def _holders(sessions: async_sessionmaker[AsyncSession]) -> tuple[int, int, int]:
    people = {
        "h1": {"id_type": "id_card", "name": "Ελένη", "date_of_birth_hash": "dob-1",
               "phone_hash": "tel-1", "language": "el", "key_id": "k1"},
        "h2": {"id_type": "passport", "name": "Zeynep", "date_of_birth_hash": None,
               "phone_hash": None, "language": None, "key_id": "k1"},
    }
    async with Store(sessions).uow() as uow:
        await uow.debts.upsert(DebtBatch(
            persons=people, companies={"c1": {"name": "Ακμή", "language": None, "key_id": "k1"}},
            representatives=[], debts=[],
        ), now=NOW)
    async with transaction(sessions) as session:
        await ChatRepository(session).ensure(100, language="el")
        ids = {p.id_hash: p.id for p in await session.scalars(select(Person))}
        acme = await session.scalar(select(Company.id))
    assert acme is not None
    return ids["h1"], ids["h2"], acme


async def test_the_database_refuses_a_duplicate_person_link(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    eleni, _zeynep, _acme = await _holders(sessions)
    async with transaction(sessions) as session:
        session.add(ChatLink(chat_id=100, person_id=eleni, verified_by="dob"))

    with pytest.raises(IntegrityError):
        async with transaction(sessions) as session:
            session.add(ChatLink(chat_id=100, person_id=eleni, verified_by="dob"))


async def test_audit_entries_come_back_newest_first(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with transaction(sessions) as session:
        for minutes, action in ((0, "debts.import"), (5, "notice.send"), (9, "debts.import")):
            await audit.AuditRepository(session).record(actor="cli", action=action, count=minutes,
                               details={"rows": minutes}, at=NOW + timedelta(minutes=minutes))

    async with sessions() as session:
        imports = await audit.AuditRepository(session).entries(action="debts.import")

    assert [(e.count, e.details, e.at) for e in imports] == [
        (9, {"rows": 9}, NOW + timedelta(minutes=9)), (0, {"rows": 0}, NOW),
    ]
