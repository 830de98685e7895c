"""Cyprus days: local midnight in UTC across daylight saving, and working days."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from debtbot.domain.calendar import (
    NICOSIA,
    add_working_days,
    add_years,
    end_of_day,
    is_working_day,
    local_date,
    local_wall_minus,
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
