"""Registry rows, chats, links and staff for the staff/notice/broadcast tests."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from debtbot.domain.identifiers import identifier_hash, normalise_identifier
from debtbot.services import staff
from debtbot.services.deps import Deps
from debtbot.services.staff import CLI_ACTOR, Actor, Role
from debtbot.settings import Settings
from debtbot.store.models import Chat, ChatLink, Company, DebtRow, OutboxMessage, Person

HASH_KEY = "test-hash-key"
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # 12:00 in Nicosia

OPERATOR = Actor("staff:101", Role.OPERATOR)
SUPERVISOR = Actor("staff:201", Role.SUPERVISOR)
SECOND_SUPERVISOR = Actor("staff:202", Role.SUPERVISOR)
ADMIN = Actor("staff:301", Role.ADMIN)


class Clock:
    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def make_deps(sessions: async_sessionmaker[AsyncSession], clock: Clock | None = None, **overrides: object) -> Deps:
    settings = Settings(hash_key=HASH_KEY, **overrides)  # type: ignore[arg-type]
    return Deps(settings=settings, sessions=sessions, clock=clock or Clock())


def hashed(id_type: str, number: str) -> str:
    return identifier_hash(normalise_identifier(id_type, number), HASH_KEY)


async def add_person(sessions, *, number: str = "1234567", name: str = "Andreas Georgiou") -> int:
    async with sessions() as session, session.begin():
        person = Person(id_type="id_card", id_hash=hashed("id_card", number), name=name)
        session.add(person)
        await session.flush()
        return person.id


async def add_company(sessions, *, number: str = "HE123", name: str = "Kafe Ltd") -> int:
    async with sessions() as session, session.begin():
        company = Company(reg_hash=hashed("company_reg", number), name=name)
        session.add(company)
        await session.flush()
        return company.id


async def add_chat(
    sessions, chat_id: int, *, language: str = "en", active: bool = True,
    person_id: int | None = None, company_id: int | None = None,
) -> int:
    async with sessions() as session, session.begin():
        if await session.get(Chat, chat_id) is None:
            session.add(Chat(id=chat_id, language=language, active=active))
            await session.flush()
        if person_id is not None or company_id is not None:
            session.add(
                ChatLink(chat_id=chat_id, person_id=person_id, company_id=company_id, verified_by="dob")
            )
    return chat_id


async def add_debt(
    sessions, *, person_id: int | None = None, company_id: int | None = None,
    kind: str = "out_of_court_fine", reference: str = "OCF-1", source: str = "police",
    amount: str = "100.00", served_on: date | None = date(2026, 11, 1), due_on: date | None = None,
    status: str = "outstanding",
) -> int:
    async with sessions() as session, session.begin():
        row = DebtRow(
            source=source, reference=reference, kind=kind, person_id=person_id,
            company_id=company_id, amount=Decimal(amount), served_on=served_on, due_on=due_on,
            status=status,
        )
        session.add(row)
        await session.flush()
        return row.id


async def add_staff_members(deps: Deps) -> None:
    for user_id, name, role in (
        (101, "Olga Operator", Role.OPERATOR),
        (201, "Sofia Supervisor", Role.SUPERVISOR),
        (202, "Stelios Supervisor", Role.SUPERVISOR),
        (301, "Anna Admin", Role.ADMIN),
    ):
        await staff.add_staff(deps, actor=CLI_ACTOR, telegram_user_id=user_id, name=name, role=role)


async def outbox_rows(sessions) -> list[OutboxMessage]:
    async with sessions() as session:
        return list(
            (await session.execute(select(OutboxMessage).order_by(OutboxMessage.chat_id, OutboxMessage.id))).scalars()
        )
