"""Reminders end to end: the scheduler's planner job plans, its sender loop delivers through
the real PTB client to the local Bot API server, in the chat's language."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

import pytest
from citizen_harness import Clock, add_debt, add_person, link_person, make_deps
from sqlalchemy import select

from debtbot.scheduler import build_scheduler
from debtbot.store.models import Chat, OutboxMessage
from debtbot.telegram.sender import TelegramSender, sender_bot

# 26 November 2026, 10:00 in Nicosia: seven days before the surcharge of a fine served on
# 2 November (day 30 is 2 December).
MORNING = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
CHAT = 6201


@pytest.fixture
def deps(botapi, sessions, database_url):
    return make_deps(botapi, sessions, database_url, Clock(MORNING))


async def _citizen(sessions, *, language: str, discreet: bool = False) -> int:
    person = await add_person(sessions)
    await link_person(sessions, CHAT, person)
    async with sessions() as session, session.begin():
        chat = await session.get(Chat, CHAT)
        chat.language, chat.discreet = language, discreet
    return await add_debt(sessions, reference="OC-2611", person_id=person,
                          served_on=date(2026, 11, 2), amount="200.00")


async def _deliver(deps, botapi):
    bot = sender_bot(deps.settings)
    async with bot:
        scheduler = build_scheduler(deps, TelegramSender(bot))
        scheduler.start()
        try:
            [message] = await botapi.wait_for_messages(CHAT, timeout=10)
        finally:
            scheduler.shutdown(wait=False)
            await scheduler.wait_sender_stopped()
    return message


async def test_the_scheduler_plans_and_delivers_a_greek_reminder(botapi, deps, sessions):
    await _citizen(sessions, language="el")

    message = await _deliver(deps, botapi)

    assert "Υπενθύμιση" in message.text and "Εξώδικο πρόστιμο OC-2611" in message.text
    assert "200,00" in message.text and "300,00" in message.text  # now, and from day 31
    assert "2 Δεκεμβρίου 2026" in message.text
    [label] = message.button_texts
    assert label.startswith("Πληρωμή") and "200,00" in label
    assert message.button(label)["url"].endswith("reference=OC-2611")
    async with sessions() as session:
        [status] = (await session.execute(select(OutboxMessage.status))).scalars()
    assert status == "sent"


async def test_a_turkish_reminder(botapi, deps, sessions):
    await _citizen(sessions, language="tr")

    message = await _deliver(deps, botapi)

    assert "Hatırlatma" in message.text and "OC-2611" in message.text
    assert "300,00" in message.text


async def test_a_discreet_chat_gets_a_reminder_without_kind_or_amount(botapi, deps, sessions):
    debt = await _citizen(sessions, language="en", discreet=True)

    message = await _deliver(deps, botapi)

    assert message.text.startswith("Reminder: a deadline is coming up on 2 December 2026.")
    assert "€" not in message.text and "fine" not in message.text.lower()
    assert message.button("Show details")["callback_data"] == f"debt:show:{debt}"


async def test_shutting_the_scheduler_down_at_once_does_not_hang(botapi, deps):
    bot = sender_bot(deps.settings)
    async with bot:
        scheduler = build_scheduler(deps, TelegramSender(bot))
        scheduler.start()
        scheduler.shutdown(wait=False)
        async with asyncio.timeout(5):
            await scheduler.wait_sender_stopped()
