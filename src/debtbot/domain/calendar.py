"""Days as the law counts them: Cyprus local days (Europe/Nicosia) and Cyprus working days.

A period "within N days from service" starts the day after the event and ends at the end of
day N in Cyprus time (LEGAL_RULES.md, "Day counting"). Instants are aware UTC datetimes;
the conversions are cached because the same few hundred dates recur across millions of debts.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

NICOSIA = ZoneInfo("Europe/Nicosia")
ONE_DAY = timedelta(days=1)


def local_date(moment: datetime, tz: tzinfo = NICOSIA) -> date:
    """The Cyprus calendar day an aware instant falls on."""
    if moment.tzinfo is None:
        raise ValueError("local_date needs an aware datetime")
    return moment.astimezone(tz).date()


@lru_cache(maxsize=1 << 16)
def start_of_day(day: date, tz: tzinfo = NICOSIA) -> datetime:
    """00:00 local on `day` as an aware UTC instant (DST-aware: 22:00Z in winter, 21:00Z in
    summer for Nicosia). Cyprus changes its clocks at 03:00/04:00, so midnight always exists.
    """
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def end_of_day(day: date, tz: tzinfo = NICOSIA) -> datetime:
    """The first instant after `day` ends locally (= start of the next local day)."""
    return start_of_day(day + ONE_DAY, tz)


def local_wall_minus(moment: datetime, lead: timedelta, tz: tzinfo = NICOSIA) -> datetime:
    """`moment` moved back by `lead` on the local wall clock: "7 days before 00:00 on day 31"
    is 00:00 on day 24 even when the clocks changed in between.
    """
    return _local_wall_minus(moment, lead, tz)


@lru_cache(maxsize=1 << 16)
def _local_wall_minus(moment: datetime, lead: timedelta, tz: tzinfo) -> datetime:
    wall = moment.astimezone(tz).replace(tzinfo=None) - lead
    return wall.replace(tzinfo=tz).astimezone(UTC)


@lru_cache(maxsize=256)
def _cyprus_holidays(year: int) -> frozenset[date]:
    # The `holidays` package computes the moving feasts (Orthodox Easter, Green Monday,
    # Pentecost Monday) per year.
    return frozenset(holidays.country_holidays("CY", years=year))


def is_working_day(day: date) -> bool:
    """Monday to Friday and not a Cyprus public holiday."""
    return day.weekday() < 5 and day not in _cyprus_holidays(day.year)


def add_working_days(day: date, n: int) -> date:
    """The n-th working day after `day` (the day itself is not counted); n < 0 goes back."""
    step = ONE_DAY if n >= 0 else -ONE_DAY
    remaining = abs(n)
    while remaining:
        day += step
        if is_working_day(day):
            remaining -= 1
    return day


def add_years(day: date, years: int) -> date:
    """The same calendar day `years` later; 29 February falls back to 28 February."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)
