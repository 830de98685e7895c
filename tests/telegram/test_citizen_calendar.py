"""Add to calendar: the detail view's button sends an .ics (RFC 5545) of the deadlines ahead,
one event each with an alarm the day before, in Europe/Nicosia and the chat's language; a paid
or cancelled debt gets a short answer and no file."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from citizen_harness import Clock, add_debt, add_person, link_person, make_deps, running, say
from icalendar import Calendar
from sqlalchemy import update

from debtbot.store.models import Chat, DebtRow

CHAT = 5701
NICOSIA = ZoneInfo("Europe/Nicosia")


@pytest.fixture
def deps(botapi, sessions, database_url):
    return make_deps(botapi, sessions, database_url, Clock())  # 23 November 2026


@pytest.fixture
async def person(sessions) -> int:
    person_id = await add_person(sessions)
    await link_person(sessions, CHAT, person_id)
    return person_id


async def test_the_calendar_file_has_one_event_per_deadline_ahead_with_an_alarm(
    botapi, deps, sessions, person
):
    debt_id = await add_debt(sessions, reference="OC-10", person_id=person,
                             served_on=date(2026, 11, 13))
    async with sessions() as session, session.begin():
        await session.execute(update(Chat).values(language="el"))
    async with running(deps, botapi):
        [report] = await say(botapi, CHAT, "/debts")
        await botapi.user_presses(CHAT, report.message_id, f"debt:show:{debt_id}")
        await botapi.wait_for_messages(CHAT)
        await botapi.user_presses_button(CHAT, "Προσθήκη των προθεσμιών στο ημερολόγιό μου")
        [sent] = await botapi.wait_for_messages(CHAT)
    assert sent.kind == "document"
    assert sent.text.startswith("Οι προθεσμίες για την οφειλή OC-10")
    assert sent.file["filename"] == "deadlines-OC-10.ics"
    calendar = Calendar.from_ical(sent.file["content"])
    events = list(calendar.walk("VEVENT"))
    # Naming the driver (28/11), the surcharge (day 30 is Sunday 13/12: Cap. 1 art. 31 moves
    # it to 14/12), prosecution (28/12); payment opened on 17/11 is past.
    starts = [event.decoded("dtstart") for event in events]
    assert starts == [
        datetime(2026, 11, 28, 9, 0, tzinfo=NICOSIA),
        datetime(2026, 12, 14, 9, 0, tzinfo=NICOSIA),
        datetime(2026, 12, 28, 9, 0, tzinfo=NICOSIA),
    ]
    assert all(str(event["dtstart"].params["TZID"]) == "Europe/Nicosia" for event in events)
    assert list(calendar.walk("VTIMEZONE"))
    for event in events:
        [alarm] = event.walk("VALARM")
        assert alarm.decoded("trigger") == timedelta(days=-1)
    surcharge = events[1]
    assert str(surcharge["summary"]) == "Προσαύξηση: Εξώδικο πρόστιμο OC-10"
    description = str(surcharge["description"])
    assert "Από την επόμενη ημέρα το ποσό ανέρχεται σε 150,00" in description
    assert "Κανονισμοί 2021, Έντυπο Τύπου Ε, σημ. 3" in description


@pytest.mark.parametrize("status", ["paid", "cancelled"])
async def test_a_paid_or_cancelled_debt_gets_a_short_answer_and_no_file(
    botapi, deps, sessions, person, status
):
    debt_id = await add_debt(sessions, reference="OC-11", person_id=person,
                             served_on=date(2026, 11, 13))
    async with running(deps, botapi):
        [report] = await say(botapi, CHAT, "/debts")
        async with sessions() as session, session.begin():
            await session.execute(update(DebtRow).values(status=status))
        await botapi.user_presses(CHAT, report.message_id, f"debt:ics:{debt_id}", check=False)
        [answer] = await botapi.wait_for_messages(CHAT)
    assert answer.kind == "text"
    assert answer.text == (
        "This debt is no longer outstanding, so there are no deadlines to add to a calendar."
    )
    assert not any(call.method == "sendDocument" for call in botapi.calls)
