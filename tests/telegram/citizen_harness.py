"""Helpers for the citizen chat's end-to-end tests: registry rows, a settable clock, and the
real application (build_application) running against the fake Bot API server.

Rows are inserted directly, hashed the way ingest hashes them; everything the citizen sees
goes through the real PTB client and the local Bot API server over HTTP.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from debtbot.devtools import ptb
from debtbot.devtools.botapi import BotMessage, FakeBotApi
from debtbot.domain.identifiers import identifier_hash, normalise_identifier
from debtbot.domain.keys import HashKey
from debtbot.http.webhook import webhook_server
from debtbot.services.deps import Deps
from debtbot.settings import Settings
from debtbot.store.models import ChatLink, Company, Conversation, DebtRow
from debtbot.store.persons import person_row
from debtbot.telegram.application import build_application

HASH_KEY = "test-hash-key"
NOON = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # 12:00 in Nicosia, a Monday
WEBHOOK_SECRET = "citizen-webhook-secret"

ID_CARD = "1234567"
BORN = "23/11/1980"
COMPANY_NUMBER = "HE 123456"
COMPANY_NOTICE = "TX-2026-0001"
OWN_PHONE = "35799555555"  # the tester's own Telegram number (Telegram omits the '+')


class Clock:
    def __init__(self, now: datetime = NOON) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def make_deps(
    botapi: FakeBotApi,
    sessions: async_sessionmaker[AsyncSession],
    database_url: str,
    clock: Clock,
) -> Deps:
    settings = Settings(
        hash_key=HASH_KEY,
        database_url=database_url,
        telegram_token=botapi.token,
        telegram_api_url=botapi.url,
    )
    return Deps(settings=settings, sessions=sessions, clock=clock)


@asynccontextmanager
async def running(deps: Deps, botapi: FakeBotApi, *, mode: str = "polling") -> AsyncIterator[Any]:
    """The real application, polling the fake server or receiving its webhook deliveries."""
    application = build_application(deps)
    if mode == "polling":
        async with ptb.polling(application, poll_timeout=1):
            yield application
        return
    async with (
        ptb.started(application),
        webhook_server(application, secret=WEBHOOK_SECRET) as url,
    ):
        await application.bot.set_webhook(url, secret_token=WEBHOOK_SECRET)
        try:
            yield application
        finally:
            await application.bot.delete_webhook()


def hashed(id_type: str, number: str, key: str = HASH_KEY) -> str:
    return identifier_hash(normalise_identifier(id_type, number), key)


async def add_person(
    sessions: async_sessionmaker[AsyncSession],
    *,
    number: str = ID_CARD,
    id_type: str = "id_card",
    name: str = "Andreas Georgiou",
    born: date | None = date(1980, 11, 23),
    phone: str | None = None,
    key: str = HASH_KEY,
) -> int:
    async with sessions() as session, session.begin():
        person = person_row(
            HashKey(key), normalise_identifier(id_type, number), name=name, born=born,
            phone=phone,
        )
        session.add(person)
        await session.flush()
        return person.id


async def add_company(
    sessions: async_sessionmaker[AsyncSession],
    *,
    number: str = COMPANY_NUMBER,
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
    authority: str = "Cyprus Police",
) -> int:
    async with sessions() as session, session.begin():
        row = DebtRow(
            source="test",
            reference=reference,
            kind=kind,
            authority=authority,
            person_id=person_id,
            company_id=company_id,
            amount=Decimal(amount),
            served_on=served_on,
            due_on=due_on,
            status="outstanding",
        )
        session.add(row)
        await session.flush()
        return row.id


async def link_person(
    sessions: async_sessionmaker[AsyncSession], chat_id: int, person_id: int
) -> None:
    """A chat already verified (the verification tests go through the dialogue itself)."""
    from debtbot.store.models import Chat

    async with sessions() as session, session.begin():
        if await session.get(Chat, chat_id) is None:
            session.add(Chat(id=chat_id, language="en"))
            await session.flush()
        session.add(ChatLink(chat_id=chat_id, person_id=person_id, verified_by="dob"))


async def dialogue_step(sessions: async_sessionmaker[AsyncSession], chat_id: int) -> str | None:
    async with sessions() as session:
        row = await session.get(Conversation, chat_id)
        return row.step if row else None


async def link_count(sessions: async_sessionmaker[AsyncSession], chat_id: int) -> int:
    async with sessions() as session:
        rows = await session.scalars(select(ChatLink).where(ChatLink.chat_id == chat_id))
        return len(rows.all())


async def say(
    botapi: FakeBotApi, chat_id: int, text: str, count: int = 1, **user: Any
) -> list[BotMessage]:
    await botapi.user_sends(chat_id, text, **user)
    return await botapi.wait_for_messages(chat_id, count)


async def press(botapi: FakeBotApi, chat_id: int, label: str, count: int = 1) -> list[BotMessage]:
    await botapi.user_presses_button(chat_id, label)
    return await botapi.wait_for_messages(chat_id, count)


async def verify_by_dob(
    botapi: FakeBotApi, chat_id: int, *, number: str = ID_CARD, born: str = BORN,
    phone: str = OWN_PHONE,
) -> BotMessage:
    """The whole dialogue for a person without a phone on file, in English: number, date of
    birth, then the own contact everyone shares."""
    await say(botapi, chat_id, "/start")
    await press(botapi, chat_id, "Myself")
    await press(botapi, chat_id, "Cypriot identity card")
    await say(botapi, chat_id, number)
    [ask_contact] = await say(botapi, chat_id, born)
    if ask_contact.reply_keyboard is None:  # refused before the contact (a lock)
        return ask_contact
    return await share_contact(botapi, chat_id, phone)


async def share_contact(botapi: FakeBotApi, chat_id: int, phone: str = OWN_PHONE) -> BotMessage:
    """The user presses Telegram's "share my phone number" button."""
    await botapi.user_shares_contact(chat_id, phone)
    [reply] = await botapi.wait_for_messages(chat_id)
    return reply
