"""The dialogue without dead ends, as a citizen meets it in the chat."""

from __future__ import annotations

import pytest
from citizen_harness import (
    Clock,
    add_person,
    dialogue_step,
    link_count,
    make_deps,
    press,
    running,
    say,
    share_contact,
)

CHAT = 5601


@pytest.fixture
def deps(botapi, sessions, database_url):
    return make_deps(botapi, sessions, database_url, Clock())


async def test_a_number_typed_straight_after_start_is_understood(botapi, deps, sessions):
    await add_person(sessions)
    async with running(deps, botapi):
        await say(botapi, CHAT, "/start")
        [which] = await say(botapi, CHAT, "١٢٣٤٥٦٧")  # Arabic-Indic digits
        assert which.text.startswith("Numbers like this one are used for identity cards and")
        assert which.button_texts == [
            "Cypriot identity card", "Alien Registration Certificate (ARC)", "Cancel"
        ]
        [born] = await press(botapi, CHAT, "Cypriot identity card")
        assert born.text == "Please type your date of birth, for example 23/11/1980."
        await say(botapi, CHAT, "２３/１１/１９８０")  # full-width digits
        done = await share_contact(botapi, CHAT)  # the last step for everyone (#15)
    assert done.text.startswith("Thank you. This chat is now linked to Andreas Georgiou.")
    assert await link_count(sessions, CHAT) == 1


async def test_a_date_or_a_wrong_shape_at_the_number_step_gets_a_reason(botapi, deps, sessions):
    async with running(deps, botapi):
        await say(botapi, CHAT, "/start")
        await press(botapi, CHAT, "Myself")
        await press(botapi, CHAT, "Cypriot identity card")
        [date_first] = await say(botapi, CHAT, "23/11/1980")
        [letters] = await say(botapi, CHAT, "AB12345")
        step = await dialogue_step(sessions, CHAT)
    assert date_first.text.startswith(
        "That looks like a date of birth. First I need the number of your document;"
    )
    assert letters.text.startswith("An identity card number has only digits, 4 to 10 of them.")
    assert step == "id_number"


async def test_a_second_start_mid_dialogue_begins_again_and_cancel_leaves_it(
    botapi, deps, sessions
):
    async with running(deps, botapi):
        await say(botapi, CHAT, "/start")
        await press(botapi, CHAT, "Myself")
        [again] = await say(botapi, CHAT, "/start")
        [cancelled] = await say(botapi, CHAT, "/cancel")
        step = await dialogue_step(sessions, CHAT)
        [nothing] = await say(botapi, CHAT, "/cancel")
    assert again.text.startswith(
        "We were in the middle of confirming who you are. Let us start again.\n\nFirst I need"
    )
    assert "Welcome!" not in again.text
    assert cancelled.text == "Cancelled. Send /start whenever you want to try again."
    assert step is None
    assert nothing.text == "There is nothing to cancel."


async def test_greek_reasons_for_a_wrong_company_number(botapi, deps, sessions):
    async with running(deps, botapi):
        await say(botapi, CHAT, "/start", language_code="el")
        await press(botapi, CHAT, "Εταιρεία που εκπροσωπώ")
        [reason] = await say(botapi, CHAT, "ΧΥΖ-12")
    assert reason.text.startswith("Ο αριθμός εγγραφής εταιρείας αποτελείται από ένα πρόθεμα")
