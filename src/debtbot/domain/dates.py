"""Dates as citizens type them: `23/11/1980`, `23.11.1980`, `23-11-1980` or `1980-11-23`, in
any script's digits (`٢٣/١١/١٩٨٠`, full-width `２３/１１/１９８０`)."""

from __future__ import annotations

import re
import unicodedata
from datetime import date

from debtbot.domain.identifiers import ascii_digits

# ASCII digits only: `\d` would also take Arabic-Indic and other scripts' digits.
_DAY_FIRST = re.compile(r"^([0-9]{1,2})([/.\-])([0-9]{1,2})\2([0-9]{4})$")
_ISO = re.compile(r"^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})$")
_EARLIEST_BIRTH_YEAR = 1900


class InvalidDate(ValueError):
    """Not a usable date of birth; `problem` says why (shown to the citizen by its code)."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


def looks_like_date(text: str) -> bool:
    """Whether `text` has the shape of a date (23/11/1980, 1980-11-23), in any script's digits."""
    cleaned = ascii_digits(unicodedata.normalize("NFKC", text or "")).strip()
    return bool(_DAY_FIRST.match(cleaned) or _ISO.match(cleaned))


def parse_date_of_birth(text: str, *, today: date) -> date:
    """The date of birth in `text`, day first or ISO; never in the future.

    Problems: `bad_date` (not a date in an accepted form), `impossible_date` (31/02/1990,
    or before 1900), `future_date` (after `today`).
    """
    cleaned = ascii_digits(unicodedata.normalize("NFKC", text or "")).strip()
    if len(cleaned) > 10:
        raise InvalidDate("bad_date")
    if match := _DAY_FIRST.match(cleaned):
        day, month, year = int(match.group(1)), int(match.group(3)), int(match.group(4))
    elif match := _ISO.match(cleaned):
        year, month, day = int(match.group(1)), int(match.group(2)), int(match.group(3))
    else:
        raise InvalidDate("bad_date")
    try:
        born = date(year, month, day)
    except ValueError:
        raise InvalidDate("impossible_date") from None
    if born.year < _EARLIEST_BIRTH_YEAR:
        raise InvalidDate("impossible_date")
    if born > today:
        raise InvalidDate("future_date")
    return born
