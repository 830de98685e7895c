"""Dates of birth as citizens type them."""

from __future__ import annotations

from datetime import date

import pytest

from debtbot.domain.dates import InvalidDate, parse_date_of_birth

TODAY = date(2026, 11, 23)


@pytest.mark.parametrize(
    "typed",
    ["23/11/1980", "23.11.1980", "23-11-1980", "1980-11-23", " 23/11/1980 ", "23/11/1980\n"],
)
def test_date_of_birth_is_read_day_first_or_iso(typed):
    assert parse_date_of_birth(typed, today=TODAY) == date(1980, 11, 23)


def test_single_digit_day_and_month_are_accepted():
    assert parse_date_of_birth("3/7/1980", today=TODAY) == date(1980, 7, 3)


def test_leap_day_exists_only_in_leap_years():
    assert parse_date_of_birth("29/02/1988", today=TODAY) == date(1988, 2, 29)
    with pytest.raises(InvalidDate) as raised:
        parse_date_of_birth("29/02/1990", today=TODAY)
    assert raised.value.problem == "impossible_date"


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        ("31/02/1990", "impossible_date"),
        ("00/01/1990", "impossible_date"),
        ("12/13/1990", "impossible_date"),
        ("01/01/1850", "impossible_date"),
        ("24/11/2026", "future_date"),
        ("2027-01-01", "future_date"),
        ("23/11/80", "bad_date"),
        ("23/11-1980", "bad_date"),  # mixed separators
        ("1980/11/23", "bad_date"),
        ("23 November 1980", "bad_date"),
        ("", "bad_date"),
        ("1" * 4096, "bad_date"),
    ],
)
def test_impossible_future_and_malformed_dates_are_refused_with_a_problem(typed, problem):
    with pytest.raises(InvalidDate) as raised:
        parse_date_of_birth(typed, today=TODAY)
    assert raised.value.problem == problem
    assert isinstance(raised.value, ValueError)


def test_today_is_not_in_the_future():
    assert parse_date_of_birth("23/11/2026", today=TODAY) == TODAY


@pytest.mark.parametrize(
    "typed",
    [
        "\u0662\u0663/\u0661\u0661/\u0661\u0669\u0668\u0660",  # Arabic-Indic digits
        "\u06f2\u06f3/11/1980",  # Extended Arabic-Indic (Persian) digits
        "\uff12\uff13/\uff11\uff11/\uff11\uff19\uff18\uff10",  # full-width digits
    ],
)
def test_digits_of_any_script_are_read_as_the_same_date(typed):
    assert parse_date_of_birth(typed, today=TODAY) == date(1980, 11, 23)


def test_a_date_is_recognised_by_its_shape():
    from debtbot.domain.dates import looks_like_date

    assert looks_like_date("23/11/1980") and looks_like_date("\u0662\u0663.11.1980")
    assert not looks_like_date("1234567") and not looks_like_date("HE 123456")
