"""Out-of-court fines: Regulations of 2021, form Type E notes 1, 3, 4, 9 (LEGAL_RULES.md s. 1),
with periods counted by the Interpretation Law (Cap. 1), art. 31."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from debtbot.domain.amounts import amount_due
from debtbot.domain.calendar import NICOSIA, end_of_day
from debtbot.domain.debts import Debt, DebtKind
from debtbot.domain.milestones import MilestoneKind, milestones, next_milestone
from debtbot.domain.rules import DEFAULT_RULEBOOK, OutOfCourtFineRules, Rulebook

SERVED = date(2026, 5, 4)  # day 0; day 30 = 3 June, day 45 = 18 June (summer time)


def nicosia(year, month, day, hour=0, minute=0, second=0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=NICOSIA).astimezone(UTC)


def fine(amount="100.00", served_on=SERVED, **extra) -> Debt:
    return Debt(kind=DebtKind.OUT_OF_COURT_FINE, reference="OC-1", amount=Decimal(amount),
                served_on=served_on, **extra)


def by_kind(debt, rulebook=DEFAULT_RULEBOOK):
    return {m.kind: m for m in milestones(debt, rulebook=rulebook)}


def test_not_payable_online_before_72_hours_after_service():
    due = amount_due(fine(), nicosia(2026, 5, 7, 23, 59))
    assert not due.payable
    assert due.payable_from == nicosia(2026, 5, 8, 0, 0)
    assert due.total == Decimal("100.00")
    assert due.clock_running


def test_payable_from_72_hours_after_the_end_of_the_service_day_note_1():
    # Only the date of service known: the notice may have been served at 23:59, so 72 hours
    # are counted from the end of that day (the safe end of the 24-72 hours).
    debt = fine()
    opening = by_kind(debt)[MilestoneKind.PAYABLE_FROM]
    assert opening.takes_effect == end_of_day(SERVED) + timedelta(hours=72)
    assert opening.last_day == date(2026, 5, 8)
    assert str(opening.legal_basis) == "Regulations 2021, form Type E, note 1"
    assert not amount_due(debt, nicosia(2026, 5, 7, 18, 0)).payable
    due = amount_due(debt, nicosia(2026, 5, 8, 0, 0))
    assert due.payable and due.payable_from is None


def test_payable_from_72_hours_after_the_time_of_service_note_1():
    # Served at 18:00: payable from 18:00 three days later, not from midnight before it.
    debt = fine(served_at=nicosia(2026, 5, 4, 18, 0))
    opening = by_kind(debt)[MilestoneKind.PAYABLE_FROM]
    assert opening.takes_effect == nicosia(2026, 5, 7, 18, 0)
    assert opening.last_day == date(2026, 5, 7)
    before = amount_due(debt, nicosia(2026, 5, 7, 17, 59))
    assert not before.payable and before.payable_from == nicosia(2026, 5, 7, 18, 0)
    assert amount_due(debt, nicosia(2026, 5, 7, 18, 0)).payable
    # The time of service moves nothing counted in days.
    assert by_kind(debt)[MilestoneKind.SURCHARGE] == by_kind(fine())[MilestoneKind.SURCHARGE]


def test_payable_from_counts_elapsed_hours_across_the_clock_change():
    # Served Friday 27 March 2026; its day ends at 00:00 on the 28th; clocks go forward on
    # the 29th: 72 hours later is 01:00 on the 31st.
    opening = by_kind(fine(served_on=date(2026, 3, 27)))[MilestoneKind.PAYABLE_FROM]
    assert opening.takes_effect == nicosia(2026, 3, 31, 1, 0)


def test_amount_on_the_notice_until_the_end_of_day_30():
    due = amount_due(fine(), nicosia(2026, 6, 3, 23, 59, 59))
    assert due.payable
    assert due.surcharge == Decimal("0.00")
    assert due.total == Decimal("100.00")
    assert due.surcharge_basis is None


def test_surcharge_applies_from_day_31_in_nicosia_time():
    debt = fine()
    before = amount_due(debt, nicosia(2026, 6, 3, 23, 59))
    after = amount_due(debt, nicosia(2026, 6, 4, 0, 0))
    assert before.total == Decimal("100.00")
    assert after.surcharge == Decimal("50.00")
    assert after.total == Decimal("150.00")
    assert str(after.surcharge_basis) == "Regulations 2021, form Type E, note 3"
    assert after.payable and not after.prosecution
    # 00:00 Nicosia (summer, UTC+3) is 21:00 UTC the evening before.
    assert nicosia(2026, 6, 4) == datetime(2026, 6, 3, 21, 0, tzinfo=UTC)


def test_surcharge_milestone_is_the_end_of_day_30():
    surcharge = by_kind(fine())[MilestoneKind.SURCHARGE]
    assert surcharge.last_day == date(2026, 6, 3)
    assert surcharge.takes_effect == nicosia(2026, 6, 4)
    assert surcharge.amount_after == Decimal("150.00")
    assert surcharge.payable_after and surcharge.reminder


def test_surcharge_is_half_the_original_amount_to_the_cent():
    debt = fine("85.05")
    due = amount_due(debt, nicosia(2026, 6, 10))
    assert due.surcharge == Decimal("42.53")  # 42.525 rounded half up
    assert due.total == Decimal("127.58")
    assert by_kind(debt)[MilestoneKind.SURCHARGE].amount_after == Decimal("127.58")


def test_surcharge_day_31_with_daylight_saving_starting_inside_the_period():
    # Served 10 March 2026 (winter, UTC+2); day 31 = 10 April (summer, UTC+3).
    debt = fine(served_on=date(2026, 3, 10))
    surcharge = by_kind(debt)[MilestoneKind.SURCHARGE]
    assert surcharge.last_day == date(2026, 4, 9)
    assert surcharge.takes_effect == datetime(2026, 4, 9, 21, 0, tzinfo=UTC)
    assert amount_due(debt, datetime(2026, 4, 9, 20, 59, 59, tzinfo=UTC)).total == Decimal(100)
    assert amount_due(debt, datetime(2026, 4, 9, 21, 0, tzinfo=UTC)).total == Decimal(150)


def test_surcharge_day_31_with_daylight_saving_ending_inside_the_period():
    # Served 10 October 2026 (summer, UTC+3); day 31 = 10 November (winter, UTC+2).
    debt = fine(served_on=date(2026, 10, 10))
    surcharge = by_kind(debt)[MilestoneKind.SURCHARGE]
    assert surcharge.takes_effect == datetime(2026, 11, 9, 22, 0, tzinfo=UTC)
    # 23:30 Nicosia on day 30 is 21:30 UTC: a UTC-offset mistake would surcharge already.
    assert amount_due(debt, nicosia(2026, 11, 9, 23, 30)).total == Decimal("100.00")
    assert amount_due(debt, nicosia(2026, 11, 10, 0, 0)).total == Decimal("150.00")


def test_still_payable_with_surcharge_at_the_end_of_day_45():
    due = amount_due(fine(), nicosia(2026, 6, 18, 23, 59, 59))
    assert due.payable and not due.prosecution
    assert due.total == Decimal("150.00")


def test_prosecution_after_day_45_no_longer_payable():
    debt = fine()
    due = amount_due(debt, nicosia(2026, 6, 19, 0, 0))
    assert not due.payable
    assert due.prosecution
    assert due.payable_from is None
    prosecution = by_kind(debt)[MilestoneKind.PROSECUTION]
    assert prosecution.last_day == date(2026, 6, 18)
    assert prosecution.takes_effect == nicosia(2026, 6, 19)
    assert not prosecution.payable_after
    assert prosecution.amount_after is None
    assert str(prosecution.legal_basis) == "Regulations 2021, form Type E, note 4"
    assert prosecution.reminder


def test_driver_nomination_within_15_days_without_reminder_by_default():
    nomination = by_kind(fine())[MilestoneKind.DRIVER_NOMINATION]
    assert nomination.last_day == date(2026, 5, 19)
    assert nomination.takes_effect == nicosia(2026, 5, 20)
    assert str(nomination.legal_basis) == "Regulations 2021, form Type E, note 9"
    assert nomination.amount_after is None and nomination.payable_after
    assert not nomination.reminder


def test_driver_nomination_reminder_is_a_rule_set_flag():
    rulebook = Rulebook(out_of_court_fines=(OutOfCourtFineRules(remind_driver_nomination=True),))
    assert by_kind(fine(), rulebook)[MilestoneKind.DRIVER_NOMINATION].reminder


def test_milestones_are_sorted_and_cite_their_legal_basis():
    found = milestones(fine())
    assert [m.kind for m in found] == [
        MilestoneKind.PAYABLE_FROM, MilestoneKind.DRIVER_NOMINATION,
        MilestoneKind.SURCHARGE, MilestoneKind.PROSECUTION,
    ]
    assert [m.takes_effect for m in found] == sorted(m.takes_effect for m in found)
    assert all(str(m.legal_basis).startswith("Regulations 2021, form Type E, note") for m in found)
    assert all(m.takes_effect.tzinfo is not None for m in found)


def test_next_milestone_is_the_first_not_yet_in_effect():
    debt = fine()
    assert next_milestone(debt, nicosia(2026, 5, 25)).kind is MilestoneKind.SURCHARGE
    assert next_milestone(debt, nicosia(2026, 6, 4)).kind is MilestoneKind.PROSECUTION
    assert next_milestone(debt, nicosia(2026, 6, 19)) is None


def test_not_served_yet_has_no_running_clock():
    debt = fine(served_on=None)
    assert milestones(debt) == ()
    assert next_milestone(debt, nicosia(2026, 6, 19)) is None
    due = amount_due(debt, nicosia(2030, 1, 1))
    assert not due.clock_running
    assert due.total == Decimal("100.00") and due.surcharge == Decimal("0.00")
    assert not due.prosecution


def test_default_periods_are_the_seeds_30_and_45_days():
    rules = DEFAULT_RULEBOOK.out_of_court_fine(SERVED)
    assert (rules.surcharge_days, rules.prosecution_days) == (30, 45)
    assert rules.surcharge_rate == Decimal("0.5")


# The reported 2025 change (90 days before the surcharge, 105 before prosecution) is not
# confirmed, so it lives here as an example version, not in DEFAULT_RULEBOOK.
LONGER_FROM = date(2025, 6, 1)
LONGER_PERIODS = DEFAULT_RULEBOOK.with_version(
    OutOfCourtFineRules(effective_from=LONGER_FROM, surcharge_days=90, prosecution_days=105,
                        surcharge_basis="Amending Regulations 2025 (example)")
)


def test_later_rule_version_applies_to_fines_served_on_or_after_its_date():
    debt = fine(served_on=LONGER_FROM)
    found = by_kind(debt, LONGER_PERIODS)
    assert found[MilestoneKind.SURCHARGE].last_day == date(2025, 8, 30)  # day 90
    # Day 105 is Sunday 14 September: Cap. 1 art. 31(β) runs the period to Monday.
    assert found[MilestoneKind.PROSECUTION].last_day == date(2025, 9, 15)
    on_day_31 = amount_due(debt, nicosia(2025, 7, 2), rulebook=LONGER_PERIODS)
    assert on_day_31.total == Decimal("100.00")
    on_day_91 = amount_due(debt, nicosia(2025, 8, 31), rulebook=LONGER_PERIODS)
    assert on_day_91.total == Decimal("150.00")
    assert str(on_day_91.surcharge_basis) == "Amending Regulations 2025 (example)"


def test_earlier_rule_version_still_judges_fines_served_before_the_change():
    debt = fine(served_on=LONGER_FROM - timedelta(days=1))
    found = by_kind(debt, LONGER_PERIODS)
    assert found[MilestoneKind.SURCHARGE].last_day == date(2025, 6, 30)  # day 30
    assert found[MilestoneKind.PROSECUTION].last_day == date(2025, 7, 15)  # day 45
    assert str(found[MilestoneKind.SURCHARGE].legal_basis) == "Regulations 2021, form Type E, note 3"


def test_kind_given_as_plain_text_follows_the_same_rules():
    as_text = Debt(kind="out_of_court_fine", reference="OC-1", amount=Decimal("100.00"),
                   served_on=SERVED)
    assert milestones(as_text) == milestones(fine())


def test_amount_due_refuses_a_naive_moment():
    with pytest.raises(ValueError):
        amount_due(fine(), datetime(2026, 6, 4, 0, 0))


# Cap. 1 art. 31(β): a last day that is a Sunday or a public holiday moves to the next day
# that is neither (the cases an audit of the domain found).


def test_prosecution_day_45_on_a_sunday_still_payable_on_monday_art_31():
    # Served 7 May 2026: day 45 is Sunday 21 June; Monday 22 June is still in time.
    debt = fine(served_on=date(2026, 5, 7))
    prosecution = by_kind(debt)[MilestoneKind.PROSECUTION]
    assert prosecution.last_day == date(2026, 6, 22)
    assert prosecution.takes_effect == nicosia(2026, 6, 23)
    monday = amount_due(debt, nicosia(2026, 6, 22, 23, 59))
    assert monday.payable and not monday.prosecution and monday.total == Decimal("150.00")
    tuesday = amount_due(debt, nicosia(2026, 6, 23))
    assert tuesday.prosecution and not tuesday.payable


def test_surcharge_day_30_on_a_sunday_added_from_tuesday_art_31():
    # Served 1 October 2027: day 30 is Sunday 31 October; the 50 % from 2 November.
    debt = fine(served_on=date(2027, 10, 1))
    surcharge = by_kind(debt)[MilestoneKind.SURCHARGE]
    assert surcharge.last_day == date(2027, 11, 1)
    assert surcharge.takes_effect == nicosia(2027, 11, 2)
    assert amount_due(debt, nicosia(2027, 11, 1, 23, 59)).total == Decimal("100.00")
    assert amount_due(debt, nicosia(2027, 11, 2)).total == Decimal("150.00")


def test_surcharge_day_30_on_easter_monday_added_from_15_april_art_31():
    # Served 14 March 2026: day 30 is Easter Monday 13 April; Easter Tuesday is a closure
    # day, not a public holiday, so the period ends on it and the 50 % comes on the 15th.
    debt = fine(served_on=date(2026, 3, 14))
    surcharge = by_kind(debt)[MilestoneKind.SURCHARGE]
    assert surcharge.last_day == date(2026, 4, 14)
    assert amount_due(debt, nicosia(2026, 4, 14, 23, 59)).total == Decimal("100.00")
    assert amount_due(debt, nicosia(2026, 4, 15)).total == Decimal("150.00")


def test_prosecution_day_45_on_christmas_day_moves_past_boxing_day_and_sunday_art_31():
    # Served 10 November 2026: day 45 is Friday 25 December; 26th a holiday, 27th a Sunday.
    debt = fine(served_on=date(2026, 11, 10))
    prosecution = by_kind(debt)[MilestoneKind.PROSECUTION]
    assert prosecution.last_day == date(2026, 12, 28)
    assert prosecution.takes_effect == nicosia(2026, 12, 29)
    assert amount_due(debt, nicosia(2026, 12, 28, 12, 0)).payable
    assert amount_due(debt, nicosia(2026, 12, 29)).prosecution


def test_driver_nomination_day_15_on_a_sunday_moves_to_monday_art_31():
    # Served 6 June 2026: day 15 is Sunday 21 June.
    nomination = by_kind(fine(served_on=date(2026, 6, 6)))[MilestoneKind.DRIVER_NOMINATION]
    assert nomination.last_day == date(2026, 6, 22)
    assert nomination.takes_effect == nicosia(2026, 6, 23)


def test_surcharge_day_30_on_a_sunday_before_a_holiday_moves_two_days_art_31():
    # Served 1 May 2026: day 30 is Sunday 31 May, and Monday 1 June is Pentecost Monday.
    surcharge = by_kind(fine(served_on=date(2026, 5, 1)))[MilestoneKind.SURCHARGE]
    assert surcharge.last_day == date(2026, 6, 2)
    assert surcharge.takes_effect == nicosia(2026, 6, 3)


def test_periods_ending_on_a_saturday_are_not_moved_art_31():
    # Served 30 April 2026: day 30 is Saturday 30 May; Saturday is not an excluded day.
    surcharge = by_kind(fine(served_on=date(2026, 4, 30)))[MilestoneKind.SURCHARGE]
    assert surcharge.last_day == date(2026, 5, 30)


def test_prosecution_counts_45_days_from_service_not_15_from_a_moved_day_30_note_3():
    # Served 1 October 2027: day 30 (Sunday 31 October) moves to 1 November, but day 45 is
    # Monday 15 November: the "15 more days" are 45 from service (note 3's parenthesis).
    found = by_kind(fine(served_on=date(2027, 10, 1)))
    assert found[MilestoneKind.SURCHARGE].last_day == date(2027, 11, 1)
    assert found[MilestoneKind.PROSECUTION].last_day == date(2027, 11, 15)
