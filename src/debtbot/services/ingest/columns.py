"""The columns of a registry's debts: one schema for the CSV header and JSON-lines keys
(reading.py), the HTTP API's request body (http/debts.py) and the checks of each row
(validation.py). Kept stable: registries write them.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import Enum

from debtbot.domain.debts import DebtKind, DebtStatus, HolderType
from debtbot.domain.identifiers import PERSON_ID_TYPES, IdType

MAX_AMOUNT = Decimal("100000000000")  # 10^11 euro: anything larger is a data error
MAX_POINTS = 12
LANGUAGES = ("el", "en", "tr")


class Kind(Enum):
    """What a column holds, and so how it is checked and typed."""

    KEY = "key"  # source and reference: printable, no more than 64 characters
    TEXT = "text"
    NAME = "name"  # a person's or company's name: checked for look-alike letters
    CHOICE = "choice"  # one of `choices`
    ID_NUMBER = "id_number"
    DATE = "date"  # YYYY-MM-DD
    MOMENT = "moment"  # an ISO 8601 date and time (Cyprus time without an offset)
    AMOUNT = "amount"  # euro, at most two decimals
    POINTS = "points"  # penalty points, 0 to MAX_POINTS
    RATE = "rate"  # a fraction (0.05) or a percentage (5%)
    FLAG = "flag"  # true or false
    PHONE = "phone"
    LANGUAGE = "language"  # one of LANGUAGES


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    kind: Kind
    in_header: bool = False  # a file's header must name it (its cells may still be empty)
    required: bool = False  # a value must be given
    max_length: int | None = None
    choices: tuple[str, ...] = ()
    earliest: int = 1990  # dates: the first year that makes sense
    not_in_future: bool = False  # dates: not after today (in Nicosia)
    default: str | None = None  # the API's value when the field is left out


def _values(*items: Enum) -> tuple[str, ...]:
    return tuple(str(item.value) for item in items)


_PERSON_ID_TYPES = _values(*PERSON_ID_TYPES)

COLUMNS: tuple[Column, ...] = (
    Column("kind", Kind.CHOICE, in_header=True, required=True, choices=_values(*DebtKind)),
    Column("source", Kind.KEY, in_header=True, required=True, max_length=64),
    Column("reference", Kind.KEY, in_header=True, required=True, max_length=64),
    Column("authority", Kind.TEXT, in_header=True, max_length=200, default=""),
    Column("holder_type", Kind.CHOICE, in_header=True, required=True,
           choices=_values(*HolderType)),
    Column("id_type", Kind.CHOICE, in_header=True, required=True, choices=_values(*IdType)),
    Column("id_number", Kind.ID_NUMBER, in_header=True, required=True),
    Column("name", Kind.NAME, in_header=True, required=True, max_length=300),
    Column("date_of_birth", Kind.DATE, in_header=True, earliest=1900, not_in_future=True),
    Column("amount", Kind.AMOUNT, in_header=True, required=True),
    Column("served_on", Kind.DATE, in_header=True, not_in_future=True),
    # Type E note 1: the moment of service, when known (payable 72 hours after it).
    Column("served_at", Kind.MOMENT, not_in_future=True),
    Column("due_on", Kind.DATE),
    Column("status", Kind.CHOICE, choices=_values(*DebtStatus)),
    Column("phone", Kind.PHONE),
    Column("language", Kind.LANGUAGE, choices=LANGUAGES),
    Column("points", Kind.POINTS),
    Column("surcharge_rate", Kind.RATE),
    Column("post_clearance", Kind.FLAG),
    Column("enforcement_suspended", Kind.FLAG),
    Column("instalments_on_time", Kind.FLAG),
    Column("finding_notice_on", Kind.DATE, not_in_future=True),
    # Tax Collection Law: a measure taken, from the date its objection window counts.
    Column("freeze_notified_on", Kind.DATE, not_in_future=True),  # 9B(5): a bank freeze
    Column("seized_on", Kind.DATE, not_in_future=True),  # 9Γ(5): forfeited after 30 days
    Column("charge_notified_on", Kind.DATE, not_in_future=True),  # 9Δ(4): a charge on property
    # Out-of-court fines: the registry's first day of the surcharge and of prosecution; they
    # win over the rulebook's dates.
    Column("surcharge_on", Kind.DATE),
    Column("prosecution_on", Kind.DATE),
    # A person acting for a company holder.
    Column("representative_id_type", Kind.CHOICE, choices=_PERSON_ID_TYPES),
    Column("representative_id_number", Kind.ID_NUMBER),
    Column("representative_name", Kind.NAME, max_length=300),
    Column("representative_date_of_birth", Kind.DATE, earliest=1900, not_in_future=True),
    Column("representative_phone", Kind.PHONE),
    Column("representative_role", Kind.TEXT, max_length=100),
)
BY_NAME = {column.name: column for column in COLUMNS}

REQUIRED_COLUMNS = tuple(column.name for column in COLUMNS if column.in_header)
KNOWN_COLUMNS = frozenset(BY_NAME)
# Tax Collection Law 9B(5), 9Γ(5), 9Δ(4): the dates a measure's objection window counts from.
TAX_MEASURE_COLUMNS = ("freeze_notified_on", "seized_on", "charge_notified_on")
# The columns a registry leaves empty in most rows: their checks run only when given.
OPTIONAL_CHECKED = tuple(
    column.name for column in COLUMNS
    if not column.in_header and column.name not in (
        "phone", "language", "representative_name", "representative_date_of_birth",
        "representative_phone", "representative_role",
    )
)
MAX_LENGTHS = {column.name: column.max_length for column in COLUMNS if column.max_length}
