"""Days as the law counts them: Cyprus local days (Europe/Nicosia), the Interpretation Law's
rules for periods (Cap. 1, art. 31) and the working days of an office.

A period "within N days from service" starts the day after the event and ends at the end of
day N in Cyprus time (LEGAL_RULES.md, "Day counting"), moved by art. 31 when that day is a
Sunday or a public holiday: `period_end` is the one place every rule counts its days.
Instants are aware UTC datetimes; the conversions are cached because the same few hundred
dates recur across millions of debts.
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
    # Pentecost Monday) per year; its default category is the public holidays (δημόσιες
    # αργίες), which is what art. 31 of Cap. 1 excludes.
    return frozenset(holidays.country_holidays("CY", years=year))


def is_public_holiday(day: date) -> bool:
    """A Cyprus public holiday (δημόσια αργία), Orthodox Easter and its feasts included."""
    return day in _cyprus_holidays(day.year)


def orthodox_easter(year: int) -> date:
    """Orthodox Easter Sunday: the Julian computus (Meeus), moved to the Gregorian calendar
    (13 days, valid 1900-2099)."""
    a, b, c = year % 4, year % 7, year % 19
    d = (19 * c + 15) % 30
    e = (2 * a + 4 * b - d + 34) % 7
    month, day = divmod(d + e + 114, 31)
    return date(year, month, day + 1) + timedelta(days=13)


@lru_cache(maxsize=256)
def _closure_days(year: int) -> frozenset[date]:
    # Days the public service closes that are not public holidays: Easter Tuesday and
    # Christmas Eve. They are not "excluded days" under Cap. 1 art. 31 (LEGAL_RULES.md).
    return frozenset({orthodox_easter(year) + timedelta(days=2), date(year, 12, 24)})


def is_closure_day(day: date) -> bool:
    """A public-service closure day that is not a public holiday (Easter Tuesday, 24 Dec)."""
    return day in _closure_days(day.year) and not is_public_holiday(day)


def is_excluded_day(day: date) -> bool:
    """Cap. 1 art. 31: an "excluded day" (εξαιρούμενη ημέρα) is a Sunday or a public
    holiday. Saturday is not one, nor is a closure day."""
    return day.weekday() == 6 or day in _cyprus_holidays(day.year)


# Cap. 1 art. 31(δ): in a period of six days or fewer, excluded days are not counted.
SHORT_PERIOD_DAYS = 6


@lru_cache(maxsize=1 << 16)
def period_end(event: date, days: int) -> date:
    """The last day of a period of `days` days counted from `event`, under the
    Interpretation Law (Cap. 1), art. 31:

    (α) the day of the event is not counted: day 1 is the day after it;
    (δ) in a period of six days or fewer, Sundays and public holidays are not counted;
    (β) when the last day is a Sunday or a public holiday, the period runs to the end of the
        next day that is neither.

    With `days` = 0 this is art. 31(γ) for an act due on `event` itself: in time on the next
    day that is not excluded. The period ends at the end of the day returned (Nicosia time).
    """
    if days < 0:
        raise ValueError("a period cannot have a negative number of days")
    if days <= SHORT_PERIOD_DAYS:  # (δ)
        day, counted = event, 0
        while counted < days:
            day += ONE_DAY
            if not is_excluded_day(day):
                counted += 1
    else:  # (α): day N after the event
        day = event + timedelta(days=days)
    while is_excluded_day(day):  # (β) and (γ)
        day += ONE_DAY
    return day


def in_time_until(day: date) -> date:
    """Cap. 1 art. 31(γ): an act due on `day` is in time until the end of the next day that
    is not a Sunday or a public holiday (`day` itself when it is neither)."""
    return period_end(day, 0)


def is_working_day(day: date, *, closures_closed: bool = True) -> bool:
    """A working day of a public office: Monday to Friday, not a Cyprus public holiday, and
    (with `closures_closed`, the default) not a public-service closure day either."""
    if day.weekday() >= 5 or day in _cyprus_holidays(day.year):
        return False
    return not (closures_closed and day in _closure_days(day.year))


def add_working_days(day: date, n: int, *, closures_closed: bool = True) -> date:
    """The n-th working day after `day` (the day itself is not counted); n < 0 goes back.

    Where a law speaks of an office's working days (Law 47(I)/2024, Annex II), the day the
    count reaches is a working day, so Cap. 1 art. 31(β) never has to move it.
    """
    step = ONE_DAY if n >= 0 else -ONE_DAY
    remaining = abs(n)
    while remaining:
        day += step
        if is_working_day(day, closures_closed=closures_closed):
            remaining -= 1
    return day


def add_years(day: date, years: int) -> date:
    """The same calendar day `years` later; 29 February falls back to 28 February."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)
