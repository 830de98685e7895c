"""The reminder planner: one row per (debt, threshold, lead, chat), planned once, set-based."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

from reminder_seed import (
    NINE_AM_26TH,
    SERVED,
    SURCHARGE_FROM,
    Clock,
    add_citizen,
    add_company_chat,
    add_debt,
    audit_actions,
    make_deps,
    outbox_rows,
)

from debtbot.services.plan_reminders import plan_reminders, preview_reminders


async def test_seven_days_before_the_surcharge_one_reminder_is_planned_once(sessions):
    deps = make_deps(sessions)
    person = await add_citizen(sessions, chat_id=42)
    debt = await add_debt(sessions, reference="AB123", person_id=person)

    first = await plan_reminders(deps)
    again = await plan_reminders(deps)

    [row] = await outbox_rows(sessions)
    assert (first.planned, again.planned) == (1, 0)
    assert row.dedupe_key == f"reminder:{debt}:surcharge:7:42"
    assert row.chat_id == 42 and row.debt_id == debt and row.purpose == "reminder"
    assert row.not_before == NINE_AM_26TH  # 00:00 is in quiet hours: 09:00 Nicosia
    assert row.expires_at == SURCHARGE_FROM
    text = row.payload["text"]
    assert "Out-of-court fine AB123" in text
    assert "€100.00" in text and "€150.00" in text  # now, and after the threshold
    assert "2 December 2026" in text and "in 6 days" in text
    assert "surcharge" in text.lower()
    [[button]] = row.payload["buttons"]
    assert button["text"] == "Pay €100.00"
    assert button["url"].endswith("reference=AB123")


async def test_the_day_before_the_surcharge_the_one_day_reminder_is_planned(sessions):
    clock = Clock(datetime(2026, 12, 2, 6, 0, tzinfo=UTC))  # 08:00 on day 30
    deps = make_deps(sessions, clock)
    person = await add_citizen(sessions, chat_id=42)
    debt = await add_debt(sessions, reference="AB123", person_id=person)

    await plan_reminders(deps)

    [row] = await outbox_rows(sessions)
    assert row.dedupe_key == f"reminder:{debt}:surcharge:1:42"
    assert "The last day is today" in row.payload["text"]


async def test_paid_cancelled_and_withdrawn_debts_get_nothing(sessions):
    deps = make_deps(sessions)
    person = await add_citizen(sessions, chat_id=42)
    for status in ("paid", "cancelled", "withdrawn"):
        await add_debt(sessions, reference=f"R-{status}", person_id=person, status=status)

    report = await plan_reminders(deps)

    assert report.planned == 0
    assert await outbox_rows(sessions) == []


async def test_chats_that_cannot_or_will_not_hear_get_nothing(sessions):
    deps = make_deps(sessions)
    later = datetime(2026, 12, 3, tzinfo=UTC)
    chats = [
        dict(chat_id=1, active=False),
        dict(chat_id=2, reminders_enabled=False),
        dict(chat_id=3, muted_kinds=["out_of_court_fine"]),
        dict(chat_id=4, snoozed_until=later),
        dict(chat_id=5, muted_kinds=["tax"]),  # muting another kind changes nothing
    ]
    for options in chats:
        person = await add_citizen(sessions, **options)
        await add_debt(sessions, reference=f"R{options['chat_id']}", person_id=person)

    await plan_reminders(deps)

    assert [row.chat_id for row in await outbox_rows(sessions)] == [5]


async def test_a_company_debt_reaches_the_representatives_chat(sessions):
    deps = make_deps(sessions)
    company = await add_company_chat(sessions, chat_id=77, language="en")
    await add_debt(sessions, reference="C1", company_id=company)

    await plan_reminders(deps)

    [row] = await outbox_rows(sessions)
    assert row.chat_id == 77


async def test_a_discreet_chat_is_told_neither_kind_nor_amount(sessions):
    deps = make_deps(sessions)
    person = await add_citizen(sessions, chat_id=42, discreet=True)
    debt = await add_debt(sessions, reference="AB123", person_id=person)

    await plan_reminders(deps)

    [row] = await outbox_rows(sessions)
    text = row.payload["text"]
    assert "€" not in text and "fine" not in text.lower() and "AB123" not in text
    assert row.payload["buttons"] == [[{"text": "Show details",
                                        "callback_data": f"debt:show:{debt}"}]]


async def test_a_reminder_whose_day_passed_while_down_goes_out_if_its_threshold_is_ahead(
    sessions,
):
    clock = Clock(datetime(2026, 11, 20, 8, 0, tzinfo=UTC))
    deps = make_deps(sessions, clock)
    person = await add_citizen(sessions, chat_id=42)
    debt = await add_debt(sessions, reference="AB123", person_id=person)
    await plan_reminders(deps)  # 20 November: nothing due yet
    clock.now = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)  # down from 20 to 29 November

    report = await plan_reminders(deps)

    [row] = await outbox_rows(sessions)
    assert report.planned == 1 and report.dropped == 0
    assert row.dedupe_key == f"reminder:{debt}:surcharge:7:42"
    assert row.status == "pending"


async def test_a_reminder_whose_threshold_passed_while_down_is_dropped_and_recorded(sessions):
    clock = Clock(datetime(2026, 11, 20, 8, 0, tzinfo=UTC))
    deps = make_deps(sessions, clock)
    person = await add_citizen(sessions, chat_id=42)
    debt = await add_debt(sessions, reference="AB123", person_id=person)
    await plan_reminders(deps)
    clock.now = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)  # the surcharge applies since 3 Dec

    report = await plan_reminders(deps)

    rows = {row.dedupe_key: row.status for row in await outbox_rows(sessions)}
    assert rows == {
        f"reminder:{debt}:surcharge:7:42": "dropped",
        f"reminder:{debt}:surcharge:1:42": "dropped",
        # The news that the surcharge applies is told, late, once (issue #16).
        f"reminder:{debt}:passed.surcharge:0:42": "pending",
    }
    assert report.dropped == 2 and report.news == 1
    assert ("reminders.dropped", 2) in await audit_actions(sessions)


async def test_prosecution_reminders_follow_the_surcharge_ones(sessions):
    clock = Clock(datetime(2026, 12, 11, 8, 0, tzinfo=UTC))  # 7 days before day 46
    deps = make_deps(sessions, clock)
    person = await add_citizen(sessions, chat_id=42)
    debt = await add_debt(sessions, reference="AB123", person_id=person)

    await plan_reminders(deps)

    [row] = await outbox_rows(sessions)
    assert row.dedupe_key == f"reminder:{debt}:prosecution:7:42"
    text = row.payload["text"]
    assert "€150.00" in text  # surcharged since 3 December
    assert "criminal prosecution" in text


async def test_a_tax_debt_is_reminded_before_its_due_date(sessions):
    clock = Clock(datetime(2026, 12, 9, 8, 0, tzinfo=UTC))  # 7 days before the 16th
    deps = make_deps(sessions, clock)
    person = await add_citizen(sessions, chat_id=42)
    debt = await add_debt(sessions, reference="T1", person_id=person, kind="tax",
                          amount="1000.00", served_on=None, due_on=date(2026, 12, 15))

    await plan_reminders(deps)

    [row] = await outbox_rows(sessions)
    assert row.dedupe_key == f"reminder:{debt}:payment_due:7:42"
    assert "€1,050.00" in row.payload["text"]  # art. 8(1): 5 % once it is late


async def test_a_fine_warrant_is_reminded_every_30_days(sessions):
    clock = Clock(datetime(2026, 11, 26, 8, 0, tzinfo=UTC))
    deps = make_deps(sessions, clock)
    person = await add_citizen(sessions, chat_id=42)
    debt = await add_debt(sessions, reference="W1", person_id=person, kind="fine_warrant",
                          served_on=date(2026, 9, 27))  # 60 days before

    await plan_reminders(deps)
    clock.advance(days=1)
    await plan_reminders(deps)
    clock.advance(days=29)  # 26 December: the next cycle
    await plan_reminders(deps)

    keys = [row.dedupe_key for row in await outbox_rows(sessions)]
    assert keys == [f"reminder:{debt}:warrant-2026-11-26:0:42",
                    f"reminder:{debt}:warrant-2026-12-26:0:42"]


async def test_two_planners_at_once_plan_each_reminder_once(sessions):
    deps = make_deps(sessions)
    for chat_id in range(1, 21):
        person = await add_citizen(sessions, chat_id=chat_id)
        await add_debt(sessions, reference=f"R{chat_id}", person_id=person)

    reports = await asyncio.gather(plan_reminders(deps), plan_reminders(deps))

    rows = await outbox_rows(sessions)
    assert len(rows) == 20
    assert len({row.dedupe_key for row in rows}) == 20
    assert sum(report.planned for report in reports) == 20


async def test_preview_counts_a_days_reminders_per_kind_and_language_without_writing(sessions):
    deps = make_deps(sessions)
    for chat_id, language in [(1, "el"), (2, "el"), (3, "tr")]:
        person = await add_citizen(sessions, chat_id=chat_id, language=language)
        await add_debt(sessions, reference=f"R{chat_id}", person_id=person)

    lines = await preview_reminders(deps, day=SERVED + timedelta(days=24))

    assert [(line.kind, line.language, line.milestone, line.count) for line in lines] == [
        ("out_of_court_fine", "el", "surcharge", 2),
        ("out_of_court_fine", "tr", "surcharge", 1),
    ]
    assert await outbox_rows(sessions) == []


async def test_reminders_follow_period_ends_moved_past_sundays_and_holidays(sessions):
    # Served 1, 2 and 3 May 2026: day 30 is Sunday 31 May, Monday 1 June (Pentecost
    # Monday) and Tuesday 2 June. Cap. 1 art. 31 ends all three periods on 2 June, so all
    # three are reminded the day before the surcharge on 2 June, none on the holiday.
    clock = Clock(datetime(2026, 5, 31, 21, 0, tzinfo=UTC))  # 00:00 on 1 June
    deps = make_deps(sessions, clock)
    person = await add_citizen(sessions, chat_id=42)
    debts = [
        await add_debt(sessions, reference=f"M{day}", person_id=person,
                       served_on=date(2026, 5, day))
        for day in (1, 2, 3)
    ]
    await plan_reminders(deps)
    on_the_holiday = {row.dedupe_key for row in await outbox_rows(sessions)}
    assert not any(":surcharge:1:" in key for key in on_the_holiday)

    clock.now = datetime(2026, 6, 1, 21, 0, tzinfo=UTC)  # 00:00 on 2 June
    await plan_reminders(deps)

    rows = {row.dedupe_key: row for row in await outbox_rows(sessions)}
    for debt in debts:
        row = rows[f"reminder:{debt}:surcharge:1:42"]
        assert row.expires_at == datetime(2026, 6, 2, 21, 0, tzinfo=UTC)  # 00:00 on 3 June
        assert "The last day is today" in row.payload["text"]


async def test_the_prosecution_reminder_comes_on_the_monday_when_day_45_is_a_sunday(sessions):
    # Served 7 May 2026: day 45 is Sunday 21 June, the period ends on Monday 22 June.
    clock = Clock(datetime(2026, 6, 21, 6, 0, tzinfo=UTC))  # Sunday, 09:00 in Nicosia
    deps = make_deps(sessions, clock)
    person = await add_citizen(sessions, chat_id=42)
    debt = await add_debt(sessions, reference="S45", person_id=person,
                          served_on=date(2026, 5, 7))
    await plan_reminders(deps)
    keys = {row.dedupe_key for row in await outbox_rows(sessions)}
    assert keys == {f"reminder:{debt}:prosecution:7:42"}

    clock.now = datetime(2026, 6, 22, 6, 0, tzinfo=UTC)  # Monday
    await plan_reminders(deps)

    rows = {row.dedupe_key: row for row in await outbox_rows(sessions)}
    last = rows[f"reminder:{debt}:prosecution:1:42"]
    assert last.expires_at == datetime(2026, 6, 22, 21, 0, tzinfo=UTC)  # 00:00 on 23 June
    assert "The last day is today" in last.payload["text"]
    assert "22 June 2026" in last.payload["text"]


async def test_the_registrys_surcharge_date_is_the_one_reminded_by(sessions):
    from sqlalchemy import update

    from debtbot.store.models import DebtRow

    # The rulebook's surcharge starts 3 December (its seven-day reminder is due now, on 26
    # November); the registry says 5 December: the reminder is due on 28 November.
    person = await add_citizen(sessions, chat_id=42)
    debt = await add_debt(sessions, reference="AB124", person_id=person)
    async with sessions() as session, session.begin():
        await session.execute(update(DebtRow).values(surcharge_on=date(2026, 12, 5)))
    clock = Clock()
    deps = make_deps(sessions, clock)

    early = await plan_reminders(deps)
    clock.now = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
    due = await plan_reminders(deps)

    assert early.planned == 0
    [row] = await outbox_rows(sessions)
    assert due.planned == 1 and row.dedupe_key == f"reminder:{debt}:surcharge:7:42"
    assert row.expires_at == datetime(2026, 12, 4, 22, 0, tzinfo=UTC)  # 5 December, 00:00
    assert "4 December 2026" in row.payload["text"]
