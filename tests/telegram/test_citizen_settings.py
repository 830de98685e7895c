"""/language, /privacy (discreet mode) and /forget, and old buttons after /forget."""

from __future__ import annotations

from datetime import date

import pytest
from citizen_harness import (
    Clock,
    add_debt,
    add_person,
    link_count,
    link_person,
    make_deps,
    press,
    running,
    say,
)

CHAT = 5401


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def deps(botapi, sessions, database_url, clock):
    return make_deps(botapi, sessions, database_url, clock)


@pytest.fixture
async def person(sessions) -> int:
    person_id = await add_person(sessions)
    await link_person(sessions, CHAT, person_id)
    await add_debt(sessions, reference="OC-1", person_id=person_id, served_on=date(2026, 11, 1))
    return person_id


async def test_language_can_be_changed_at_any_time_with_buttons(botapi, deps, person):
    async with running(deps, botapi):
        [offer] = await say(botapi, CHAT, "/language")
        assert offer.text == "Choose the language I should write to you in:"
        assert offer.button_texts == ["Ελληνικά", "✓ English", "Türkçe"]
        await botapi.user_presses(CHAT, offer.message_id, "lang:el")
        [greek] = await botapi.wait_for_messages(CHAT)
        [help_el] = await say(botapi, CHAT, "/help")
        [offer] = await say(botapi, CHAT, "/language")
        await botapi.user_presses(CHAT, offer.message_id, "lang:tr")
        [turkish] = await botapi.wait_for_messages(CHAT)
        [debts_tr] = await say(botapi, CHAT, "/debts")
    assert greek.edited and greek.text == "Από εδώ και πέρα θα σας γράφω στα ελληνικά."
    assert help_el.text.startswith("Τι μπορώ να κάνω:")
    assert turkish.text == "Bundan sonra size Türkçe yazacağım."
    assert debts_tr.text.startswith("Ödenmemiş 1 borcunuz var.")


async def test_discreet_mode_hides_amounts_and_kinds_until_the_button_is_pressed(
    botapi, deps, person
):
    async with running(deps, botapi):
        [privacy] = await say(botapi, CHAT, "/privacy")
        assert privacy.text.startswith("Discreet mode is off.")
        [on] = await press(botapi, CHAT, "Turn discreet mode on")
        assert on.text.startswith("Discreet mode is on.")
        assert on.button_texts == ["Turn discreet mode off"]
        [teaser] = await say(botapi, CHAT, "/debts")
        [details] = await press(botapi, CHAT, "Show details")
    # The notification a locked phone shows is the teaser: no amount, no kind of debt.
    assert teaser.text == "There is news for you. Press the button to see the details here."
    assert "€" not in teaser.raw_text and "fine" not in teaser.raw_text.lower()
    # The details replace it in place (an edit raises no new notification).
    assert details.message_id == teaser.message_id and details.edited
    assert "Out-of-court fine" in details.text and "€100.00" in details.text
    assert details.button_texts == ["Pay €100.00 · OC-1", "Details · OC-1"]


async def test_forget_unlinks_after_confirmation_and_old_buttons_then_do_nothing(
    botapi, deps, sessions, person
):
    async with running(deps, botapi):
        [report] = await say(botapi, CHAT, "/debts")
        [confirm] = await say(botapi, CHAT, "/forget")
        assert confirm.text.endswith("Do you want to continue?")
        [done, marked] = await press(botapi, CHAT, "Yes, forget me", 2)
        assert done.text.startswith("Done. This chat is no longer linked to anyone")
        assert await link_count(sessions, CHAT) == 0
        # The earlier report's Pay and Details buttons now say so.
        assert marked.message_id == report.message_id and marked.edited
        assert marked.button_texts == ["No longer valid"]
        [pressed] = await press(botapi, CHAT, "No longer valid")
        assert pressed.text == "That button is no longer valid. Send /start to begin again."

        # An inline button from before /forget: refused, nothing shown, nothing changed.
        await botapi.user_presses(CHAT, report.message_id, "debts:page:1", check=False)
        [stale] = await botapi.wait_for_messages(CHAT)
        await botapi.user_presses(CHAT, report.message_id, "debt:show:1", check=False)
        [stale_debt] = await botapi.wait_for_messages(CHAT)
        await botapi.user_presses(CHAT, report.message_id, "verify:holder:person", check=False)
        [stale_verify] = await botapi.wait_for_messages(CHAT)
        [debts_after] = await say(botapi, CHAT, "/debts")
    expected = "That button is no longer valid. Send /start to begin again."
    assert stale.text == expected and stale_debt.text == expected
    assert stale_verify.text == expected
    assert "€" not in stale.text
    assert debts_after.text.startswith("I can show debts only after confirming who you are.")


async def test_forget_can_be_declined_and_an_old_confirmation_expires(
    botapi, deps, sessions, person, clock
):
    async with running(deps, botapi):
        [confirm] = await say(botapi, CHAT, "/forget")
        [declined] = await press(botapi, CHAT, "No, keep everything")
        assert declined.text == "Nothing was changed."
        [confirm] = await say(botapi, CHAT, "/forget")
        clock.advance(minutes=11)
        yes = next(b for row in confirm.buttons for b in row if b["text"] == "Yes, forget me")
        await botapi.user_presses(CHAT, confirm.message_id, yes["callback_data"])
        [expired] = await botapi.wait_for_messages(CHAT)
    assert expired.text == "That button is no longer valid. Send /start to begin again."
    assert await link_count(sessions, CHAT) == 1


async def test_unknown_and_forged_callback_data_are_refused(botapi, deps, person):
    async with running(deps, botapi):
        [report] = await say(botapi, CHAT, "/debts")
        for data in ("debts:page:0", "debt:show:abc", "lang:de", "'; DROP TABLE chats;--", "x" * 64):
            await botapi.user_presses(CHAT, report.message_id, data, check=False)
            [reply] = await botapi.wait_for_messages(CHAT)
            assert reply.text == "That button is no longer valid. Send /start to begin again."


async def test_a_discreet_reminders_show_details_button_reveals_that_debt_in_place(
    botapi, deps, sessions, person
):
    from debtbot.i18n import translator
    from debtbot.telegram.render import discreet_teaser

    debt_id = await add_debt(sessions, reference="OC-7", person_id=person, amount="85.00",
                             served_on=date(2026, 11, 5))
    teaser = discreet_teaser(translator("en"), f"debt:show:{debt_id}")
    async with running(deps, botapi) as application:
        # What the one sender delivers for a discreet chat: the teaser and its button.
        sent = await application.bot.send_message(
            CHAT, teaser.text, reply_markup=teaser.markup, disable_notification=False
        )
        await botapi.user_presses(CHAT, sent.message_id, f"debt:show:{debt_id}")
        [details] = await botapi.wait_for_messages(CHAT)
    assert details.message_id == sent.message_id and details.edited
    assert details.text.startswith("Out-of-court fine\nReference: OC-7\n")
    assert "Due now: €85.00" in details.text
    assert details.button_texts == [
        "Pay €85.00 · OC-7", "Add the deadlines to my calendar", "◀ All my debts"
    ]
