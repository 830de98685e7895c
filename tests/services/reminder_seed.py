"""Debts, chats and links for the reminder tests, inserted directly, with a settable clock.

Dates are chosen away from clock changes: an out-of-court fine served on 2 November 2026 has
its surcharge from 3 December (00:00 Nicosia = 2 December 22:00 UTC); the 7-day reminder
falls on 26 November, the 1-day reminder on 2 December; prosecution from 18 December.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from debtbot.services.deps import Deps
from debtbot.settings import Settings
from debtbot.store.models import AuditEntry, Chat, ChatLink, Company, DebtRow, OutboxMessage, Person

SERVED = date(2026, 11, 2)
# 26 November 2026, 10:00 in Nicosia: the day of the 7-day reminder before the surcharge.
SEVEN_DAYS_BEFORE = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
NINE_AM_26TH = datetime(2026, 11, 26, 7, 0, tzinfo=UTC)
SURCHARGE_FROM = datetime(2026, 12, 2, 22, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime = SEVEN_DAYS_BEFORE) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def make_deps(
    sessions: async_sessionmaker[AsyncSession], clock: Clock | None = None, **overrides: object
) -> Deps:
    settings = Settings(hash_key="test-hash-key", **overrides)  # type: ignore[arg-type]
    return Deps(settings=settings, sessions=sessions, clock=clock or Clock())


_counter = iter(range(1, 10**9))


async def add_citizen(
    sessions: async_sessionmaker[AsyncSession],
    *,
    chat_id: int,
    language: str = "en",
    discreet: bool = False,
    active: bool = True,
    reminders_enabled: bool = True,
    muted_kinds: list[str] | None = None,
    snoozed_until: datetime | None = None,
) -> int:
    """A person with a verified chat; returns the person's id."""
    async with sessions() as session, session.begin():
        person = Person(id_type="id_card", id_hash=f"hash-{next(_counter)}", name="Andreas")
        session.add(person)
        session.add(Chat(id=chat_id, language=language, discreet=discreet, active=active,
                         reminders_enabled=reminders_enabled, muted_kinds=muted_kinds or [],
                         snoozed_until=snoozed_until))
        await session.flush()
        session.add(ChatLink(chat_id=chat_id, person_id=person.id, verified_by="dob"))
        return person.id


async def add_company_chat(
    sessions: async_sessionmaker[AsyncSession], *, chat_id: int, language: str = "en"
) -> int:
    """A company whose representative's chat is linked to it; returns the company's id."""
    async with sessions() as session, session.begin():
        company = Company(reg_hash=f"reg-{next(_counter)}", name="Lemesos Trading Ltd")
        session.add(company)
        session.add(Chat(id=chat_id, language=language))
        await session.flush()
        session.add(ChatLink(chat_id=chat_id, company_id=company.id, verified_by="contact"))
        return company.id


async def add_debt(
    sessions: async_sessionmaker[AsyncSession],
    *,
    reference: str,
    person_id: int | None = None,
    company_id: int | None = None,
    kind: str = "out_of_court_fine",
    amount: str = "100.00",
    served_on: date | None = SERVED,
    due_on: date | None = None,
    status: str = "outstanding",
) -> int:
    async with sessions() as session, session.begin():
        row = DebtRow(
            source="test", reference=reference, kind=kind, authority="Cyprus Police",
            person_id=person_id, company_id=company_id, amount=Decimal(amount),
            served_on=served_on, due_on=due_on, status=status,
        )
        session.add(row)
        await session.flush()
        return row.id


async def outbox_rows(sessions: async_sessionmaker[AsyncSession]) -> list[OutboxMessage]:
    async with sessions() as session:
        query = select(OutboxMessage).order_by(OutboxMessage.id)
        return list((await session.execute(query)).scalars())


async def audit_actions(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[str, int]]:
    async with sessions() as session:
        query = select(AuditEntry.action, AuditEntry.count).order_by(AuditEntry.id)
        return [tuple(row) for row in await session.execute(query)]  # type: ignore[misc]
