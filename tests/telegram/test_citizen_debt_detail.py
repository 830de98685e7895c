"""The detail view one tap from /debts: every deadline past and ahead with what happens then,
penalty points, how to object, where to go in person; and debts with no clock."""

from __future__ import annotations

from datetime import date

import pytest
from citizen_harness import Clock, add_debt, add_person, link_person, make_deps, running, say

CHAT = 5401


@pytest.fixture
def clock() -> Clock:
    return Clock()  # 23 November 2026, 12:00 in Nicosia


@pytest.fixture
def deps(botapi, sessions, database_url, clock):
    return make_deps(botapi, sessions, database_url, clock)


@pytest.fixture
async def person(sessions) -> int:
    person_id = await add_person(sessions)
    await link_person(sessions, CHAT, person_id)
    return person_id


async def test_a_day_10_camera_fine_shows_every_deadline_one_tap_from_debts(
    botapi, deps, sessions, person
):
    await add_debt(sessions, reference="OC-10", person_id=person, served_on=date(2026, 11, 13))
    async with running(deps, botapi):
        [report] = await say(botapi, CHAT, "/debts")
        # /debts names the next deadline that costs money, not the driver nomination. Day 30
        # is Sunday 13 December: Cap. 1 art. 31 moves the last day to Monday 14.
        assert "Next deadline: 14 December 2026 (Surcharge)" in report.text
        await botapi.user_presses_button(CHAT, "Details · OC-10")
        [detail] = await botapi.wait_for_messages(CHAT)
    text = detail.text
    assert detail.edited
    assert "Date of service: 13 November 2026" in text
    assert "✓ 17 November 2026: payment opened." in text  # note 1: from the end of the day
    assert ("⏳ 28 November 2026, Name the driver. After that day: The period for the "
            "registered owner to name the driver ends.") in text
    assert ("⏳ 14 December 2026, Surcharge. After that day: A surcharge is added to the "
            "amount. From the next day the amount is €150.00. (legal basis: Regulations 2021, "
            "form Type E, note 3)") in text
    assert "⏳ 28 December 2026, Prosecution." in text
    assert "From 15 December 2026: €150.00" in text
    assert "Paying accepts the penalty points." in text
    assert "(legal basis: Regulations 2021, form Type E, notes 6 and 8)" in text
    assert "send Part II of the notice" in text and "within 15 days" in text
    assert "Where to go in person\nCyprus Police\n• Any police station (the nearest)" in text
    assert detail.button_texts == [
        "Pay €100.00 · OC-10", "Add the deadlines to my calendar", "◀ All my debts"
    ]


async def test_an_administrative_fine_says_the_department_goes_to_court_after_the_deadline(
    botapi, deps, sessions, person
):
    await add_debt(sessions, reference="AF-1", person_id=person, kind="admin_fine",
                   amount="1500.00", served_on=date(2026, 11, 20),
                   authority="Τμήμα Οδικών Μεταφορών")
    async with running(deps, botapi):
        [report] = await say(botapi, CHAT, "/debts")
        await botapi.user_presses_button(CHAT, "Details · AF-1")
        [detail] = await botapi.wait_for_messages(CHAT)
    assert "Issued by: Road Transport Department" in report.text
    # Act on Friday 20 November: five days without Sunday 22 (Cap. 1 art. 31(δ)) end on
    # Thursday 26; the court 30 days later is Saturday 26 December, a public holiday, then
    # Sunday: Monday 28 December (art. 31(β)).
    assert ("Next deadline: 26 November 2026 (Payment deadline). After that day: The payment "
            "period ends. If the fine is still unpaid 30 days later, the Road Transport "
            "Department goes to court to collect it as a civil debt.") in report.text
    assert "The payment deadline passes" not in report.text
    assert "⏳ 28 December 2026, Court." in detail.text
    assert "(legal basis: Law 47(I)/2024, art. 23A(10))" in detail.text
    assert "representations" in detail.text and "written objection" in detail.text
    assert "Nicosia district office" in detail.text


async def test_a_fine_with_no_date_of_service_has_no_deadline_and_no_pay_button(
    botapi, deps, sessions, person
):
    await add_debt(sessions, reference="OC-NS", person_id=person, served_on=None)
    async with running(deps, botapi):
        [report] = await say(botapi, CHAT, "/debts")
        await botapi.user_presses_button(CHAT, "Details · OC-NS")
        [detail] = await botapi.wait_for_messages(CHAT)
    for text in (report.text, detail.text):
        assert "The registry has not recorded when the notice was served on you" in text
        assert "Next deadline" not in text and "⏳" not in text
    assert "Of which can be paid online now: €0.00" in report.text
    assert report.button_texts == ["Details · OC-NS"]
    assert detail.button_texts == ["◀ All my debts"]


async def test_the_detail_view_in_turkish_names_the_greek_registrys_authority_in_turkish(
    botapi, deps, sessions, person
):
    await add_debt(sessions, reference="CU-1", person_id=person, kind="customs",
                   amount="800.00", served_on=date(2026, 11, 20), authority="Τμήμα Τελωνείων")
    async with running(deps, botapi):
        await say(botapi, CHAT, "/language")
        await botapi.user_presses_button(CHAT, "Türkçe")
        await botapi.wait_for_messages(CHAT)
        [report] = await say(botapi, CHAT, "/debts")
        await botapi.user_presses_button(CHAT, "Ayrıntılar · CU-1")
        [detail] = await botapi.wait_for_messages(CHAT)
    assert "Gümrük ve Rüsumat Dairesi" in report.text and "Τελωνείων" not in report.text
    assert "94(I)/2004 sayılı Gümrük Kodu Yasası, madde 112" in detail.text


async def test_the_registrys_surcharge_date_is_the_one_shown(botapi, deps, sessions, person):
    from sqlalchemy import update

    from debtbot.store.models import DebtRow

    await add_debt(sessions, reference="OC-REG", person_id=person, served_on=date(2026, 11, 1))
    async with sessions() as session, session.begin():
        # The rulebook's surcharge starts 2 December 2026; the registry says 5 December.
        await session.execute(update(DebtRow).values(surcharge_on=date(2026, 12, 5)))
    async with running(deps, botapi):
        [report] = await say(botapi, CHAT, "/debts")
        await botapi.user_presses_button(CHAT, "Details · OC-REG")
        [detail] = await botapi.wait_for_messages(CHAT)
    assert "Next deadline: 4 December 2026 (Surcharge)" in report.text
    assert "⏳ 4 December 2026, Surcharge." in detail.text
    assert "From 5 December 2026: €150.00" in detail.text
