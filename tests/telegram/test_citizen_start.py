"""First contact: the language from Telegram, the welcome, the command menu, /help."""

from __future__ import annotations

import pytest
from citizen_harness import Clock, make_deps, running, say

CHAT = 5101


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def deps(botapi, sessions, database_url, clock):
    return make_deps(botapi, sessions, database_url, clock)


@pytest.mark.parametrize(
    ("language_code", "welcome", "button"),
    [
        ("el", "Καλώς ήρθατε!", "Για τον εαυτό μου"),
        ("tr", "Hoş geldiniz!", "Kendim için"),
        ("en", "Welcome!", "Myself"),
        ("de", "Welcome!", "Myself"),
        (None, "Welcome!", "Myself"),
    ],
)
async def test_first_contact_speaks_the_language_telegram_reports(
    botapi, deps, language_code, welcome, button
):
    async with running(deps, botapi):
        [reply] = await say(botapi, CHAT, "/start", language_code=language_code)
    assert reply.text.startswith(welcome)
    assert button in reply.button_texts
    assert reply.parse_mode == "HTML"


async def test_the_language_chosen_at_first_contact_sticks(botapi, deps):
    async with running(deps, botapi):
        await say(botapi, CHAT, "/start", language_code="el")
        # Telegram's language_code changes later (the phone's language): the chat keeps Greek.
        [reply] = await say(botapi, CHAT, "/help", language_code="en")
    assert reply.text.startswith("Τι μπορώ να κάνω:")


async def test_command_menu_is_published_in_each_language_with_reminders(botapi, deps):
    async with running(deps, botapi):
        calls = await botapi.wait_for_calls("setMyCommands", count=4)
    by_language = {call.params.get("language_code", ""): call.params["commands"] for call in calls}
    assert set(by_language) == {"", "el", "en", "tr"}
    for commands in by_language.values():
        names = [command["command"] for command in _parsed(commands)]
        assert names == [
            "start", "debts", "reminders", "language", "privacy", "forget", "cancel", "help"
        ]
    greek = {c["command"]: c["description"] for c in _parsed(by_language["el"])}
    turkish = {c["command"]: c["description"] for c in _parsed(by_language["tr"])}
    assert greek["debts"] == "Τι οφείλετε τώρα"
    assert turkish["reminders"] == "Son tarih hatırlatmaları"


def _parsed(commands):
    import json

    return json.loads(commands) if isinstance(commands, str) else commands


@pytest.mark.parametrize(
    ("language_code", "notice"),
    [
        ("en", "my reminders are a courtesy, not the legal service of a notice"),
        ("el", "οι υπενθυμίσεις μου είναι απλή διευκόλυνση"),
        ("tr", "Hatırlatmalarım yalnızca bir kolaylıktır"),
    ],
)
async def test_help_says_reminders_are_a_courtesy_and_official_dates_prevail(
    botapi, deps, language_code, notice
):
    async with running(deps, botapi):
        [reply] = await say(botapi, CHAT, "/help", language_code=language_code)
    assert notice in reply.text
    assert "/debts" in reply.text and "/reminders" in reply.text


async def test_unverified_debts_reveals_nothing(botapi, deps):
    async with running(deps, botapi):
        [reply] = await say(botapi, CHAT, "/debts")
    assert reply.text == (
        "I can show debts only after confirming who you are. Send /start to begin."
    )
    assert reply.buttons == []


async def test_help_says_what_news_the_bot_tells_and_when(botapi, deps):
    async with running(deps, botapi):
        [reply] = await say(botapi, CHAT, "/help", language_code="en")
    assert "the day the authorities record a new debt in your name" in reply.text
    assert "outside quiet hours" in reply.text and "off or on with /reminders" in reply.text
