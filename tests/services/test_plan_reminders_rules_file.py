"""The planner follows the rule book built at start: a DEBTBOT_RULES_FILE version for fines
served from its date, the settings that are rules (lead times, the warrant period)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from reminder_seed import (
    SERVED,
    SURCHARGE_FROM,
    Clock,
    add_citizen,
    add_debt,
    make_deps,
    outbox_rows,
)

from debtbot.rulebook import load_rulebook
from debtbot.services.deps import Deps
from debtbot.services.plan_reminders import plan_reminders

# Takes effect the day after SERVED: SERVED's fine keeps 30 days, a later one has 90.
LONGER_PERIODS = """
[[version]]
kind = "out_of_court_fine"
effective_from = 2026-11-03
surcharge_days = 90
prosecution_days = 105
basis = "Law 99(I)/2026"
"""


def with_rules_file(deps: Deps, tmp_path: Path) -> Deps:
    path = tmp_path / "rules.toml"
    path.write_text(LONGER_PERIODS, encoding="utf-8")
    settings = deps.settings.model_copy(update={"rules_file": path})
    return Deps(settings=settings, sessions=deps.sessions, clock=deps.clock,
                rulebook=load_rulebook(settings))


async def test_reminders_follow_the_file_version_for_fines_served_from_its_date(
    sessions, tmp_path
):
    clock = Clock()  # 26 November 2026: the 7-day reminder before SERVED's day-30 surcharge
    deps = with_rules_file(make_deps(sessions, clock), tmp_path)
    before = await add_debt(sessions, reference="OC-BEFORE", served_on=SERVED,
                            person_id=await add_citizen(sessions, chat_id=42))
    after = await add_debt(sessions, reference="OC-AFTER", served_on=date(2026, 11, 3),
                           person_id=await add_citizen(sessions, chat_id=43))

    await plan_reminders(deps)
    # 90 days from 3 November end on Monday 1 February 2027: the 7-day reminder is due on
    # 26 January (00:00 on 2 February, the threshold, less 7 days) in Nicosia.
    clock.now = datetime(2027, 1, 26, 8, 0, tzinfo=UTC)
    await plan_reminders(deps)

    rows = await outbox_rows(sessions)
    assert [(row.dedupe_key, row.expires_at) for row in rows] == [
        (f"reminder:{before}:surcharge:7:42", SURCHARGE_FROM),  # as without the file
        (f"reminder:{after}:surcharge:7:43", datetime(2027, 2, 1, 22, 0, tzinfo=UTC)),
    ]
    assert "1 February 2027" in rows[1].payload["text"]


async def test_without_the_file_the_later_fine_is_reminded_before_day_30(sessions):
    deps = make_deps(sessions, Clock(datetime(2026, 11, 27, 8, 0, tzinfo=UTC)))
    after = await add_debt(sessions, reference="OC-AFTER", served_on=date(2026, 11, 3),
                           person_id=await add_citizen(sessions, chat_id=43))

    await plan_reminders(deps)

    assert [row.dedupe_key for row in await outbox_rows(sessions)] == [
        f"reminder:{after}:surcharge:7:43"
    ]


async def test_the_lead_times_and_warrant_period_settings_reach_the_planner(sessions):
    """Issue #11's bug: the settings that are rules now reach the rule book the planner uses."""
    clock = Clock(datetime(2026, 11, 26, 8, 0, tzinfo=UTC))
    deps = make_deps(sessions, clock, reminder_lead_days=[3], warrant_reminder_every_days=14)
    person = await add_citizen(sessions, chat_id=42)
    warrant = await add_debt(sessions, reference="W1", person_id=person, kind="fine_warrant",
                             served_on=date(2026, 10, 29))  # 28 days before: two periods
    fine = await add_debt(sessions, reference="OC-1", person_id=person,
                          served_on=date(2026, 10, 29))  # day 30: Saturday 28 November

    await plan_reminders(deps)

    assert deps.rulebook.fine_warrant(None).reminder_every_days == 14
    assert [row.dedupe_key for row in await outbox_rows(sessions)] == [
        f"reminder:{fine}:surcharge:3:42",
        f"reminder:{warrant}:warrant-2026-11-26:0:42",
    ]
