"""Registry rows and a settable clock for the citizen service tests (rows are inserted
directly, hashed the way ingest hashes them)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from debtbot.domain.identifiers import identifier_hash, normalise_identifier
from debtbot.domain.keys import HashKey
from debtbot.services.deps import Deps
from debtbot.settings import Settings
from debtbot.store.models import Company, DebtRow
from debtbot.store.persons import person_row

HASH_KEY = "test-hash-key"
NOON = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # 12:00 in Nicosia


class Clock:
    def __init__(self, now: datetime = NOON) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def make_deps(
    sessions: async_sessionmaker[AsyncSession], database_url: str, clock: Clock | None = None,
    **overrides: object,
) -> Deps:
    settings = Settings(hash_key=HASH_KEY, database_url=database_url, **overrides)  # type: ignore[arg-type]
    return Deps(settings=settings, sessions=sessions, clock=clock or Clock())


def hashed(id_type: str, number: str) -> str:
    return identifier_hash(normalise_identifier(id_type, number), HASH_KEY)


async def add_person(
    sessions: async_sessionmaker[AsyncSession],
    *,
    id_type: str = "id_card",
    number: str = "1234567",
    name: str = "Andreas Georgiou",
    born: date | None = date(1980, 11, 23),
    phone: str | None = None,
) -> int:
    async with sessions() as session, session.begin():
        person = person_row(
            HashKey(HASH_KEY), normalise_identifier(id_type, number), name=name, born=born,
            phone=phone,
        )
        session.add(person)
        await session.flush()
        return person.id


async def add_company(
    sessions: async_sessionmaker[AsyncSession], *, number: str = "HE 123456",
    name: str = "Lemesos Trading Ltd",
) -> int:
    async with sessions() as session, session.begin():
        company = Company(reg_hash=hashed("company_reg", number), name=name)
        session.add(company)
        await session.flush()
        return company.id


async def add_debt(
    sessions: async_sessionmaker[AsyncSession],
    *,
    reference: str,
    person_id: int | None = None,
    company_id: int | None = None,
    kind: str = "out_of_court_fine",
    amount: str = "100.00",
    served_on: date | None = date(2026, 11, 10),
    due_on: date | None = None,
    status: str = "outstanding",
    authority: str = "Cyprus Police",
    **columns: object,
) -> int:
    async with sessions() as session, session.begin():
        row = DebtRow(
            source="test", reference=reference, kind=kind, authority=authority,
            person_id=person_id, company_id=company_id, amount=Decimal(amount),
            served_on=served_on, due_on=due_on, status=status, **columns,
        )
        session.add(row)
        await session.flush()
        return row.id
