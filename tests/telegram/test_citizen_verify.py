"""The verification dialogue as the citizen lives it: buttons, prompts, Telegram's
request-contact button, the deep link, and the lock after repeated failures."""

from __future__ import annotations

import pytest
from citizen_harness import (
    BORN,
    COMPANY_NOTICE,
    COMPANY_NUMBER,
    ID_CARD,
    Clock,
    add_company,
    add_debt,
    add_person,
    dialogue_step,
    link_count,
    make_deps,
    press,
    running,
    say,
    share_contact,
    verify_by_dob,
)

from debtbot.services.verify_identity import mint_link_token

CHAT = 5201
PHONE = "+35799123456"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def deps(botapi, sessions, database_url, clock):
    return make_deps(botapi, sessions, database_url, clock)


async def test_person_without_phone_on_file_verifies_with_id_card_and_date_of_birth(
    botapi, deps, sessions
):
    await add_person(sessions)
    async with running(deps, botapi):
        [welcome] = await say(botapi, CHAT, "/start")
        assert "First I need to confirm who you are" in welcome.text
        assert welcome.button_texts == ["Myself", "A company I represent", "Cancel"]
        [choose] = await press(botapi, CHAT, "Myself")
        assert choose.edited and "Which document" in choose.text
        assert choose.button_texts[:3] == [
            "Cypriot identity card",
            "Alien Registration Certificate (ARC)",
            "Passport",
        ]
        [ask_number] = await press(botapi, CHAT, "Cypriot identity card")
        assert ask_number.text == "Please type your identity card number."
        [ask_born] = await say(botapi, CHAT, ID_CARD)
        assert ask_born.text == "Please type your date of birth, for example 23/11/1980."
        # Everyone is asked for their own contact, phone on file or not.
        [ask_contact] = await say(botapi, CHAT, "23.11.1980")
        assert "share the phone number of this Telegram account" in ask_contact.text
        [[button]] = ask_contact.reply_keyboard
        assert button == {"text": "Share my phone number", "request_contact": True}
        done = await share_contact(botapi, CHAT)
    assert done.text.startswith("Thank you. This chat is now linked to Andreas Georgiou.")
    assert botapi.reply_keyboard(CHAT) is None
    assert await link_count(sessions, CHAT) == 1


async def test_person_with_phone_on_file_shares_own_contact_with_telegrams_button(
    botapi, deps, sessions
):
    await add_person(sessions, phone=PHONE)
    async with running(deps, botapi):
        await say(botapi, CHAT, "/start", language_code="el")
        await press(botapi, CHAT, "Για τον εαυτό μου")
        await press(botapi, CHAT, "Κυπριακό δελτίο ταυτότητας")
        await say(botapi, CHAT, ID_CARD)
        [ask_contact] = await say(botapi, CHAT, BORN)
        assert "για να στείλετε τον αριθμό τηλεφώνου" in ask_contact.text
        [[button]] = ask_contact.reply_keyboard
        assert button == {"text": "Αποστολή του αριθμού τηλεφώνου μου", "request_contact": True}

        # A contact forwarded from the address book is someone else's: refused, asked again.
        await botapi.user_shares_contact(CHAT, PHONE, own=False)
        [refused] = await botapi.wait_for_messages(CHAT)
        assert refused.text.startswith("Αυτή είναι η επαφή κάποιου άλλου.")
        assert refused.reply_keyboard is not None
        assert await link_count(sessions, CHAT) == 0

        await botapi.user_shares_contact(CHAT, "35799123456")  # Telegram omits the '+'
        [done] = await botapi.wait_for_messages(CHAT)
    assert done.text.startswith("Ευχαριστούμε. Αυτή η συνομιλία συνδέθηκε με: Andreas Georgiou.")
    assert botapi.reply_keyboard(CHAT) is None  # the contact keyboard is gone
    assert await link_count(sessions, CHAT) == 1


async def _through_contact(botapi, chat_id, number, born, phone):
    await say(botapi, chat_id, "/start")
    await press(botapi, chat_id, "Myself")
    await press(botapi, chat_id, "Cypriot identity card")
    await say(botapi, chat_id, number)
    [asked] = await say(botapi, chat_id, born)
    return asked, await share_contact(botapi, chat_id, phone)


async def test_the_dialogue_never_shows_whether_a_phone_is_on_file(botapi, deps, sessions):
    await add_person(sessions, number="1234567")  # no phone on file
    await add_person(sessions, number="7777777", name="Maria Ioannou", phone=PHONE)
    async with running(deps, botapi):
        cases = [
            await _through_contact(botapi, 5301, "1234567", "01/01/1970", PHONE),  # wrong date
            await _through_contact(botapi, 5302, "7777777", "01/01/1970", PHONE),  # wrong date
            await _through_contact(botapi, 5303, "7654321", BORN, PHONE),  # unknown number
            await _through_contact(botapi, 5304, "7777777", BORN, "35799000000"),  # other phone
        ]
    # The same question before anything is checked, and the same answer after.
    assert len({(asked.text, str(asked.reply_keyboard)) for asked, _ in cases}) == 1
    assert len({(reply.text, str(reply.reply_keyboard)) for _, reply in cases}) == 1
    answer = cases[0][1]
    assert answer.text.startswith("I could not confirm who you are with these details")
    assert "only that authority can change it" in answer.text
    assert await link_count(sessions, 5304) == 0


async def test_a_phone_that_does_not_match_keeps_a_way_on_and_the_right_contact_then_links(
    botapi, deps, sessions
):
    await add_person(sessions, phone=PHONE)
    async with running(deps, botapi):
        _, mismatch = await _through_contact(botapi, CHAT, ID_CARD, BORN, "35799000000")
        # What to do, and the button to share again: no dead end.
        assert "Press the button below to share your number again" in mismatch.text
        [[button]] = mismatch.reply_keyboard
        assert button["request_contact"] is True
        # ...and sharing the right contact afterwards links.
        done = await share_contact(botapi, CHAT, PHONE.lstrip("+"))
    assert done.text.startswith("Thank you. This chat is now linked to Andreas Georgiou.")
    assert "I did not ask for a phone number" not in done.text
    assert await link_count(sessions, CHAT) == 1


async def test_company_verifies_with_registration_number_and_a_notice_reference(
    botapi, deps, sessions
):
    company_id = await add_company(sessions)
    await add_debt(
        sessions,
        reference=COMPANY_NOTICE,
        company_id=company_id,
        kind="tax",
        served_on=None,
        due_on=None,
        authority="Tax Department",
    )
    async with running(deps, botapi):
        await say(botapi, CHAT, "/start", language_code="tr")
        [ask_number] = await press(botapi, CHAT, "Temsil ettiğim bir şirket")
        assert ask_number.text == "Lütfen şirketin sicil numarasını yazın, örneğin HE 123456."
        [ask_notice] = await say(botapi, CHAT, "ΗΕ-123456")  # Greek capitals and a dash
        assert "referans numarasını" in ask_notice.text
        [done] = await say(botapi, CHAT, COMPANY_NOTICE)
    assert done.text.startswith("Teşekkür ederiz. Lemesos Trading Ltd artık bu sohbete bağlı.")
    assert COMPANY_NUMBER


async def test_deep_link_token_links_the_chat_in_one_step_and_only_once(
    botapi, deps, sessions, clock
):
    await add_person(sessions)
    token = mint_link_token(deps.settings, id_type="id_card", id_number=ID_CARD, now=clock())
    async with running(deps, botapi):
        await botapi.user_starts(CHAT, token)
        [done] = await botapi.wait_for_messages(CHAT)
        assert done.text.startswith("Thank you. This chat is now linked to Andreas Georgiou.")
        await botapi.user_starts(CHAT + 1, token)
        [reused] = await botapi.wait_for_messages(CHAT + 1)
        [forged] = await say(botapi, CHAT + 2, "/start " + token[:-2] + "AA")
        [garbage] = await say(botapi, CHAT + 3, "/start <b>not-a-token</b>")
    expired = "This link has expired or has already been used."
    assert reused.text.startswith(expired)
    assert forged.text.startswith(expired)
    assert garbage.text.startswith(expired)
    assert "<b>" not in garbage.raw_text
    assert await link_count(sessions, CHAT + 1) == 0


async def test_identity_number_with_spaces_or_dashes_is_accepted(botapi, deps, sessions):
    await add_person(sessions)
    async with running(deps, botapi):
        reply = await verify_by_dob(botapi, CHAT, number=" 123-45 67 ")
    assert reply.text.startswith("Thank you.")


async def test_five_failures_lock_the_chat_with_a_time_to_come_back(botapi, deps, sessions):
    await add_person(sessions)
    async with running(deps, botapi):
        await say(botapi, CHAT, "/start")
        await press(botapi, CHAT, "Myself")
        await press(botapi, CHAT, "Cypriot identity card")
        replies = []
        for attempt in range(5):
            await say(botapi, CHAT, ID_CARD)
            await say(botapi, CHAT, f"0{attempt + 1}/01/1970")
            replies.append(await share_contact(botapi, CHAT))
            if attempt < 4:  # after a failure the contact button stays; /start to retype
                await say(botapi, CHAT, "/start")
                await press(botapi, CHAT, "Myself")
                await press(botapi, CHAT, "Cypriot identity card")
        [after] = await say(botapi, CHAT, "/start")
        [ask] = await say(botapi, CHAT, ID_CARD)  # no dialogue any more: not understood
    for reply in replies[:4]:
        assert reply.text.startswith("I could not confirm who you are with these details")
        assert reply.reply_keyboard is not None
    assert replies[4].text.startswith("For your security, verification is paused")
    assert "24 November 2026, 12:00" in replies[4].text  # 24 h later, Nicosia time
    assert after.text.endswith("You can try again after 24 November 2026, 12:00.")
    assert ask.text.startswith("I did not understand that.")
    assert await link_count(sessions, CHAT) == 0
    assert await dialogue_step(sessions, CHAT) is None


async def test_cancel_ends_the_dialogue(botapi, deps, sessions):
    async with running(deps, botapi):
        await say(botapi, CHAT, "/start")
        [cancelled] = await press(botapi, CHAT, "Cancel")
    assert cancelled.text == "Cancelled. Send /start whenever you want to try again."
    assert await dialogue_step(sessions, CHAT) is None


async def test_verified_chat_start_welcomes_back_and_can_add_another_identity(
    botapi, deps, sessions
):
    await add_person(sessions)
    async with running(deps, botapi):
        await verify_by_dob(botapi, CHAT)
        [back] = await say(botapi, CHAT, "/start")
        assert back.text.startswith("Welcome back. This chat is linked to: Andreas Georgiou.")
        [ask] = await press(botapi, CHAT, "Add a person or company")
    assert "Are you asking for yourself" in ask.text
