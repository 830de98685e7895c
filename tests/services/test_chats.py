"""A chat's row: first contact, language, discreet mode, reachability, forgetting."""

from __future__ import annotations

import pytest
from citizen_seed import Clock, add_person, make_deps
from sqlalchemy import select

from debtbot.services import chats
from debtbot.services.chats import ChatView, UnknownLanguage
from debtbot.services.verify_identity import (
    Outcome,
    choose_holder,
    choose_id_type,
    start_verification,
    submit_contact,
    submit_text,
)
from debtbot.store.models import AuditEntry, Chat, ChatLink, Conversation, OutboxMessage

CHAT = 9001


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def deps(sessions, database_url, clock):
    return make_deps(sessions, database_url, clock)


async def verify(deps, chat_id=CHAT, born="23/11/1980"):
    await start_verification(deps, chat_id=chat_id)
    await choose_holder(deps, chat_id=chat_id, holder="person")
    await choose_id_type(deps, chat_id=chat_id, id_type="id_card")
    await submit_text(deps, chat_id=chat_id, text="1234567")
    await submit_text(deps, chat_id=chat_id, text=born)
    return await submit_contact(
        deps, chat_id=chat_id, phone="+35799555555", contact_user_id=1, sender_user_id=1
    )


@pytest.mark.parametrize(
    ("code", "language"), [("el", "el"), ("tr-TR", "tr"), ("en-GB", "en"), ("de", "en"),
                           (None, "en")],
)
async def test_first_contact_creates_the_chat_in_telegrams_language(deps, code, language):
    view = (await chats.touch_chat(deps, chat_id=CHAT, language_code=code)).chat
    assert view == ChatView(
        chat_id=CHAT, language=language, discreet=False, active=True, reminders_enabled=True,
        identities=[],
    )
    assert not view.verified


async def test_later_contact_keeps_the_chosen_language_and_marks_the_chat_seen(
    deps, sessions, clock
):
    await chats.touch_chat(deps, chat_id=CHAT, language_code="el")
    await chats.set_language(deps, chat_id=CHAT, language="tr")
    await chats.set_active(deps, chat_id=CHAT, active=False)
    clock.advance(hours=1)

    view = (await chats.touch_chat(deps, chat_id=CHAT, language_code="en")).chat

    assert (view.language, view.active) == ("tr", True)
    async with sessions() as session:
        chat = await session.get(Chat, CHAT)
    assert chat.last_seen_at == clock.now


async def test_set_language_accepts_only_greek_english_turkish(deps):
    await chats.touch_chat(deps, chat_id=CHAT, language_code="en")
    assert (await chats.set_language(deps, chat_id=CHAT, language="el")).language == "el"
    with pytest.raises(UnknownLanguage):
        await chats.set_language(deps, chat_id=CHAT, language="fr")
    assert (await chats.get_chat(deps, chat_id=CHAT)).language == "el"


async def test_discreet_mode_is_remembered(deps):
    await chats.touch_chat(deps, chat_id=CHAT, language_code="en")
    assert (await chats.set_discreet(deps, chat_id=CHAT, discreet=True)).discreet
    assert (await chats.get_chat(deps, chat_id=CHAT)).discreet
    assert not (await chats.set_discreet(deps, chat_id=CHAT, discreet=False)).discreet


async def test_blocked_chat_is_marked_inactive(deps):
    await chats.touch_chat(deps, chat_id=CHAT, language_code="en")
    await chats.set_active(deps, chat_id=CHAT, active=False)
    assert not (await chats.get_chat(deps, chat_id=CHAT)).active


async def test_unknown_chat_is_none(deps):
    assert await chats.get_chat(deps, chat_id=404) is None


async def test_chat_view_lists_verified_identities(deps, sessions):
    await add_person(sessions, name="Andreas Georgiou")
    await chats.touch_chat(deps, chat_id=CHAT, language_code="el")
    assert (await verify(deps)).outcome is Outcome.VERIFIED

    view = await chats.get_chat(deps, chat_id=CHAT)

    assert view.verified and view.language == "el"
    assert [(i.holder_type, i.display_name) for i in view.identities] == [
        ("person", "Andreas Georgiou")
    ]


async def test_forget_removes_identities_dialogue_preferences_and_pending_messages(
    deps, sessions, clock
):
    await add_person(sessions)
    await chats.touch_chat(deps, chat_id=CHAT, language_code="el")
    await verify(deps)
    await chats.set_discreet(deps, chat_id=CHAT, discreet=True)
    await start_verification(deps, chat_id=CHAT)  # a dialogue under way
    async with sessions() as session, session.begin():
        for key, status in (("pending", "pending"), ("sent", "sent")):
            session.add(
                OutboxMessage(
                    dedupe_key=key, chat_id=CHAT, purpose="reminder", status=status,
                    not_before=clock.now, payload={"text": "x"},
                )
            )

    await chats.forget_chat(deps, chat_id=CHAT)

    view = await chats.get_chat(deps, chat_id=CHAT)
    assert (view.verified, view.discreet, view.reminders_enabled) == (False, False, True)
    async with sessions() as session:
        assert list(await session.scalars(select(ChatLink))) == []
        assert list(await session.scalars(select(Conversation))) == []
        statuses = dict((await session.execute(
            select(OutboxMessage.dedupe_key, OutboxMessage.status)
        )).all())
        audit = list(await session.scalars(select(AuditEntry).where(
            AuditEntry.action == "chat.forget"
        )))
    assert statuses == {"pending": "cancelled", "sent": "sent"}
    assert [(a.actor, a.count) for a in audit] == [(f"chat:{CHAT}", 1)]


async def test_forgetting_does_not_reset_the_guard_against_guessing(deps, sessions, clock):
    await add_person(sessions)
    for _ in range(5):
        await verify(deps, born="01/01/1970")
    await chats.forget_chat(deps, chat_id=CHAT)
    assert (await start_verification(deps, chat_id=CHAT)).outcome is Outcome.LOCKED
    clock.advance(hours=24, minutes=1)
    assert (await start_verification(deps, chat_id=CHAT)).outcome is Outcome.ASK
