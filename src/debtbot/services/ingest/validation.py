"""One row of a registry (a CSV row, a JSON object, a debt in an API call) checked and typed:
`validate_record` gives a DebtRecord, or a RecordError naming the line, the field and every
fault in the row. The columns and their limits are columns.py's. Messages never repeat an
identity number.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

import phonenumbers

from debtbot.domain.calendar import NICOSIA
from debtbot.domain.debts import DebtKind, DebtStatus, HolderType
from debtbot.domain.identifiers import (
    PERSON_ID_TYPES,
    Identifier,
    IdType,
    InvalidIdentifier,
    normalise_identifier,
)
from debtbot.domain.money import InvalidAmount, parse_amount
from debtbot.services.ingest.columns import (
    BY_NAME,
    LANGUAGES,
    MAX_AMOUNT,
    MAX_LENGTHS,
    MAX_POINTS,
    OPTIONAL_CHECKED,
    TAX_MEASURE_COLUMNS,
)

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TRUE = frozenset({"true", "yes", "1", "y", "t"})
_FALSE = frozenset({"false", "no", "0", "n", "f"})
STRIP = " \t\r\n"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # Unicode category Cc
_SCRIPTS = {
    "Greek": re.compile(r"[\u0370-\u03ff\u1f00-\u1fff]"),
    "Latin": re.compile(r"[A-Za-z\u00c0-\u024f\u1e00-\u1eff]"),
    "Cyrillic": re.compile(r"[\u0400-\u04ff]"),
}
_CHOICES: dict[type, dict[str, Any]] = {
    enum: {item.value: item for item in enum}
    for enum in (DebtKind, DebtStatus, HolderType, IdType)
}


class RecordError(ValueError):
    """A row that cannot be imported: its line, the field at fault (None: the whole row) and
    why. `problems` lists every fault found in the row (this one first)."""

    def __init__(self, line: int, field: str | None, reason: str) -> None:
        super().__init__(line, field, reason)
        self.line = line
        self.field = field
        self.reason = reason
        self.problems: tuple[RecordError, ...] = (self,)

    def __str__(self) -> str:
        parts = [f"{p.field}: {p.reason}" if p.field else p.reason for p in self.problems]
        return f"line {self.line}: " + "; ".join(parts)

    def __repr__(self) -> str:
        return f"RecordError({self.line!r}, {self.field!r}, {self.reason!r})"


@dataclass(frozen=True, slots=True)
class Holder:
    identifier: Identifier  # normalised; its repr hides the number
    name: str
    date_of_birth: date | None = None
    phone: str | None = None  # E.164
    language: str | None = None


@dataclass(frozen=True, slots=True)
class DebtRecord:
    """One validated row. None in an optional field means "not given": what is on file stays."""

    kind: DebtKind
    source: str
    reference: str
    authority: str
    holder_type: HolderType
    holder: Holder
    amount: Decimal
    served_on: date | None
    due_on: date | None = None
    status: DebtStatus | None = None
    points: int | None = None
    surcharge_rate: Decimal | None = None
    post_clearance: bool | None = None
    enforcement_suspended: bool | None = None
    instalments_on_time: bool | None = None
    finding_notice_on: date | None = None
    served_at: datetime | None = None  # aware UTC; Type E note 1
    freeze_notified_on: date | None = None  # tax 9B(5)
    seized_on: date | None = None  # tax 9Γ(5)
    charge_notified_on: date | None = None  # tax 9Δ(4)
    # The registry's own dates for an out-of-court fine (the first day the surcharge
    # applies, the first day it is no longer payable out of court): they win over the
    # rulebook's.
    surcharge_on: date | None = None
    prosecution_on: date | None = None
    representative: Holder | None = None  # a person acting for a company holder
    representative_role: str = ""
    line: int = 0
    warnings: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[str, str]:
        return (self.source, self.reference)


def _plain_text(value: object, limit: int) -> str | None:
    """Text that passes every check of _Row.text as it is, stripped; None: look closer."""
    if value.__class__ is not str:
        return None
    text = value.strip(STRIP)  # type: ignore[attr-defined]
    if not text or len(text) > limit or _CONTROL.search(text):
        return None
    return text


class _Row:
    """Collects every problem in one raw row."""

    __slots__ = ("raw", "line", "problems", "warnings")

    def __init__(self, raw: Mapping[str, object], line: int) -> None:
        self.raw = raw
        self.line = line
        self.problems: list[RecordError] = []
        self.warnings: list[str] = []

    def fail(self, name: str | None, reason: str) -> None:
        self.problems.append(RecordError(self.line, name, reason))

    def problems_in(self) -> set[str | None]:
        return {problem.field for problem in self.problems}

    def text(self, name: str, *, required: bool = False) -> str:
        value = self.raw.get(name)
        if (text := _plain_text(value, MAX_LENGTHS.get(name, 10_000))) is not None:
            return text  # the common case
        if value.__class__ is not str:  # JSON lines: numbers, null, booleans, lists
            if value is None:
                if required:
                    self.fail(name, "is missing")
                return ""
            if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
                self.fail(name, "must be text")
                return ""
            value = str(value)
        text = value.strip(STRIP)  # type: ignore[union-attr]
        if not text:
            if required:
                self.fail(name, "is empty")
        elif _CONTROL.search(text):
            self.fail(name, "contains control characters")
        elif len(text) > MAX_LENGTHS.get(name, 10_000):
            self.fail(name, f"is longer than {MAX_LENGTHS[name]} characters")
        return text

    def choice(self, name: str, choices: type, *, required: bool = False) -> Any:
        value = self.raw.get(name)
        if value.__class__ is str and (found := _CHOICES[choices].get(value)) is not None:
            return found  # the common case: exactly one of the values
        text = self.text(name, required=required)
        if not text:
            return None
        found = _CHOICES[choices].get(text) or _CHOICES[choices].get(text.lower())
        if found is None:
            allowed = ", ".join(item.value for item in choices)
            label = "debt kind" if name == "kind" else "value"
            self.fail(name, f"unknown {label} {text!r} (expected one of: {allowed})")
        return found

    def date(self, name: str, today: date | None) -> date | None:
        """A day, within the column's years (columns.py) and, if it says so, not after today."""
        column = BY_NAME[name]
        earliest, latest = column.earliest, today if column.not_in_future else None
        value = self.raw.get(name)
        if value.__class__ is date:  # the API's bodies arrive typed
            day: date = value  # type: ignore[assignment]
            text = day.isoformat()
        else:
            if value.__class__ is str and len(value) == 10 and value[4] == value[7] == "-":
                text = value  # the common case, checked without the general text() path
            else:
                text = self.text(name, required=column.required)
            if not text:
                return None
            if not _ISO_DATE.match(text):
                self.fail(name, f"{text!r} is not a date in the form YYYY-MM-DD")
                return None
            try:
                day = date.fromisoformat(text)
            except ValueError:
                self.fail(name, f"{text!r} is not a real date")
                return None
        if day.year < earliest:
            self.fail(name, f"{text} is before {earliest}")
        elif latest is not None and day > latest:
            self.fail(name, f"{text} is in the future")
        return day

    def moment(self, name: str, *, today: date | None = None) -> datetime | None:
        """An ISO 8601 date and time (`2026-05-04T18:00`, with seconds and an offset or Z if
        wanted; without an offset it is Cyprus time), as an aware UTC instant."""
        value = self.raw.get(name)
        moment: datetime | None
        if isinstance(value, datetime):  # the API's bodies arrive typed (and with an offset)
            moment = value
            text = value.isoformat().replace("+00:00", "Z")  # as the API's JSON writes it
        else:
            text = self.text(name)
            if not text:
                return None
            try:
                moment = datetime.fromisoformat(text.replace("z", "Z"))
            except ValueError:
                moment = None
            if moment is None or "T" not in text.upper():
                self.fail(name, f"{text!r} is not a date and time in the form YYYY-MM-DDTHH:MM")
                return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=NICOSIA)
        moment = moment.astimezone(UTC)
        if moment.year < 1990:
            self.fail(name, f"{text} is before 1990")
        elif today is not None and moment.astimezone(NICOSIA).date() > today:
            self.fail(name, f"{text} is in the future")
        return moment

    def flag(self, name: str) -> bool | None:
        value = self.raw.get(name)
        if isinstance(value, bool):
            return value
        text = self.text(name).lower()
        if not text:
            return None
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        self.fail(name, f"{text!r} is not true or false")
        return None

    def identifier(self, type_name: str, number_name: str, allowed: Sequence[IdType]
                   ) -> Identifier | None:
        id_type = self.choice(type_name, IdType, required=True)
        number = self.text(number_name, required=True)
        if id_type is None or not number:
            return None
        if id_type not in allowed:
            self.fail(type_name, f"{id_type.value} is not an identifier for this holder type "
                      f"(expected one of: {', '.join(t.value for t in allowed)})")
            return None
        try:
            return normalise_identifier(id_type, number)
        except InvalidIdentifier as exc:
            # The number itself is never repeated in a message.
            self.fail(number_name, str(exc))
            return None

    def phone(self, name: str) -> str | None:
        text = self.text(name)
        if not text:
            return None
        e164 = _e164(text)
        if e164 is None:
            self.warnings.append(f"line {self.line}: {name} is not a valid phone number; ignored")
        return e164

    def language(self) -> str | None:
        text = self.text("language").lower()
        if not text:
            return None
        if text not in LANGUAGES:
            self.warnings.append(
                f"line {self.line}: language {text!r} is not one of el, en, tr; ignored"
            )
            return None
        return text

    def name(self, name: str) -> str:
        text = self.text(name, required=True)
        if text:
            mixed = _mixed_script_word(text)
            if mixed:
                self.warnings.append(
                    f"line {self.line}: {name} mixes {mixed} letters within one word "
                    "(look-alike letters?); kept as given"
                )
        return text


# Cypriot numbers, the bulk of a registry's phones: eight digits, valid exactly when one of
# phonenumbers' own patterns for CY matches (tests/services/test_ingest_debts.py checks), at a
# fraction of the cost of parsing.
_CYPRUS_PHONE = re.compile(r"(?:\+357|00357)?(\d{8})")
_PHONE_SEPARATORS = re.compile(r"[\s\-().]")


def _cyprus_patterns() -> re.Pattern[str]:
    metadata = phonenumbers.PhoneMetadata.metadata_for_region("CY")
    kinds = ("fixed_line", "mobile", "toll_free", "premium_rate", "shared_cost",
             "personal_number", "voip", "pager", "uan", "voicemail")
    patterns = [
        desc.national_number_pattern for desc in (getattr(metadata, kind) for kind in kinds)
        if desc is not None and desc.national_number_pattern
        and (not desc.possible_length or 8 in desc.possible_length)
    ]
    general = metadata.general_desc.national_number_pattern
    return re.compile(f"(?=(?:{general})$)(?:{'|'.join(patterns)})")


_CYPRUS_VALID = _cyprus_patterns()


@lru_cache(maxsize=16384)
def _e164(text: str) -> str | None:
    cyprus = _CYPRUS_PHONE.fullmatch(_PHONE_SEPARATORS.sub("", text))
    if cyprus:
        digits = cyprus.group(1)
        return f"+357{digits}" if _CYPRUS_VALID.fullmatch(digits) else None
    try:
        number = phonenumbers.parse(text, "CY")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@lru_cache(maxsize=8192)
def _mixed_script_word(text: str) -> str | None:
    if text.isascii():
        return None
    present = [name for name, letters in _SCRIPTS.items() if letters.search(text)]
    if len(present) < 2:  # the common case: one script in the whole name
        return None
    for word in re.split(r"[\s\-'’.]+", text):
        scripts = [name for name in present if _SCRIPTS[name].search(word)]
        if len(scripts) > 1:
            return " and ".join(scripts)
    return None


_PLAIN_AMOUNT = re.compile(r"\d{1,12}(?:\.\d{1,2})?")
_CENT = Decimal("0.01")


def _amount(row: _Row) -> Decimal | None:
    value = row.raw.get("amount")
    if value.__class__ is str and _PLAIN_AMOUNT.fullmatch(value):  # type: ignore[arg-type]
        amount = Decimal(value).quantize(_CENT)  # type: ignore[arg-type]
        if amount <= MAX_AMOUNT:
            return amount
    if value is None or (isinstance(value, str) and not value.strip()):
        row.fail("amount", "is missing" if value is None else "is empty")
        return None
    try:
        amount = parse_amount(value)  # type: ignore[arg-type]
    except InvalidAmount as exc:
        row.fail("amount", str(exc).removeprefix("amount "))
        return None
    except (TypeError, ValueError):
        row.fail("amount", f"{value!r} is not a number")
        return None
    if amount > MAX_AMOUNT:
        row.fail("amount", "is implausibly large")
        return None
    return amount


def _points(row: _Row) -> int | None:
    value = row.raw.get("points")
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        text = row.text("points")
        if not text:
            return None
        if not text.isdigit():
            row.fail("points", f"{text!r} is not a whole number")
            return None
        number = int(text)
    if not 0 <= number <= MAX_POINTS:
        row.fail("points", f"must be between 0 and {MAX_POINTS}")
        return None
    return number


def _rate(row: _Row) -> Decimal | None:
    text = row.text("surcharge_rate")
    if not text:
        return None
    percent = text.endswith("%")
    try:
        rate = Decimal(text.rstrip("%").strip())
    except InvalidOperation:
        row.fail("surcharge_rate", f"{text!r} is not a number")
        return None
    if percent:
        rate /= 100
    if not rate.is_finite() or not 0 <= rate < 1:
        row.fail("surcharge_rate", "give the rate as a fraction (0.05) or a percentage (5%)")
        return None
    return rate.normalize() if rate else Decimal(0)


_HOLDER_COLUMNS = (
    "holder_type", "id_type", "id_number", "name", "date_of_birth", "phone", "language",
)
# A registry file lists a holder's debts one per row: a holder validated once (without any
# problem or warning) is not validated again. Bounded; cleared when full.
_HOLDERS: dict[tuple[object, ...], tuple[HolderType, Holder]] = {}
_HOLDERS_MAX = 20_000


def _holder(row: _Row, today: date | None) -> tuple[HolderType | None, Holder | None]:
    key = (*map(row.raw.get, _HOLDER_COLUMNS), today)
    try:
        found = _HOLDERS.get(key)
    except TypeError:  # a JSON list or object in a cell: not cacheable, and an error below
        key, found = (), None
    if found is not None:
        return found
    problems, warnings = len(row.problems), len(row.warnings)
    holder_type = row.choice("holder_type", HolderType, required=True)
    allowed = (IdType.COMPANY_REG,) if holder_type is HolderType.COMPANY else PERSON_ID_TYPES
    identifier = row.identifier("id_type", "id_number", allowed) if holder_type else None
    if holder_type is None:
        row.text("id_number", required=True)
    name = row.name("name")
    date_of_birth = row.date("date_of_birth", today)
    if holder_type is HolderType.COMPANY and date_of_birth is not None:
        row.warnings.append(
            f"line {row.line}: date_of_birth is for persons; ignored for a company"
        )
        date_of_birth = None
    phone = row.phone("phone") if row.raw.get("phone") not in (None, "") else None
    language = row.language() if row.raw.get("language") not in (None, "") else None
    if holder_type is None or identifier is None:
        return holder_type, None
    holder = Holder(identifier, name, date_of_birth, phone, language)
    if key and len(row.problems) == problems and len(row.warnings) == warnings:
        if len(_HOLDERS) >= _HOLDERS_MAX:
            _HOLDERS.clear()
        _HOLDERS[key] = (holder_type, holder)
    return holder_type, holder


def validate_record(
    raw: Mapping[str, object],
    *,
    line: int,
    today: date | None = None,
    default_source: str | None = None,
) -> DebtRecord:
    """Check one row (CSV row, JSON object, or an API debt's already typed values) and return
    it typed and normalised.

    Raises RecordError naming the line and field; `.problems` holds every fault in the row.
    `today` (the Nicosia date) refuses dates of service and birth in the future.
    """
    row = _Row(raw, line)
    kind = row.choice("kind", DebtKind, required=True)
    source = _plain_text(raw.get("source"), _KEY_LENGTH)
    if source is None or default_source:
        source = row.text("source")
    if default_source:
        if not source:
            source = default_source
        elif source != default_source:
            row.fail("source", f"{source!r} differs from the source given for the file "
                     f"({default_source!r})")
    elif not source:
        row.fail("source", "is missing" if raw.get("source") is None else "is empty")
    reference = (_plain_text(raw.get("reference"), _KEY_LENGTH)
                 or row.text("reference", required=True))
    authority = _plain_text(raw.get("authority"), _AUTHORITY_LENGTH)
    if authority is None:
        authority = row.text("authority")
    holder_type, holder = _holder(row, today)
    amount = _amount(row)
    served_on = row.date("served_on", today)
    # Optional columns are mostly empty: skip their checks then (a million rows add up).
    given = {
        column for column in _OPTIONAL.intersection(raw)
        if (value := raw[column]) is not None and value != ""
    }
    optional: dict[str, Any] = {}
    if given:
        served_on = _optional(row, given, optional, kind, holder_type, served_on, today)
    if row.problems:
        first = row.problems[0]
        first.problems = tuple(row.problems)
        raise first
    assert kind and holder_type and holder and amount is not None
    return DebtRecord(
        kind, source, reference, authority, holder_type, holder, amount, served_on,
        **optional, line=line, warnings=tuple(row.warnings),
    )


_OPTIONAL = frozenset(OPTIONAL_CHECKED)
_KEY_LENGTH, _AUTHORITY_LENGTH = MAX_LENGTHS["reference"], MAX_LENGTHS["authority"]


def _optional(
    row: _Row, given: set[str], found: dict[str, Any], kind: DebtKind | None,
    holder_type: HolderType | None, served_on: date | None, today: date | None,
) -> date | None:
    """The optional columns given, checked into `found`; the date of service, which the time
    of service may give."""
    if "due_on" in given:
        found["due_on"] = row.date("due_on", today)
    if "status" in given:
        found["status"] = row.choice("status", DebtStatus)
    if "points" in given:
        found["points"] = _points(row)
    if "surcharge_rate" in given:
        found["surcharge_rate"] = _rate(row)
    for name in ("post_clearance", "enforcement_suspended", "instalments_on_time"):
        if name in given:
            found[name] = row.flag(name)
    if "finding_notice_on" in given:
        found["finding_notice_on"] = row.date("finding_notice_on", today)
    served_at = row.moment("served_at", today=today) if "served_at" in given else None
    if served_at is not None:
        found["served_at"] = served_at
        # Type E note 1: the moment of service; its Cyprus day is the date of service.
        day = served_at.astimezone(NICOSIA).date()
        if served_on is None and "served_on" not in row.problems_in():
            served_on = day
        elif served_on is not None and day != served_on:
            row.fail("served_at", f"falls on {day.isoformat()} in Cyprus, not on served_on "
                     f"{served_on.isoformat()}")
    for column in TAX_MEASURE_COLUMNS:
        if column not in given:
            continue
        measure = row.date(column, today)
        if measure is not None and kind is not DebtKind.TAX:
            row.warnings.append(f"line {row.line}: {column} is for tax debts; ignored")
            measure = None
        found[column] = measure
    surcharge_on = row.date("surcharge_on", today) if "surcharge_on" in given else None
    prosecution_on = (
        row.date("prosecution_on", today) if "prosecution_on" in given else None
    )
    if surcharge_on is not None or prosecution_on is not None:
        found["surcharge_on"], found["prosecution_on"] = surcharge_on, prosecution_on
        _check_registry_dates(row, kind, served_on, surcharge_on, prosecution_on)

    if "representative_id_number" in given or "representative_id_type" in given:
        if holder_type is not HolderType.COMPANY:
            row.fail("representative_id_number", "only a company has representatives")
        else:
            rep_id = row.identifier(
                "representative_id_type", "representative_id_number", PERSON_ID_TYPES
            )
            rep_name = row.name("representative_name")
            rep_dob = row.date("representative_date_of_birth", today)
            rep_phone = row.phone("representative_phone")
            found["representative_role"] = row.text("representative_role")
            if rep_id is not None:
                found["representative"] = Holder(rep_id, rep_name, rep_dob, rep_phone, None)
    return served_on


def _check_registry_dates(
    row: Any, kind: DebtKind | None, served_on: date | None, surcharge_on: date | None,
    prosecution_on: date | None,
) -> None:
    # The registry's surcharge and prosecution dates exist for out-of-court fines (Type E
    # notes 3 and 4), and only make sense after service and in that order.
    if kind is not None and kind is not DebtKind.OUT_OF_COURT_FINE:
        name = "surcharge_on" if surcharge_on is not None else "prosecution_on"
        row.fail(name, "is given only for out-of-court fines")
        return
    for name, day in (("surcharge_on", surcharge_on), ("prosecution_on", prosecution_on)):
        if day is None:
            continue
        if served_on is None:
            row.fail(name, "needs served_on: the legal periods run from the date of service")
        elif day <= served_on:
            row.fail(name, f"{day.isoformat()} is not after served_on "
                     f"({served_on.isoformat()})")
    if surcharge_on and prosecution_on and prosecution_on <= surcharge_on:
        row.fail("prosecution_on", f"{prosecution_on.isoformat()} is not after surcharge_on "
                 f"({surcharge_on.isoformat()})")


def records_from_rows(
    rows: Iterable[Mapping[str, object]], *, first_line: int = 1, today: date | None = None
) -> tuple[list[DebtRecord], list[RecordError]]:
    """Validate already-parsed rows (e.g. a JSON body): records and errors, in order."""
    records: list[DebtRecord] = []
    errors: list[RecordError] = []
    seen: dict[tuple[str, str], int] = {}
    for line, raw in enumerate(rows, start=first_line):
        try:
            record = validate_record(raw, line=line, today=today)
        except RecordError as exc:
            errors.append(exc)
            continue
        previous = seen.setdefault(record.key, line)
        if previous != line:
            errors.append(RecordError(line, "reference", f"{record.reference!r} from "
                                      f"{record.source!r} is already on line {previous}"))
            continue
        records.append(record)
    return records, errors
