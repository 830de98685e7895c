"""Bad input: each gets a short explanation in the chat's language, nothing is echoed
unescaped, no traceback reaches the user, and the dialogue does not move."""

from __future__ import annotations

import pytest
from citizen_harness import (
    BORN,
    ID_CARD,
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

CHAT = 5501


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def deps(botapi, sessions, database_url, clock):
    return make_deps(botapi, sessions, database_url, clock)


async def _at_date_of_birth(botapi, language_code: str) -> None:
    await say(botapi, CHAT, "/start", language_code=language_code)
    await press(botapi, CHAT, {"el": "Για τον εαυτό μου", "tr": "Kendim için", "en": "Myself"}[language_code])
    await press(botapi, CHAT, {"el": "Κυπριακό δελτίο ταυτότητας", "tr": "Kıbrıs Cumhuriyeti kimlik kartı",
                               "en": "Cypriot identity card"}[language_code])
    await say(botapi, CHAT, ID_CARD)


ASK_DOB_EL = "Πληκτρολογήστε την ημερομηνία γέννησής σας, για παράδειγμα 23/11/1980."

BAD_TEXTS = [
    ("31/02/1990", "Αυτή η ημερομηνία δεν υπάρχει. Ελέγξτε την ημέρα και τον μήνα."),
    ("23/11/2030", "Αυτή η ημερομηνία δεν έχει έρθει ακόμη."),
    ("🙂🎉", "Δεν αναγνωρίζω αυτή την ημερομηνία."),
    ("מה שלומך؟ مرحبا", "Δεν αναγνωρίζω αυτή την ημερομηνία."),
    ("<b>1980</b><script>alert(1)</script>", "Δεν αναγνωρίζω αυτή την ημερομηνία."),
    ("'; DROP TABLE persons; --", "Δεν αναγνωρίζω αυτή την ημερομηνία."),
    ("x" * 4096, "Το μήνυμα είναι πολύ μεγάλο. Στείλτε μόνο ό,τι σας ζήτησα."),
]


async def test_bad_answers_in_the_dialogue_are_explained_in_greek_and_change_nothing(
    botapi, deps, sessions
):
    await add_person(sessions)
    async with running(deps, botapi):
        await _at_date_of_birth(botapi, "el")
        for text, explanation in BAD_TEXTS:
            [reply] = await say(botapi, CHAT, text)
            assert reply.text.startswith(explanation), text[:40]
            assert reply.text.endswith(ASK_DOB_EL)
            assert "<script>" not in reply.raw_text and "DROP TABLE" not in reply.raw_text
            assert "Traceback" not in reply.text
            assert await dialogue_step(sessions, CHAT) == "date_of_birth"
        for kind in ("sticker", "photo", "voice", "location", "document"):
            await botapi.user_sends_update(CHAT, kind)
            [reply] = await botapi.wait_for_messages(CHAT)
            assert reply.text == f"Παρακαλούμε απαντήστε με γραπτό μήνυμα.\n\n{ASK_DOB_EL}", kind
            assert await dialogue_step(sessions, CHAT) == "date_of_birth"
        await say(botapi, CHAT, BORN)
        done = await share_contact(botapi, CHAT)
    assert done.text.startswith("Ευχαριστούμε.")
    assert await link_count(sessions, CHAT) == 1


async def test_an_edited_message_is_not_read_as_an_answer(botapi, deps, sessions):
    await add_person(sessions)
    async with running(deps, botapi):
        await _at_date_of_birth(botapi, "tr")
        sent = await botapi.user_sends(CHAT, "01/01/1970")
        await botapi.wait_for_messages(CHAT)  # nothing checked yet: asked for the contact
        await botapi.user_edits(CHAT, sent["message"]["message_id"], BORN)
        [reply] = await botapi.wait_for_messages(CHAT)
    assert reply.text == (
        "Düzenlenmiş mesajları okumuyorum. Lütfen yanıtınızı yeni bir mesaj olarak tekrar gönderin."
    )
    assert await link_count(sessions, CHAT) == 0
    assert await dialogue_step(sessions, CHAT) == "contact"


@pytest.mark.parametrize("kind", ["sticker", "photo", "voice", "location"])
async def test_media_outside_a_dialogue_gets_a_short_explanation(botapi, deps, kind):
    async with running(deps, botapi):
        await botapi.user_sends_update(CHAT, kind)
        [reply] = await botapi.wait_for_messages(CHAT)
    assert reply.text == (
        "I can only read text messages and the buttons I send. Send /help to see what I can do."
    )


@pytest.mark.parametrize(
    "text",
    [
        "<i>hello</i> & <b>",
        "SELECT * FROM persons WHERE 1=1; --",
        "🙂" * 500,
        "مرحبا بالعالم",
        "y" * 4096,
        "/unknown_command <b>x</b>",
    ],
)
async def test_free_text_outside_a_dialogue_is_never_echoed(botapi, deps, sessions, text):
    async with running(deps, botapi):
        [reply] = await say(botapi, CHAT, text)
    assert reply.text in (
        "I did not understand that. Send /debts to see what you owe, or /help for everything I can do.",
        "I do not know that command. Send /help to see what I can do.",
    )
    assert text not in reply.raw_text
    assert await dialogue_step(sessions, CHAT) is None


async def test_a_contact_nobody_asked_for_is_refused(botapi, deps, sessions):
    async with running(deps, botapi):
        await botapi.user_shares_contact(CHAT, "+35799000000", own=False)
        [reply] = await botapi.wait_for_messages(CHAT)
    assert reply.text == "I did not ask for a phone number. Send /start to confirm who you are."
    assert await link_count(sessions, CHAT) == 0
