"""Cyprus days: local midnight in UTC across daylight saving, periods as the Interpretation Law
(Cap. 1) art. 31 counts them, and the working days of an office."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import holidays
import pytest

from debtbot.domain.calendar import (
    NICOSIA,
    add_working_days,
    add_years,
    end_of_day,
    in_time_until,
    is_closure_day,
    is_excluded_day,
    is_working_day,
    local_date,
    local_wall_minus,
    orthodox_easter,
    period_end,
    start_of_day,
)


def test_start_of_day_is_2200_utc_in_winter():
    assert start_of_day(date(2026, 1, 15)) == datetime(2026, 1, 14, 22, 0, tzinfo=UTC)


def test_start_of_day_is_2100_utc_in_summer():
    assert start_of_day(date(2026, 7, 15)) == datetime(2026, 7, 14, 21, 0, tzinfo=UTC)


def test_start_of_day_on_the_days_the_clocks_change():
    # 2026: summer time from Sunday 29 March, winter time from Sunday 25 October.
    assert start_of_day(date(2026, 3, 29)) == datetime(2026, 3, 28, 22, 0, tzinfo=UTC)
    assert start_of_day(date(2026, 3, 30)) == datetime(2026, 3, 29, 21, 0, tzinfo=UTC)
    assert start_of_day(date(2026, 10, 25)) == datetime(2026, 10, 24, 21, 0, tzinfo=UTC)
    assert start_of_day(date(2026, 10, 26)) == datetime(2026, 10, 25, 22, 0, tzinfo=UTC)


def test_end_of_day_is_the_first_instant_of_the_next_local_day():
    assert end_of_day(date(2026, 3, 28)) == start_of_day(date(2026, 3, 29))
    # The day the clocks go forward is 23 hours long.
    assert end_of_day(date(2026, 3, 29)) - start_of_day(date(2026, 3, 29)) == timedelta(hours=23)
    assert end_of_day(date(2026, 10, 25)) - start_of_day(date(2026, 10, 25)) == timedelta(
        hours=25
    )


def test_local_date_uses_nicosia_time():
    assert local_date(datetime(2026, 6, 30, 20, 59, tzinfo=UTC)) == date(2026, 6, 30)
    assert local_date(datetime(2026, 6, 30, 21, 0, tzinfo=UTC)) == date(2026, 7, 1)
    assert local_date(datetime(2026, 7, 1, 0, 30, tzinfo=NICOSIA)) == date(2026, 7, 1)


def test_local_date_refuses_a_naive_datetime():
    with pytest.raises(ValueError):
        local_date(datetime(2026, 6, 30, 12, 0))


def test_weekends_are_not_working_days():
    assert is_working_day(date(2026, 11, 20))  # Friday
    assert not is_working_day(date(2026, 11, 21))  # Saturday
    assert not is_working_day(date(2026, 11, 22))  # Sunday


@pytest.mark.parametrize(
    "holiday",
    [
        date(2026, 4, 10),  # Orthodox Good Friday 2026
        date(2026, 4, 13),  # Orthodox Easter Monday 2026
        date(2025, 4, 21),  # Easter Monday 2025 (Orthodox and Western coincided)
        date(2027, 5, 3),  # Orthodox Easter Monday 2027 (Western: 29 March)
        date(2026, 2, 23),  # Green Monday 2026, 48 days before Easter
        date(2026, 6, 1),  # Pentecost Monday (Kataklysmos) 2026
        date(2026, 4, 1),  # Cyprus National Day
        date(2026, 10, 1),  # Independence Day
        date(2026, 12, 25),
    ],
)
def test_cyprus_public_holidays_are_not_working_days(holiday):
    assert holiday.weekday() < 5
    assert not is_working_day(holiday)


def test_western_easter_monday_is_a_working_day_in_cyprus():
    assert is_working_day(date(2027, 3, 29))


def test_add_working_days_skips_orthodox_easter():
    # Wednesday 8 April 2026: Thu 9 (1), Good Friday, weekend, Easter Monday, Easter Tuesday
    # (offices closed), Wed 15 (2) ...
    assert add_working_days(date(2026, 4, 8), 1) == date(2026, 4, 9)
    assert add_working_days(date(2026, 4, 8), 2) == date(2026, 4, 15)
    assert add_working_days(date(2026, 4, 8), 5) == date(2026, 4, 20)


def test_add_working_days_with_closure_days_open():
    assert add_working_days(date(2026, 4, 8), 2, closures_closed=False) == date(2026, 4, 14)
    assert add_working_days(date(2026, 4, 8), 5, closures_closed=False) == date(2026, 4, 17)


def test_add_working_days_starts_counting_the_next_day():
    assert add_working_days(date(2026, 11, 20), 1) == date(2026, 11, 23)  # Friday -> Monday
    assert add_working_days(date(2026, 11, 21), 0) == date(2026, 11, 21)


def test_add_working_days_backwards():
    assert add_working_days(date(2026, 4, 14), -2) == date(2026, 4, 8)


def test_add_years_moves_29_february_to_28_february():
    assert add_years(date(2024, 2, 29), 6) == date(2030, 2, 28)
    assert add_years(date(2024, 3, 1), 6) == date(2030, 3, 1)


def test_wall_clock_lead_keeps_local_midnight_across_a_clock_change():
    takes_effect = start_of_day(date(2026, 4, 2))  # summer time
    reminder = local_wall_minus(takes_effect, timedelta(days=7))  # 26 March: winter time
    assert reminder == start_of_day(date(2026, 3, 26))
    assert takes_effect - reminder == timedelta(days=7) - timedelta(hours=1)


# Cap. 1 art. 31


def test_period_end_day_of_the_event_not_counted_art_31_alpha():
    # Served Tuesday 3 November 2026: day 30 is Thursday 3 December.
    assert period_end(date(2026, 11, 3), 30) == date(2026, 12, 3)


def test_period_end_on_a_sunday_runs_to_monday_art_31_beta():
    assert period_end(date(2026, 5, 7), 45) == date(2026, 6, 22)


def test_period_end_on_a_saturday_is_not_moved_art_31_beta():
    assert period_end(date(2026, 5, 6), 45) == date(2026, 6, 20)
    assert not is_excluded_day(date(2026, 6, 20))


def test_period_end_on_a_holiday_before_a_sunday_runs_past_both_art_31_beta():
    # Day 45 is Friday 25 December 2026: the 26th is a holiday, the 27th a Sunday.
    assert period_end(date(2026, 11, 10), 45) == date(2026, 12, 28)


def test_period_end_on_easter_monday_stops_on_easter_tuesday_art_31_beta():
    # Easter Tuesday is a public-service closure day, not a public holiday.
    assert period_end(date(2026, 3, 14), 30) == date(2026, 4, 14)
    assert is_closure_day(date(2026, 4, 14)) and not is_excluded_day(date(2026, 4, 14))


def test_christmas_eve_is_a_closure_day_not_an_excluded_day():
    assert is_closure_day(date(2026, 12, 24)) and not is_excluded_day(date(2026, 12, 24))
    # Day 30 on Thursday 24 December 2026: the period ends that day.
    assert period_end(date(2026, 11, 24), 30) == date(2026, 12, 24)


def test_short_periods_skip_sundays_and_holidays_inside_them_art_31_delta():
    # 5 days from Wednesday 6 May 2026: 7, 8, 9 (Saturday counts), 11, 12 May.
    assert period_end(date(2026, 5, 6), 5) == date(2026, 5, 12)
    # Across Orthodox Easter 2026: Good Friday, Easter Sunday and Monday not counted.
    assert period_end(date(2026, 4, 8), 5) == date(2026, 4, 16)
    # Six days is still short; seven is not.
    assert period_end(date(2026, 5, 6), 6) == date(2026, 5, 13)
    assert period_end(date(2026, 5, 6), 7) == date(2026, 5, 13)
    assert period_end(date(2026, 5, 5), 7) == date(2026, 5, 12)


def test_an_act_due_on_an_excluded_day_is_in_time_the_next_day_art_31_gamma():
    assert in_time_until(date(2026, 8, 2)) == date(2026, 8, 3)  # a Sunday
    assert in_time_until(date(2026, 10, 1)) == date(2026, 10, 2)  # Independence Day
    assert in_time_until(date(2026, 8, 1)) == date(2026, 8, 1)  # a Saturday
    assert period_end(date(2026, 8, 2), 0) == date(2026, 8, 3)


def test_the_15_30_and_60_day_periods_move_the_same_way_art_31():
    # 15 days: 6 June 2026 + 15 = Sunday 21 June; 30 days: 1 October 2027 + 30 = Sunday
    # 31 October; 60 days: 2 March 2026 + 60 = Labour Day, Friday 1 May (Saturday counts).
    assert period_end(date(2026, 6, 6), 15) == date(2026, 6, 22)
    assert period_end(date(2027, 10, 1), 30) == date(2027, 11, 1)
    assert period_end(date(2026, 3, 2), 60) == date(2026, 5, 2)
    # 75 days (art. 146 of the Constitution): 17 March 2026 + 75 = Sunday 31 May, then
    # Pentecost Monday.
    assert period_end(date(2026, 3, 17), 75) == date(2026, 6, 2)


def test_a_period_cannot_be_negative():
    with pytest.raises(ValueError):
        period_end(date(2026, 5, 6), -1)


def test_every_period_end_is_an_open_day_and_never_before_day_n():
    start = date(2026, 1, 1)
    for offset in range(0, 800):
        event = start + timedelta(days=offset)
        for days in (0, 1, 5, 6, 10, 15, 30, 45, 60, 75):
            end = period_end(event, days)
            assert not is_excluded_day(end)
            assert end >= event + timedelta(days=days)
            assert end - (event + timedelta(days=days)) <= timedelta(days=days // 2 + 4)


def test_orthodox_easter_agrees_with_the_holidays_package():
    for year in range(1970, 2100):
        names = holidays.country_holidays("CY", years=year, language="en_US")
        (easter_monday,) = [day for day, name in names.items() if "Easter Monday" in name]
        assert orthodox_easter(year) + timedelta(days=1) == easter_monday
