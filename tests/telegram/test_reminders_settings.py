"""/reminders and my_chat_member, end to end through the real application and PTB client."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

import pytest
from citizen_harness import Clock, add_debt, add_person, link_person, make_deps, press, running, say
from sqlalchemy import select

from debtbot.domain.messages import OutboxPurpose
from debtbot.store.models import Chat, OutboxMessage
from debtbot.store.unit_of_work import Store

CHAT = 6101
NOON = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> Clock:
    return Clock(NOON)


@pytest.fixture
def deps(botapi, sessions, database_url, clock):
    return make_deps(botapi, sessions, database_url, clock)


@pytest.fixture
async def debts(sessions) -> dict[str, int]:
    person = await add_person(sessions)
    await link_person(sessions, CHAT, person)
    return {
        "fine": await add_debt(sessions, reference="OC-1", person_id=person,
                               served_on=date(2026, 11, 1)),
        "tax": await add_debt(sessions, reference="TX-1", person_id=person, kind="tax",
                              served_on=None, due_on=date(2026, 12, 31)),
    }


async def _queue_reminder(sessions, key: str, debt_id: int, chat_id: int = CHAT) -> None:
    async with Store(sessions).uow() as uow:
        await uow.outbox.enqueue(
            dedupe_key=key, chat_id=chat_id, purpose=OutboxPurpose.REMINDER,
            payload={"text": "reminder"}, not_before=NOON, debt_id=debt_id,
        )


async def _statuses(sessions) -> dict[str, str]:
    async with sessions() as session:
        rows = await session.execute(select(OutboxMessage.dedupe_key, OutboxMessage.status))
        return dict(rows.all())


async def _chat(sessions) -> Chat:
    async with sessions() as session:
        chat = await session.get(Chat, CHAT)
        assert chat is not None
        return chat


async def test_an_unverified_chat_is_told_reminders_start_after_verification(botapi, deps):
    async with running(deps, botapi):
        [reply] = await say(botapi, 6199, "/reminders")
    assert "once you have confirmed who you are" in reply.text
    assert reply.buttons == []


async def test_reminders_shows_each_kind_with_a_switch(botapi, deps, debts):
    async with running(deps, botapi):
        [reply] = await say(botapi, CHAT, "/reminders")
    assert "Reminders are on." in reply.text
    assert "7 days before, 1 day before" in reply.text
    assert "between 09:00 and 21:00" in reply.text
    assert reply.button_texts == [
        "✅ Out-of-court fine", "✅ Fine warrant", "✅ Administrative fine", "✅ Tax debt",
        "✅ Customs debt", "Pause for a week", "Turn all reminders off", "Turn news off",
    ]
    assert "News is on." in reply.text and "a new debt is recorded in your name" in reply.text


async def test_muting_one_kind_cancels_its_queued_reminders_only(botapi, deps, sessions, debts):
    await _queue_reminder(sessions, "fine", debts["fine"])
    await _queue_reminder(sessions, "tax", debts["tax"])
    async with running(deps, botapi):
        await say(botapi, CHAT, "/reminders")
        [edited] = await press(botapi, CHAT, "✅ Out-of-court fine")
        assert "🔕 Out-of-court fine" in edited.button_texts
        [back] = await press(botapi, CHAT, "🔕 Out-of-court fine")
    assert "✅ Out-of-court fine" in back.button_texts
    assert await _statuses(sessions) == {"fine": "cancelled", "tax": "pending"}
    assert (await _chat(sessions)).muted_kinds == []


async def test_pausing_for_a_week_and_resuming(botapi, deps, sessions, debts):
    await _queue_reminder(sessions, "fine", debts["fine"])
    async with running(deps, botapi):
        await say(botapi, CHAT, "/reminders")
        [paused] = await press(botapi, CHAT, "Pause for a week")
        assert "paused until 30 November 2026, 12:00" in paused.text
        assert "Resume reminders" in paused.button_texts
        [resumed] = await press(botapi, CHAT, "Resume reminders")
    assert "Reminders are on." in resumed.text
    assert await _statuses(sessions) == {"fine": "cancelled"}
    assert (await _chat(sessions)).snoozed_until is None


async def test_turning_all_reminders_off_and_on(botapi, deps, sessions, debts):
    await _queue_reminder(sessions, "fine", debts["fine"])
    async with running(deps, botapi):
        await say(botapi, CHAT, "/reminders")
        [off] = await press(botapi, CHAT, "Turn all reminders off")
        assert "Reminders are off." in off.text
        assert off.button_texts == ["Turn reminders on", "Turn news off"]
        assert (await _chat(sessions)).reminders_enabled is False
        [on] = await press(botapi, CHAT, "Turn reminders on")
    assert "Reminders are on." in on.text
    assert (await _chat(sessions)).reminders_enabled is True
    assert await _statuses(sessions) == {"fine": "cancelled"}


async def test_news_can_be_turned_off_and_on_and_off_cancels_the_queued_news(
    botapi, deps, sessions, debts
):
    await _queue_reminder(sessions, f"news:new:{debts['fine']}:{CHAT}", debts["fine"])
    await _queue_reminder(sessions, f"reminder:{debts['fine']}:passed.surcharge:0:{CHAT}",
                          debts["fine"])
    await _queue_reminder(sessions, "fine", debts["fine"])
    async with running(deps, botapi):
        await say(botapi, CHAT, "/reminders")
        [off] = await press(botapi, CHAT, "Turn news off")
        assert "News is off." in off.text and "Reminders are on." in off.text
        assert (await _chat(sessions)).news_enabled is False
        [on] = await press(botapi, CHAT, "Turn news on")
    assert "News is on." in on.text
    assert (await _chat(sessions)).news_enabled is True
    assert await _statuses(sessions) == {
        f"news:new:{debts['fine']}:{CHAT}": "cancelled",
        f"reminder:{debts['fine']}:passed.surcharge:0:{CHAT}": "cancelled",
        "fine": "pending",  # a reminder is not news
    }


async def test_reminders_speak_greek(botapi, deps, sessions, debts):
    async with sessions() as session, session.begin():
        (await session.get(Chat, CHAT)).language = "el"
    async with running(deps, botapi):
        [reply] = await say(botapi, CHAT, "/reminders", language_code="el")
    assert "Υπενθυμίσεις" in reply.text
    assert "✅ Εξώδικο πρόστιμο" in reply.button_texts


async def test_a_forged_reminder_button_changes_nothing(botapi, deps, sessions, debts):
    async with running(deps, botapi):
        [menu] = await say(botapi, CHAT, "/reminders")
        await botapi.user_presses(CHAT, menu.message_id, "rem:kind:lottery:off", check=False)
        [answer] = await botapi.wait_for_messages(CHAT)
    assert "no longer valid" in answer.text
    assert (await _chat(sessions)).muted_kinds == []


async def test_blocking_the_bot_makes_the_chat_inactive_and_cancels_its_queue(
    botapi, deps, sessions, debts,
):
    await _queue_reminder(sessions, "fine", debts["fine"])
    async with running(deps, botapi):
        await botapi.user_blocks_bot(CHAT)
        await _wait_until(sessions, active=False)
        assert await _statuses(sessions) == {"fine": "cancelled"}
        await botapi.user_unblocks_bot(CHAT)
        await _wait_until(sessions, active=True)


async def _wait_until(sessions, *, active: bool) -> None:
    for _ in range(100):
        if (await _chat(sessions)).active is active:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"chat never became active={active}")
