"""Sample registry data for trying the bot (`debtbot shell`) and for demos.

`debts.csv` was written as of WRITTEN_ON. Its dates of service and due dates are moved by
the days since then (`rows(today)`, `write(path, today)`), so the debts keep their ages:
one served yesterday (not payable yet), one at day 25 (a reminder is due), one past day 30
(surcharged), one past day 45 (prosecution), tax due soon and overdue, and so on. Dates of
birth are not moved. The identity numbers and dates of birth to try are in the README.
"""

from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path

CSV = Path(__file__).with_name("debts.csv")
WRITTEN_ON = date(2026, 11, 23)
_MOVED = ("served_on", "due_on")


def rows(today: date) -> list[dict[str, str]]:
    """The sample rows with their dates moved so that the debts are as old as on WRITTEN_ON."""
    shift = timedelta(days=(today - WRITTEN_ON).days)
    with CSV.open(encoding="utf-8", newline="") as file:
        found = list(csv.DictReader(file))
    for row in found:
        for name in _MOVED:
            if row.get(name):
                row[name] = (date.fromisoformat(row[name]) + shift).isoformat()
    return found


def write(path: Path, today: date) -> Path:
    """Write the moved sample as a CSV file that `debtbot import` (or import_file) reads."""
    moved = rows(today)
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(moved[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(moved)
    return path
