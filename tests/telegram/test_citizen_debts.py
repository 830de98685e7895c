"""/debts: each kind of debt, the surcharge on its own line with its legal basis, the
prosecution text without a Pay button, paging, totals, and nothing outstanding."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

import pytest
from citizen_harness import Clock, add_debt, add_person, link_person, make_deps, press, running, say

from dropped_connections import drop_pooled_connections

CHAT = 5301


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


async def test_out_of_court_fine_within_30_days_shows_amount_next_deadline_and_pay(
    botapi, deps, sessions, person
):
    await add_debt(sessions, reference="OC-1", person_id=person, served_on=date(2026, 11, 1))
    async with running(deps, botapi):
        [reply] = await say(botapi, CHAT, "/debts")
    assert reply.text == (
        "You have 1 outstanding debt.\n"
        "Total due now: €100.00\n\n"
        "1. Out-of-court fine\n"
        "Reference: OC-1\n"
        "Issued by: Cyprus Police\n"
        "Due now: €100.00\n"
        "⏳ Next deadline: 1 December 2026 (Surcharge). After that day: A surcharge is added "
        "to the amount.\n"
        "From the next day the amount is €150.00."
    )
    assert reply.buttons == [
        [
            {
                "text": "Pay €100.00 · OC-1",
                "url": "https://www.jccsmart.com/e-bill/police?reference=OC-1",
            },
            {"text": "Details · OC-1", "callback_data": "debt:show:1"},
        ]
    ]


async def test_surcharge_is_its_own_line_with_its_legal_basis(botapi, deps, sessions, person):
    await add_debt(sessions, reference="OC-2", person_id=person, served_on=date(2026, 10, 10))
    async with running(deps, botapi):
        [reply] = await say(botapi, CHAT, "/debts", language_code="en")
    lines = reply.text.splitlines()
    assert "Amount on the notice: €100.00" in lines
    assert "Surcharge: €50.00 (legal basis: Regulations 2021, form Type E, note 3)" in lines
    assert "Due now: €150.00" in lines
    assert any(
        line.startswith("⏳ Next deadline: tomorrow, 24 November 2026 (Prosecution).") for line in lines
    )
    assert reply.button_texts == ["Pay €150.00 · OC-2", "Details · OC-2"]


async def test_after_45_days_the_fine_has_gone_to_prosecution_and_has_no_pay_button(
    botapi, deps, sessions, person
):
    await add_debt(sessions, reference="OC-3", person_id=person, served_on=date(2026, 9, 1))
    async with running(deps, botapi):
        [reply] = await say(botapi, CHAT, "/debts")
    assert (
        "can no longer be paid out of court or online: the case has gone for criminal prosecution"
        in reply.text
    )
    assert "Contact your nearest police station" in reply.text
    assert reply.button_texts == ["Details · OC-3"]
    assert reply.text.startswith(
        "You have 1 outstanding debt.\n\n1. Out-of-court fine\nReference: OC-3\n"
        "Issued by: Cyprus Police\nAmount on the notice: €100.00\n⚠️ This fine was not paid"
    )
    assert "Due now" not in reply.text and "Total due now" not in reply.text


async def test_a_fine_whose_day_45_is_a_sunday_can_still_be_paid_on_monday(
    botapi, deps, sessions, person, clock
):
    # Served 7 May 2026: day 45 is Sunday 21 June; Cap. 1 art. 31(β) runs the period to the
    # end of Monday 22 June. On the Monday the fine is payable with its surcharge.
    await add_debt(sessions, reference="OC-45", person_id=person, served_on=date(2026, 5, 7))
    clock.now = datetime(2026, 6, 22, 9, 0, tzinfo=UTC)  # 12:00 in Nicosia
    async with running(deps, botapi):
        [monday] = await say(botapi, CHAT, "/debts")
        clock.now = datetime(2026, 6, 22, 21, 0, tzinfo=UTC)  # 00:00 on Tuesday
        [tuesday] = await say(botapi, CHAT, "/debts")
    assert "Due now: €150.00" in monday.text
    assert "Next deadline: today, 22 June 2026 (Prosecution). After that day" in monday.text
    assert monday.button_texts == ["Pay €150.00 · OC-45", "Details · OC-45"]
    assert "criminal prosecution" in tuesday.text
    assert tuesday.button_texts == ["Details · OC-45"]  # no Pay button any more


async def test_a_fine_whose_day_30_is_easter_monday_has_no_surcharge_on_easter_tuesday(
    botapi, deps, sessions, person, clock
):
    await add_debt(sessions, reference="OC-30", person_id=person, served_on=date(2026, 3, 14))
    clock.now = datetime(2026, 4, 14, 9, 0, tzinfo=UTC)
    async with running(deps, botapi):
        [reply] = await say(botapi, CHAT, "/debts")
    assert "Due now: €100.00" in reply.text
    assert "Next deadline: today, 14 April 2026 (Surcharge). After that day" in reply.text
    assert reply.button_texts == ["Pay €100.00 · OC-30", "Details · OC-30"]


@pytest.mark.parametrize(
    ("kind", "served_on", "due_on", "amount", "label", "expected"),
    [
        (
            "fine_warrant",
            date(2026, 5, 1),
            None,
            "250.00",
            "Fine warrant",
            "A court has issued a warrant for this fine.",
        ),
        (
            "admin_fine",
            date(2026, 11, 20),
            None,
            "1500.00",
            "Administrative fine",
            # 5 days from Friday 20 November, Sunday 22nd not counted (Cap. 1 art. 31(δ)).
            "⏳ Next deadline: 26 November 2026 (Payment deadline).",
        ),
        ("tax", None, date(2026, 11, 1), "2000.00", "Tax debt", "Surcharge: €100.00"),
        (
            "customs",
            date(2026, 11, 20),
            None,
            "800.00",
            "Customs debt",
            "⏳ Next deadline: 30 November 2026 (Offence).",
        ),
    ],
)
async def test_each_kind_is_named_and_explained(
    botapi, deps, sessions, person, kind, served_on, due_on, amount, label, expected
):
    await add_debt(
        sessions,
        reference="REF-9",
        person_id=person,
        kind=kind,
        amount=amount,
        served_on=served_on,
        due_on=due_on,
        authority="Authority",
    )
    async with running(deps, botapi):
        [reply] = await say(botapi, CHAT, "/debts")
    assert f"1. {label}\nReference: REF-9\nIssued by: Authority\n" in reply.text
    assert expected in reply.text
    assert len(reply.buttons) == 1 and reply.buttons[0][0]["url"].startswith(
        "https://www.jccsmart.com/"
    )


async def test_report_in_greek_and_turkish_formats_money_and_dates_for_cyprus(
    botapi, deps, sessions, person
):
    await add_debt(
        sessions, reference="OC-1", person_id=person, amount="1250.50", served_on=date(2026, 11, 1)
    )
    async with running(deps, botapi):
        await say(botapi, CHAT, "/language")
        await botapi.user_presses(CHAT, botapi.last_message(CHAT).message_id, "lang:el")
        await botapi.wait_for_messages(CHAT)
        [greek] = await say(botapi, CHAT, "/debts")
        await say(botapi, CHAT, "/language")
        await botapi.user_presses(CHAT, botapi.last_message(CHAT).message_id, "lang:tr")
        await botapi.wait_for_messages(CHAT)
        [turkish] = await say(botapi, CHAT, "/debts")
    assert "Έχετε 1 εκκρεμή οφειλή." in greek.text
    assert "Προς πληρωμή τώρα: 1.250,50\xa0€" in greek.text
    assert "Επόμενη προθεσμία: 1 Δεκεμβρίου 2026 (Προσαύξηση)" in greek.text
    assert greek.button_texts == ["Πληρωμή 1.250,50\xa0€ · OC-1", "Λεπτομέρειες · OC-1"]
    assert "Ödenmemiş 1 borcunuz var." in turkish.text
    assert "Şu an ödenecek tutar: €1.250,50" in turkish.text
    assert "Yaklaşan son tarih: 1 Aralık 2026 (Gecikme zammı)" in turkish.text


async def test_long_lists_page_with_inline_buttons(botapi, deps, sessions, person):
    for number in range(12):
        await add_debt(
            sessions,
            reference=f"OC-{number:02d}",
            person_id=person,
            served_on=date(2026, 11, 1 + number),
        )
    async with running(deps, botapi):
        [first] = await say(botapi, CHAT, "/debts")
        [second] = await press(botapi, CHAT, "Next ▶")
        [third] = await press(botapi, CHAT, "Next ▶")
        [back] = await press(botapi, CHAT, "◀ Previous")
    assert "You have 12 outstanding debts." in first.text and "Page 1 of 3" in first.text
    assert first.text.count("Reference: ") == 5
    assert first.button_texts[-1] == "Next ▶"
    assert "Total due now: €1,200.00" in first.text
    assert second.edited and "Page 2 of 3" in second.text
    assert second.button_texts[-2:] == ["◀ Previous", "Next ▶"]
    assert "Page 3 of 3" in third.text and third.text.count("Reference: ") == 2
    assert "Next ▶" not in third.button_texts
    assert "Page 2 of 3" in back.text
    assert "11. Out-of-court fine" in third.text


async def test_nothing_outstanding_is_said_clearly(botapi, deps, sessions, person):
    await add_debt(sessions, reference="PAID-1", person_id=person)
    async with sessions() as session, session.begin():
        from sqlalchemy import update

        from debtbot.store.models import DebtRow

        await session.execute(update(DebtRow).values(status="paid"))
    async with running(deps, botapi):
        [reply] = await say(botapi, CHAT, "/debts", language_code="tr")
    assert reply.text.startswith("Good news: there is nothing outstanding")
    assert reply.buttons == []


async def test_someone_elses_debt_button_shows_nothing(botapi, deps, sessions, person):
    other = await add_person(sessions, number="7654321", name="Eleni Nikolaou")
    other_debt = await add_debt(sessions, reference="SECRET-1", person_id=other)
    await add_debt(sessions, reference="MINE-1", person_id=person)
    async with running(deps, botapi):
        [reply] = await say(botapi, CHAT, "/debts")
        await botapi.user_presses(CHAT, reply.message_id, f"debt:show:{other_debt}", check=False)
        [refused] = await botapi.wait_for_messages(CHAT)
    assert refused.text == "That button is no longer valid. Send /start to begin again."
    assert "SECRET-1" not in refused.text


async def test_debts_still_answers_after_the_database_dropped_the_pooled_connections(
    botapi, deps, sessions, person, database_url, engine
):
    # No ping on a connection used moments ago (it costs round trips on every /debts): the
    # read fails on the dead connection and is retried once on a new one.
    if not database_url.startswith("postgresql"):
        pytest.skip("pg_terminate_backend is PostgreSQL's")
    await add_debt(sessions, reference="OC-9", person_id=person, served_on=date(2026, 11, 1))
    async with running(deps, botapi):
        [before] = await say(botapi, CHAT, "/debts")
        # The answer is out; the handler may still be noting the message it sent.
        for _ in range(200):
            if engine.sync_engine.pool.checkedout() == 0:
                break
            await asyncio.sleep(0.01)
        assert await drop_pooled_connections(engine, database_url)
        [after] = await say(botapi, CHAT, "/debts")
    assert after.text == before.text
    assert after.buttons == before.buttons
