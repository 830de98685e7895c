"""Staff commands through the real PTB client and the local Bot API server: notices,
broadcasts with a second supervisor's approval, a progress message that updates itself, and
silence (an ordinary unknown command) for everyone who is not staff of the right role."""

from __future__ import annotations

import pytest
from citizen_harness import Clock, add_debt, add_person, link_person, make_deps, running, say
from sqlalchemy import select, update

from debtbot.services import notices, staff
from debtbot.services.staff import CLI_ACTOR, Actor, Role
from debtbot.store.models import Chat, OutboxMessage
from debtbot.telegram import staff as staff_commands
from debtbot.telegram.sender import build_sender, sender_bot

OPERATOR, SUPERVISOR, SECOND, CITIZEN, OTHER = 7001, 7002, 7003, 7100, 7101
UNKNOWN = "I do not know that command. Send /help to see what I can do."


@pytest.fixture
async def deps(botapi, sessions, database_url):
    deps = make_deps(botapi, sessions, database_url, Clock())
    for user_id, role in ((OPERATOR, "operator"), (SUPERVISOR, "supervisor"), (SECOND, "supervisor")):
        await staff.add_staff(deps, actor=CLI_ACTOR, telegram_user_id=user_id, name=f"S{user_id}", role=role)
    await notices.save_template(
        deps,
        actor=Actor("cli", Role.ADMIN),
        name="closing",
        bodies={"el": "Οι πληρωμές κλείνουν στις {deadline}.", "en": "Payments close on {deadline}."},
    )
    person = await add_person(sessions, name="Eleni")
    await link_person(sessions, CITIZEN, person)
    other = await add_person(sessions, number="7654321", name="Nikos")
    await link_person(sessions, OTHER, other)
    async with sessions() as session, session.begin():
        (await session.get(Chat, OTHER)).language = "el"
    await add_debt(sessions, reference="OCF-1", person_id=person)
    return deps


async def _deliver(deps):
    bot = sender_bot(deps.settings)
    async with bot:
        return await build_sender(deps, bot).deliver_due()


@pytest.mark.parametrize(
    ("user", "command"),
    [
        (CITIZEN, "/broadcast closing all deadline=2026-12-24"),
        (CITIZEN, "/notice closing chat:7100"),
        (CITIZEN, "/staff"),
        (OPERATOR, "/approve 1"),
        (OPERATOR, "/broadcast closing all deadline=2026-12-24"),
    ],
)
async def test_staff_commands_look_unknown_to_everyone_else(botapi, deps, sessions, user, command):
    async with running(deps, botapi):
        [reply] = await say(botapi, user, command)
        [baseline] = await say(botapi, user, "/no_such_command")
    assert reply.text == baseline.text == UNKNOWN
    async with sessions() as session:
        assert (await session.scalars(select(OutboxMessage))).all() == []


async def test_an_operator_sends_a_notice_that_reaches_the_citizen(botapi, deps):
    async with running(deps, botapi):
        [preview] = await say(botapi, OPERATOR, "/notice_preview closing chat:7100 deadline=2026-12-24")
        assert preview.text.startswith("Preview, nothing sent: it would reach 1 chat.")
        assert "Payments close on 24 December 2026." in preview.text
        [reply] = await say(botapi, OPERATOR, "/notice closing ref:OCF-1 deadline=2026-12-24")
        assert reply.text.startswith("Notice queued for 1 chat.")
        [bad] = await say(botapi, OPERATOR, "/notice closing id:id_card:99")
        assert bad.text == "That is not a valid identifier of that type."
        [usage] = await say(botapi, OPERATOR, "/notice closing")
        assert usage.text.startswith("Usage: /notice TEMPLATE RECIPIENT")
    stats = await _deliver(deps)
    assert stats.sent == 1
    [notice] = botapi.screen(CITIZEN)
    assert notice.text == "Payments close on 24 December 2026."


async def test_a_broadcast_needs_a_second_supervisor_and_shows_live_progress(botapi, deps, sessions):
    async with running(deps, botapi) as application:
        [prepared] = await say(botapi, SUPERVISOR, "/broadcast closing all deadline=2026-12-24")
        assert prepared.text.startswith(
            "Broadcast #1 would reach 2 chats now. A second supervisor approves it with /approve 1"
        )
        assert "Ελληνικά\nΟι πληρωμές κλείνουν στις 24 Δεκεμβρίου 2026." in prepared.text
        assert "Türkçe (no translation: the Greek text is used)" in prepared.text

        [refused] = await say(botapi, SUPERVISOR, "/approve 1")
        assert refused.text == "A second supervisor must approve this broadcast."

        [progress] = await say(botapi, SECOND, "/approve 1")
        assert "Broadcast #1: sending" in progress.text
        assert "Remaining: 2 of 2" in progress.text
        assert progress.button_texts == ["Cancel the broadcast"]

        await _deliver(deps)
        assert await staff_commands.update_progress_messages(application) == 1
        # The second supervisor was told in Telegram that it waited for them (with the
        # console link; delivered by the sender after it approved), and has the progress
        # message that updates itself.
        shown, told = botapi.screen(SECOND)
        assert told.text == (
            "Broadcast #1 waits for a second supervisor's approval: "
            "http://127.0.0.1:8080/console/broadcasts/1"
        )
        assert "Sent: 2" in shown.text and "Remaining: 0 of 2" in shown.text
        assert [m.text for m in botapi.screen(CITIZEN)] == ["Payments close on 24 December 2026."]
        assert [m.text for m in botapi.screen(OTHER)] == ["Οι πληρωμές κλείνουν στις 24 Δεκεμβρίου 2026."]


async def test_cancel_part_way_from_the_progress_message(botapi, deps, sessions):
    async with running(deps, botapi):
        await say(botapi, SUPERVISOR, "/broadcast closing all deadline=2026-12-24")
        await say(botapi, SECOND, "/approve 1")
        async with sessions() as session, session.begin():
            await session.execute(
                update(OutboxMessage).where(OutboxMessage.chat_id == CITIZEN).values(status="sent")
            )
        await botapi.user_presses_button(SECOND, "Cancel the broadcast")
        [edited] = await botapi.wait_for_messages(SECOND)
    assert "Broadcast #1: cancelled" in edited.text
    assert "Sent: 1" in edited.text and "Cancelled: 1" in edited.text
    assert edited.button_texts == []
    async with sessions() as session:
        statuses = dict((await session.execute(
            select(OutboxMessage.chat_id, OutboxMessage.status)
            .where(OutboxMessage.broadcast_id.is_not(None))
        )).all())
    assert statuses == {CITIZEN: "sent", OTHER: "cancelled"}


async def test_a_citizen_in_discreet_mode_reads_the_notice_behind_the_button(botapi, deps, sessions):
    async with sessions() as session, session.begin():
        (await session.get(Chat, CITIZEN)).discreet = True
    async with running(deps, botapi):
        await say(botapi, OPERATOR, "/notice closing chat:7100 deadline=2026-12-24")
        await _deliver(deps)
        [teaser] = botapi.screen(CITIZEN)
        assert teaser.text.startswith("You have a new message from the authorities.")
        await botapi.user_presses_button(CITIZEN, "Read it")
        [shown] = await botapi.wait_for_messages(CITIZEN)
    assert shown.text == "Payments close on 24 December 2026."


async def test_staff_are_answered_in_their_own_language(botapi, deps):
    async with running(deps, botapi):
        [usage] = await say(botapi, SUPERVISOR, "/approve soon", language_code="el")
        [missing] = await say(botapi, SUPERVISOR, "/broadcast closing all")
        [unknown] = await say(botapi, SUPERVISOR, "/progress 99")
    assert usage.text == "Χρήση: /approve ID"
    assert missing.text == "Λείπουν τιμές για: deadline"
    assert unknown.text == "Δεν υπάρχει μαζική αποστολή με αυτόν τον αριθμό."


async def test_a_notice_to_someone_without_a_chat_says_why_and_queues_nothing(botapi, deps, sessions):
    await add_person(sessions, number="5550001", name="Never Linked")
    async with running(deps, botapi):
        [preview] = await say(botapi, OPERATOR, "/notice_preview closing id:id_card:5550001 deadline=2026-12-24")
        assert preview.text.startswith("Preview, nothing sent: it would reach 0 chats.\n"
                                       "Nothing was sent: this person has never verified")
        [refused] = await say(botapi, OPERATOR, "/notice closing id:id_card:5550001 deadline=2026-12-24")
        assert refused.text == (
            "Nothing was sent: this person has never verified themselves in the bot, so no "
            "chat is linked to them."
        )
        async with sessions() as session, session.begin():
            await session.execute(update(Chat).where(Chat.id == CITIZEN).values(active=False))
        [inactive] = await say(botapi, OPERATOR, "/notice closing ref:OCF-1 deadline=2026-12-24")
        assert inactive.text.startswith("Nothing was sent: every chat linked to this person is inactive")
    async with sessions() as session:
        assert (await session.scalars(select(OutboxMessage))).all() == []


async def test_console_answers_staff_with_a_sign_in_link_and_nobody_else(botapi, deps):
    async with running(deps, botapi):
        [link] = await say(botapi, OPERATOR, "/console")
        assert link.text.startswith("Your sign-in link to the staff console. It works once, for 10 minutes")
        assert "http://127.0.0.1:8080/console/login?token=7001." in link.text
        [unknown] = await say(botapi, CITIZEN, "/console")
        assert unknown.text == UNKNOWN


async def test_a_broadcast_at_a_past_time_is_refused(botapi, deps):
    async with running(deps, botapi):
        [refused] = await say(botapi, SUPERVISOR, "/broadcast closing all deadline=2026-12-24 at=2025-01-01T09:00")
        assert refused.text == "That time is in the past: give a time to come."
