"""Ingest debts from the registries: validate rows, upsert them by (source, reference).

Used by `debtbot import FILE` (CSV or JSON lines) and by the HTTP ingest API. Re-importing
the same rows changes nothing; a debt missing from a file is left alone (only an explicit
status or `cancel_debts` closes one). Identity numbers are hashed before they reach the
store, and no message here ever repeats one.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import csv
import gc
import json
import re
import sys
import threading
from array import array
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from operator import itemgetter
from pathlib import Path
from typing import Any, BinaryIO

import phonenumbers

from debtbot.domain import registry_dates
from debtbot.domain.calendar import NICOSIA
from debtbot.domain.debts import OPEN_STATUSES, Debt, DebtKind, DebtStatus, HolderType
from debtbot.domain.identifiers import (
    PERSON_ID_TYPES,
    Identifier,
    IdType,
    InvalidIdentifier,
    normalise_identifier,
)
from debtbot.domain.keys import HashKey, Keyring
from debtbot.domain.messages import OutboxPurpose  # -- added for outbox
from debtbot.domain.money import InvalidAmount, parse_amount
from debtbot.domain.rules import Rulebook
from debtbot.services.deps import Deps
from debtbot.services.plan_news import (
    plan_closure_news,
    plan_debt_news,
    release_held_news,
    withhold_new_debt_news,
)
from debtbot.store import audit
from debtbot.store.bulk import defer_commit_flush
from debtbot.store.db import dialect_of, transaction
from debtbot.store.debts import (
    COMPANY_ID_AT,
    PERSON_ID_AT,
    close_debts,
    refresh_debt_statistics,
    stored_debts,
    sync_stored_debts,
)
from debtbot.store.persons import (
    Previous,
    Stored,
    add_representatives,
    stored_companies,
    stored_persons,
    sync_stored_companies,
    sync_stored_persons,
)
from debtbot.store.unit_of_work import UnitOfWork  # -- added for outbox

# The columns (CSV header / JSON-lines keys). Kept stable: registries write them.
REQUIRED_COLUMNS = (
    "kind", "source", "reference", "authority", "holder_type", "id_type", "id_number", "name",
    "date_of_birth", "amount", "served_on",
)
OPTIONAL_COLUMNS = (
    "phone", "language", "due_on", "status", "points",
    "surcharge_rate", "post_clearance", "enforcement_suspended", "instalments_on_time",
    "finding_notice_on", "representative_id_type", "representative_id_number", "representative_name",
    "representative_date_of_birth", "representative_phone", "representative_role",
    "served_at", "freeze_notified_on", "seized_on", "charge_notified_on",
    "surcharge_on", "prosecution_on",
)
# Tax Collection Law 9B(5), 9Γ(5), 9Δ(4): the dates a measure's objection window counts from.
TAX_MEASURE_COLUMNS = ("freeze_notified_on", "seized_on", "charge_notified_on")
KNOWN_COLUMNS = frozenset(REQUIRED_COLUMNS + OPTIONAL_COLUMNS)
LANGUAGES = ("el", "en", "tr")
DEFAULT_BATCH_SIZE = 5000
_DIFFERENCES_LISTED = 100  # per audit entry; the count holds them all
MAX_AMOUNT = Decimal("100000000000")  # 10^11 euro: anything larger is a data error
MAX_POINTS = 12
MAX_LENGTHS = {"source": 64, "reference": 64, "authority": 200, "name": 300,
               "representative_name": 300, "representative_role": 100}

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TRUE = frozenset({"true", "yes", "1", "y", "t"})
_FALSE = frozenset({"false", "no", "0", "n", "f"})
_STRIP = " \t\r\n"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # Unicode category Cc
_SCRIPTS = {
    "Greek": re.compile(r"[\u0370-\u03ff\u1f00-\u1fff]"),
    "Latin": re.compile(r"[A-Za-z\u00c0-\u024f\u1e00-\u1eff]"),
    "Cyrillic": re.compile(r"[\u0400-\u04ff]"),
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


class ImportFileError(ValueError):
    """The whole file is refused (unreadable, wrong format, missing columns); nothing went in."""


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


@dataclass(frozen=True, slots=True)
class IngestResult:
    inserted: int
    updated: int
    unchanged: int
    closed_debt_ids: tuple[int, ...] = ()
    cancelled_messages: int = 0
    news_planned: int = 0  # news of new and changed debts queued (issue #16)
    news_held_until: datetime | None = None  # not before then, unless released


# ---------------------------------------------------------------------------- validation


_OPTIONAL_CHECKED = (
    "due_on", "status", "points", "surcharge_rate", "post_clearance",
    "enforcement_suspended", "instalments_on_time", "finding_notice_on",
    "representative_id_number", "representative_id_type", "served_at", *TAX_MEASURE_COLUMNS,
    "surcharge_on", "prosecution_on",
)
_CHOICES: dict[type, dict[str, Any]] = {
    enum: {item.value: item for item in enum}
    for enum in (DebtKind, DebtStatus, HolderType, IdType)
}


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
        if value.__class__ is not str:  # JSON lines: numbers, null, booleans, lists
            if value is None:
                if required:
                    self.fail(name, "is missing")
                return ""
            if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
                self.fail(name, "must be text")
                return ""
            value = str(value)
        text = value.strip(_STRIP)  # type: ignore[union-attr]
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

    def date(self, name: str, *, required: bool = False, earliest: int = 1900,
             latest: date | None = None) -> date | None:
        value = self.raw.get(name)
        if value.__class__ is str and len(value) == 10 and value[4] == value[7] == "-":
            text = value  # the common case, checked without the general text() path
        else:
            text = self.text(name, required=required)
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


def _amount(row: _Row) -> Decimal | None:
    value = row.raw.get("amount")
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
    key = (*(row.raw.get(column) for column in _HOLDER_COLUMNS), today)
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
    date_of_birth = row.date("date_of_birth", latest=today)
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


# The fast path: a well-formed row (the bulk of a registry file) checked with plain lookups.
# It returns None at the first thing it does not recognise, and the general checks below
# then produce the record or every problem and warning, exactly as they would have anyway.
_KINDS, _STATUSES = _CHOICES[DebtKind], _CHOICES[DebtStatus]
_HOLDER_TYPES, _ID_TYPES = _CHOICES[HolderType], _CHOICES[IdType]
_PLAIN_AMOUNT = re.compile(r"\d{1,12}(?:\.\d{1,2})?")
_CENT = Decimal("0.01")
_RARE_COLUMNS = (
    "surcharge_rate", "post_clearance", "enforcement_suspended", "instalments_on_time",
    "finding_notice_on", "representative_id_number", "representative_id_type", "served_at",
    *TAX_MEASURE_COLUMNS, "surcharge_on", "prosecution_on",
)
_NAME_MAX = MAX_LENGTHS["name"]


def _plain(value: object, limit: int = 10_000) -> str | None:
    if value.__class__ is not str:
        return None
    text = value.strip(_STRIP)  # type: ignore[attr-defined]
    if not text or len(text) > limit or _CONTROL.search(text):
        return None
    return text


def _plain_date(value: object, earliest: int, latest: date | None) -> date | None:
    if value.__class__ is not str or not _ISO_DATE.match(value):  # type: ignore[arg-type]
        return None
    try:
        day = date.fromisoformat(value)  # type: ignore[arg-type]
    except ValueError:
        return None
    if day.year < earliest or (latest is not None and day > latest):
        return None
    return day


def _plain_holder(raw: Mapping[str, object], today: date | None
                  ) -> tuple[HolderType, Holder] | None:
    get = raw.get
    key = (*(get(column) for column in _HOLDER_COLUMNS), today)
    try:
        found = _HOLDERS.get(key)
    except TypeError:
        return None
    if found is not None:
        return found
    holder_type = _HOLDER_TYPES.get(get("holder_type"))  # type: ignore[arg-type]
    id_type = _ID_TYPES.get(get("id_type"))  # type: ignore[arg-type]
    number = _plain(get("id_number"))
    name = _plain(get("name"), _NAME_MAX)
    if holder_type is None or id_type is None or number is None or name is None:
        return None
    if (id_type is IdType.COMPANY_REG) is not (holder_type is HolderType.COMPANY):
        return None
    if _mixed_script_word(name):
        return None
    born: date | None = None
    if (value := get("date_of_birth")) not in (None, ""):
        if holder_type is HolderType.COMPANY:
            return None
        born = _plain_date(value, 1900, today)
        if born is None:
            return None
    phone: str | None = None
    if (value := get("phone")) not in (None, ""):
        text = _plain(value)
        phone = _e164(text) if text is not None else None
        if phone is None:
            return None
    language = get("language")
    if language == "" or language is None:
        language = None
    elif language not in LANGUAGES:
        return None
    try:
        identifier = normalise_identifier(id_type, number)
    except InvalidIdentifier:
        return None
    found = (holder_type, Holder(identifier, name, born, phone, language))  # type: ignore[arg-type]
    if len(_HOLDERS) >= _HOLDERS_MAX:
        _HOLDERS.clear()
    _HOLDERS[key] = found
    return found


def _plain_record(
    raw: Mapping[str, object], line: int, today: date | None, default_source: str | None
) -> DebtRecord | None:
    get = raw.get
    for column in _RARE_COLUMNS:
        if (value := get(column)) is not None and value != "":
            return None
    kind = _KINDS.get(get("kind"))  # type: ignore[arg-type]
    source = _plain(get("source"), 64)
    if default_source:
        if source is None:
            if get("source") not in (None, ""):
                return None
            source = default_source
        elif source != default_source:
            return None
    reference = _plain(get("reference"), 64)
    authority = get("authority")
    if authority not in (None, ""):
        authority = _plain(authority, 200)
        if authority is None:
            return None
    else:
        authority = ""
    amount_text = get("amount")
    if kind is None or source is None or reference is None or amount_text.__class__ is not str:
        return None
    if not _PLAIN_AMOUNT.fullmatch(amount_text):  # type: ignore[arg-type]
        return None
    amount = Decimal(amount_text).quantize(_CENT)  # type: ignore[arg-type]
    if amount > MAX_AMOUNT:
        return None
    served_on: date | None = None
    if (value := get("served_on")) not in (None, ""):
        served_on = _plain_date(value, 1990, today)
        if served_on is None:
            return None
    due_on: date | None = None
    if (value := get("due_on")) not in (None, ""):
        due_on = _plain_date(value, 1990, None)
        if due_on is None:
            return None
    status: DebtStatus | None = None
    if (value := get("status")) not in (None, ""):
        status = _STATUSES.get(value)  # type: ignore[arg-type]
        if status is None:
            return None
    points: int | None = None
    if (value := get("points")) not in (None, ""):
        if value.__class__ is not str or not value.isascii() or not value.isdigit():  # type: ignore[attr-defined]
            return None
        points = int(value)  # type: ignore[arg-type]
        if points > MAX_POINTS:
            return None
    holder = _plain_holder(raw, today)
    if holder is None:
        return None
    return DebtRecord(
        kind, source, reference, authority, holder[0], holder[1], amount, served_on,  # type: ignore[arg-type]
        due_on, status, points, line=line,
    )


def validate_record(
    raw: Mapping[str, object],
    *,
    line: int,
    today: date | None = None,
    default_source: str | None = None,
) -> DebtRecord:
    """Check one row (CSV row or JSON object) and return it typed and normalised.

    Raises RecordError naming the line and field; `.problems` holds every fault in the row.
    `today` (the Nicosia date) refuses dates of service and birth in the future.
    """
    try:
        record = _plain_record(raw, line, today, default_source)
    except TypeError:  # a JSON list or object where a value belongs: the checks below say so
        record = None
    if record is not None:
        return record
    row = _Row(raw, line)
    kind = row.choice("kind", DebtKind, required=True)
    source = row.text("source")
    if default_source:
        if not source:
            source = default_source
        elif source != default_source:
            row.fail("source", f"{source!r} differs from the source given for the file "
                     f"({default_source!r})")
    elif not source:
        row.fail("source", "is missing" if raw.get("source") is None else "is empty")
    reference = row.text("reference", required=True)
    authority = row.text("authority")
    holder_type, holder = _holder(row, today)
    amount = _amount(row)
    served_on = row.date("served_on", earliest=1990, latest=today)
    # Optional columns are mostly empty: skip their checks then (a million rows add up).
    given = {
        column for column in _OPTIONAL_CHECKED
        if (value := raw.get(column)) is not None and value != ""
    }
    due_on = row.date("due_on", earliest=1990) if "due_on" in given else None
    status = row.choice("status", DebtStatus) if "status" in given else None
    points = _points(row) if "points" in given else None
    rate = _rate(row) if "surcharge_rate" in given else None
    post_clearance = row.flag("post_clearance") if "post_clearance" in given else None
    suspended = (
        row.flag("enforcement_suspended") if "enforcement_suspended" in given else None
    )
    instalments = row.flag("instalments_on_time") if "instalments_on_time" in given else None
    finding_notice_on = (
        row.date("finding_notice_on", earliest=1990, latest=today)
        if "finding_notice_on" in given else None
    )
    served_at = row.moment("served_at", today=today) if "served_at" in given else None
    if served_at is not None:
        # Type E note 1: the moment of service; its Cyprus day is the date of service.
        day = served_at.astimezone(NICOSIA).date()
        if served_on is None and "served_on" not in row.problems_in():
            served_on = day
        elif served_on is not None and day != served_on:
            row.fail("served_at", f"falls on {day.isoformat()} in Cyprus, not on served_on "
                     f"{served_on.isoformat()}")
    measures: dict[str, date | None] = {}
    for column in TAX_MEASURE_COLUMNS:
        measures[column] = (
            row.date(column, earliest=1990, latest=today) if column in given else None
        )
        if measures[column] is not None and kind is not DebtKind.TAX:
            row.warnings.append(f"line {row.line}: {column} is for tax debts; ignored")
            measures[column] = None
    surcharge_on = row.date("surcharge_on", earliest=1990) if "surcharge_on" in given else None
    prosecution_on = (
        row.date("prosecution_on", earliest=1990) if "prosecution_on" in given else None
    )
    if surcharge_on is not None or prosecution_on is not None:
        _check_registry_dates(row, kind, served_on, surcharge_on, prosecution_on)

    representative: Holder | None = None
    role = ""
    if "representative_id_number" in given or "representative_id_type" in given:
        if holder_type is not HolderType.COMPANY:
            row.fail("representative_id_number", "only a company has representatives")
        else:
            rep_id = row.identifier(
                "representative_id_type", "representative_id_number", PERSON_ID_TYPES
            )
            rep_name = row.name("representative_name")
            rep_dob = row.date("representative_date_of_birth", latest=today)
            rep_phone = row.phone("representative_phone")
            role = row.text("representative_role")
            if rep_id is not None:
                representative = Holder(rep_id, rep_name, rep_dob, rep_phone, None)

    if row.problems:
        first = row.problems[0]
        first.problems = tuple(row.problems)
        raise first
    assert kind and holder_type and holder and amount is not None
    return DebtRecord(
        kind=kind,
        source=source,
        reference=reference,
        authority=authority,
        holder_type=holder_type,
        holder=holder,
        amount=amount,
        served_on=served_on,
        due_on=due_on,
        status=status,
        points=points,
        surcharge_rate=rate,
        post_clearance=post_clearance,
        enforcement_suspended=suspended,
        instalments_on_time=instalments,
        finding_notice_on=finding_notice_on,
        served_at=served_at,
        freeze_notified_on=measures["freeze_notified_on"],
        seized_on=measures["seized_on"],
        charge_notified_on=measures["charge_notified_on"],
        surcharge_on=surcharge_on,
        prosecution_on=prosecution_on,
        representative=representative,
        representative_role=role,
        line=line,
        warnings=tuple(row.warnings),
    )


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


# ---------------------------------------------------------------------------- writing


class _Hashes(dict[Identifier, str]):
    """Identifier → keyed hash for one key: a holder's later rows are not hashed again; and
    (identifier hash, date of birth, phone) → their hashes, for the same reason."""

    def __init__(self, key: HashKey) -> None:
        super().__init__()
        self.key = key
        self.personal: dict[tuple[str, date | None, str | None],
                            tuple[str | None, str | None]] = {}

    def identifier(self, identifier: Identifier) -> str:
        found = self.get(identifier)
        if found is None:
            if len(self) >= _HASHES_MAX:
                self.clear()
            found = self[identifier] = self.key.identifier_text(
                f"{_VALUES[identifier.id_type]}:{identifier.number}"
            )
        return found

    def person(self, id_hash: str, born: date | None, phone: str | None
               ) -> tuple[str | None, str | None]:
        wanted = (id_hash, born, phone)
        found = self.personal.get(wanted)
        if found is None:
            if len(self.personal) >= _HASHES_MAX:
                self.personal.clear()
            found = self.personal[wanted] = (
                self.key.date_of_birth(id_hash, born) if born is not None else None,
                self.key.phone(id_hash, phone) if phone is not None else None,
            )
        return found


# Enum members → their values, without the enum machinery's attribute lookup per row.
_VALUES: dict[object, str] = {
    item: item.value for enum in (DebtKind, DebtStatus, HolderType, IdType) for item in enum
}
# Bounded (cleared when full): at most a few MB, however large the file.
_HASHES_MAX = 16_384
_HASHES: dict[str, _Hashes] = {}


def _hash_cache(key: HashKey) -> _Hashes:
    found = _HASHES.get(key.key_id)
    if found is None:
        if len(_HASHES) >= 2:
            _HASHES.clear()
        found = _HASHES[key.key_id] = _Hashes(key)
    return found


@dataclass(slots=True)
class PreparedBatch:
    """A batch worked out before its transaction, in the form the database stores: holders
    keyed by identifier hash, debts in (source, reference) order. It needs no connection, so
    a file import prepares the next batch in its reading thread while this one is written.
    Identity numbers, dates of birth and phones are keyed hashes by now (domain/keys.py)."""

    size: int  # rows in the batch
    persons: Stored  # id_hash → the person's columns
    companies: Stored  # reg_hash → the company's columns
    representatives: list[tuple[str, str, str]]  # (company hash, person hash, role)
    keys: list[tuple[str, str]]  # each debt's (source, reference) …
    holders: list[tuple[bool, str]]  # … its holder: (a company?, hash) …
    debts: list[list[Any]]  # … and its columns; person_id and company_id filled in later
    # During a key rotation: the holders as the previous key hashes them.
    previous_persons: Previous | None = None
    previous_companies: Previous | None = None
    # Debts whose registry dates differ from the rulebook's: {"debt", "surcharge_on": [...]}.
    registry_dates_differ: list[dict[str, Any]] = field(default_factory=list)


def _holders_under(
    records: Sequence[DebtRecord], key: HashKey
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]], list[tuple[str, str, str]],
           list[tuple[bool, str]]]:
    """Holders of the records keyed by their hash under `key`, in file order; the later row
    wins, but an empty cell does not erase."""
    hashes = _hash_cache(key)
    hashed, personal, key_id = hashes.identifier, hashes.person, key.key_id
    persons: dict[str, dict[str, Any]] = {}
    companies: dict[str, dict[str, Any]] = {}
    representatives: list[tuple[str, str, str]] = []
    holders: list[tuple[bool, str]] = []

    def person(holder: Holder) -> str:
        id_hash = hashed(holder.identifier)
        born_hash, phone_hash = personal(id_hash, holder.date_of_birth, holder.phone)
        values = {
            "id_type": _VALUES[holder.identifier.id_type], "name": holder.name,
            "date_of_birth_hash": born_hash, "phone_hash": phone_hash,
            "language": holder.language, "key_id": key_id,
        }
        earlier = persons.get(id_hash)
        if earlier is not None:
            values = {k: earlier[k] if v is None else v for k, v in values.items()}
        persons[id_hash] = values
        return id_hash

    for record in records:
        if record.holder_type is HolderType.COMPANY:
            reg_hash = hashed(record.holder.identifier)
            language = record.holder.language or companies.get(reg_hash, {}).get("language")
            companies[reg_hash] = {
                "name": record.holder.name, "language": language, "key_id": key_id,
            }
            holders.append((True, reg_hash))
            if record.representative is not None:
                representatives.append(
                    (reg_hash, person(record.representative), record.representative_role)
                )
        else:
            holders.append((False, person(record.holder)))
    return persons, companies, representatives, holders


def _previous(
    records: Sequence[DebtRecord], keyring: Keyring, dialect: str,
    current_persons: Mapping[str, Any], current_companies: Mapping[str, Any],
) -> tuple[Previous, Previous]:
    assert keyring.previous is not None
    persons, companies, _, _ = _holders_under(records, keyring.previous)
    new, old = _hash_cache(keyring.current), _hash_cache(keyring.previous)
    person_hashes: dict[str, str] = {}
    company_hashes: dict[str, str] = {}
    for record in records:
        for holder in (record.holder, record.representative):
            if holder is None:
                continue
            is_company = holder.identifier.id_type is IdType.COMPANY_REG
            pairs = company_hashes if is_company else person_hashes
            pairs[new.identifier(holder.identifier)] = old.identifier(holder.identifier)
    assert set(person_hashes) == set(current_persons)
    assert set(company_hashes) == set(current_companies)
    return (
        Previous(person_hashes, stored_persons(dialect, persons)),
        Previous(company_hashes, stored_companies(dialect, companies)),
    )


def prepare_batch(
    records: Sequence[DebtRecord], keys: Keyring | str, *, dialect: str, rulebook: Rulebook
) -> PreparedBatch:
    keyring = Keyring.of(keys) if isinstance(keys, str) else keys
    persons, companies, representatives, holders = _holders_under(records, keyring.current)
    rows: list[dict[str, Any]] = []
    for record, holder in zip(records, holders, strict=True):  # in file order
        rows.append({
            "source": record.source,
            "reference": record.reference,
            "kind": _VALUES[record.kind],
            "authority": record.authority,
            "holder": holder,
            "amount": record.amount,
            "served_on": record.served_on,
            "due_on": record.due_on,
            "status": _VALUES[record.status] if record.status else None,
            "points": record.points,
            "surcharge_rate": (
                str(record.surcharge_rate) if record.surcharge_rate is not None else None
            ),
            "post_clearance": record.post_clearance,
            "enforcement_suspended": record.enforcement_suspended,
            "instalments_on_time": record.instalments_on_time,
            "finding_notice_on": record.finding_notice_on,
            "served_at": record.served_at,
            "freeze_notified_on": record.freeze_notified_on,
            "seized_on": record.seized_on,
            "charge_notified_on": record.charge_notified_on,
            "surcharge_on": record.surcharge_on,
            "prosecution_on": record.prosecution_on,
        })
    rows.sort(key=_debt_key)  # the order the store writes them in (index pages in turn)
    previous_persons = previous_companies = None
    if keyring.previous is not None:
        previous_persons, previous_companies = _previous(
            records, keyring, dialect, persons, companies
        )
    return PreparedBatch(
        size=len(records),
        persons=stored_persons(dialect, persons),
        companies=stored_companies(dialect, companies),
        representatives=representatives,
        keys=[(row["source"], row["reference"]) for row in rows],
        holders=[row["holder"] for row in rows],
        debts=stored_debts(dialect, rows),
        previous_persons=previous_persons,
        previous_companies=previous_companies,
        registry_dates_differ=_registry_differences(records, rulebook),
    )


def _registry_differences(
    records: Sequence[DebtRecord], rulebook: Rulebook
) -> list[dict[str, Any]]:
    found = []
    for record in records:
        if record.surcharge_on is None and record.prosecution_on is None:
            continue
        debt = Debt(record.kind, record.reference, record.amount, record.served_on,
                    surcharge_on=record.surcharge_on, prosecution_on=record.prosecution_on)
        differ = registry_dates.differences(debt, rulebook=rulebook)
        if differ:
            found.append({
                "debt": f"{record.source}:{record.reference}",
                **{name: {"registry": given.isoformat(), "rulebook": computed.isoformat()}
                   for name, (given, computed) in differ.items()},
            })
    return found


_debt_key = itemgetter("source", "reference")


async def upsert_debts(
    deps: Deps, records: Sequence[DebtRecord] | PreparedBatch, *, actor: str,
    audit_action: str | None = "debts.import", audit_details: Mapping[str, object] | None = None,
    durable: bool = True, news_hold: timedelta | None = None,
) -> IngestResult:
    """Insert or update a batch of debts (and their holders) in one transaction.

    By (source, reference): new keys are inserted, changed ones updated, identical ones left
    untouched. A debt that goes from outstanding to paid/cancelled has its pending messages
    cancelled in the same transaction. One audit entry per call (counts only).
    `durable=False` (file imports) lets PostgreSQL return from the commit before it is flushed
    to disk: a server crash right after may lose the batch whole, never part of it, and
    importing the file again restores it. The news of new and changed debts for linked chats
    is queued in the same transaction (services.plan_news); `news_hold` keeps it back that
    long (a file import releases it when it has finished: IngestResult.news_held_until).
    """
    batch = (
        records if isinstance(records, PreparedBatch)
        else prepare_batch(records, deps.settings.keyring, dialect=dialect_of(deps.sessions),
                           rulebook=deps.rulebook)
    )
    async with transaction(deps.sessions) as session:
        if not durable:
            await defer_commit_flush(session)
        person_ids = await sync_stored_persons(session, batch.persons, batch.previous_persons)
        company_ids = await sync_stored_companies(
            session, batch.companies, batch.previous_companies
        )
        await add_representatives(
            session,
            [(company_ids[c], person_ids[p], role) for c, p, role in batch.representatives],
        )
        for values, (is_company, holder_hash) in zip(batch.debts, batch.holders, strict=True):
            if is_company:
                values[PERSON_ID_AT], values[COMPANY_ID_AT] = None, company_ids[holder_hash]
            else:
                values[PERSON_ID_AT], values[COMPANY_ID_AT] = person_ids[holder_hash], None
        now = deps.clock()
        changes = await sync_stored_debts(session, batch.keys, batch.debts, now=now)
        # News of new and changed debts (issue #16), planned in this transaction; before the
        # closed debts' messages are cancelled, so a debt opened and closed unseen is no news.
        hold = now + news_hold if news_hold is not None else None
        uow = UnitOfWork(session)  # -- changed for outbox
        news = await plan_debt_news(uow, deps.settings, changes, now=now,
                                    rulebook=deps.rulebook, hold=hold)
        cancelled = await uow.outbox.cancel(debt_ids=changes.closed_ids,
                                            except_purpose=OutboxPurpose.RECEIPT,
                                            reason="debt closed")
        if batch.registry_dates_differ:
            # The registry's dates win, but a difference from the law's count is worth a look.
            await audit.record(
                session,
                actor=actor,
                action="debts.registry_dates_differ",
                count=len(batch.registry_dates_differ),
                details={"debts": batch.registry_dates_differ[:_DIFFERENCES_LISTED]},
                at=deps.clock(),
            )
        if audit_action:
            await audit.record(
                session,
                actor=actor,
                action=audit_action,
                count=changes.inserted + changes.updated,
                details={
                    "rows": batch.size, "inserted": changes.inserted,
                    "updated": changes.updated, "unchanged": changes.unchanged,
                    "closed": len(changes.closed_ids), "messages_cancelled": cancelled,
                    "news": news, **(audit_details or {}),
                },
                at=deps.clock(),
            )
    return IngestResult(
        inserted=changes.inserted,
        updated=changes.updated,
        unchanged=changes.unchanged,
        closed_debt_ids=tuple(changes.closed_ids),
        cancelled_messages=cancelled,
        news_planned=news,
        news_held_until=hold if news else None,
    )


async def cancel_debts(
    deps: Deps,
    refs: Sequence[tuple[str, str]],
    *,
    actor: str,
    status: DebtStatus = DebtStatus.CANCELLED,
) -> int:
    """Close the open debts with these (source, reference) keys and cancel their pending
    messages, in one transaction. Returns how many debts changed (unknown keys are skipped).
    """
    if status in OPEN_STATUSES:
        raise ValueError("cancel_debts closes debts")
    now = deps.clock()
    async with transaction(deps.sessions) as session:
        closed = await close_debts(session, list(dict.fromkeys(refs)), status=status, now=now)
        uow = UnitOfWork(session)  # -- changed for outbox
        news = await plan_closure_news(uow, deps.settings, closed, now=now,
                                       rulebook=deps.rulebook)
        cancelled = await uow.outbox.cancel(debt_ids=closed, except_purpose=OutboxPurpose.RECEIPT,
                                            reason="debt closed")
        await audit.record(
            session,
            actor=actor,
            action="debts.cancel",
            count=len(closed),
            details={"requested": len(refs), "closed": len(closed), "status": status.value,
                     "messages_cancelled": cancelled, "news": news},
            at=now,
        )
    return len(closed)


# ---------------------------------------------------------------------------- files

Progress = Callable[[int, int], None]  # (bytes read so far, file size)


@dataclass(slots=True)
class ImportReport:
    """What an import did. `errors` and `warnings` keep the first MAX_MESSAGES of each."""

    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    closed: int = 0
    messages_cancelled: int = 0
    news: int = 0  # news of new and changed debts queued (issue #16)
    repeated: list[tuple[str, str]] = field(default_factory=list)  # keys named twice
    errors: list[RecordError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    warning_count: int = 0
    committed: bool = True  # False: --strict refused the file, nothing was written

    MAX_MESSAGES = 1000

    def error(self, error: RecordError) -> None:
        self.rejected += 1
        if len(self.errors) < self.MAX_MESSAGES:
            self.errors.append(error)

    def warn(self, message: str) -> None:
        self.warning_count += 1
        if len(self.warnings) < self.MAX_MESSAGES:
            self.warnings.append(message)


class _Reader:
    """Decodes a file line by line as UTF-8, remembering which lines were not UTF-8."""

    def __init__(self, binary: BinaryIO) -> None:
        self.binary = binary
        self.bytes_read = 0
        self.line = 0
        self.bad_lines: set[int] = set()

    def __iter__(self) -> Iterator[str]:
        for raw in self.binary:
            self.line += 1
            self.bytes_read += len(raw)
            if self.line == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8):]
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError:
                self.bad_lines.add(self.line)
                yield raw.decode("utf-8", "replace")


_NOT_UTF8 = ("is not UTF-8 text (was the file saved as Windows-1253, ISO-8859-7 or "
             "Windows-1254?); save the file as UTF-8")


def _detect_format(path: Path, head: bytes) -> str:
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or b"\x00" in head[:200]:
        raise ImportFileError("the file is UTF-16 (or binary): save it as UTF-8 text")
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix in (".csv", ".txt"):
        return "csv"
    return "jsonl" if head.lstrip(codecs.BOM_UTF8 + b" \t\r\n").startswith(b"{") else "csv"


def _csv_rows(reader: _Reader, report: ImportReport) -> Iterator[tuple[int, Mapping[str, object] | RecordError]]:
    lines = iter(reader)
    first = next(lines, None)
    while first is not None and not first.strip():
        first = next(lines, None)
    if first is None:
        raise ImportFileError("the file is empty")
    if reader.bad_lines:
        raise ImportFileError(f"the header (line {reader.line}) {_NOT_UTF8}")
    delimiter = ";" if first.count(";") > first.count(",") else ","
    header = [name.strip(_STRIP).lower() for name in next(csv.reader([first], delimiter=delimiter))]
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        raise ImportFileError(f"the header names a column twice: {', '.join(duplicates)}")
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if missing:
        raise ImportFileError(
            f"missing required column(s): {', '.join(missing)} (the header on line "
            f"{reader.line} has: {', '.join(header)})"
        )
    for name in header:
        if name not in KNOWN_COLUMNS:
            report.warn(f"line {reader.line}: unknown column {name!r} ignored")
    width = len(header)
    rows = csv.reader(lines, delimiter=delimiter, strict=True)
    end = reader.line
    while True:
        start = end + 1
        try:
            values = next(rows)
        except StopIteration:
            return
        except csv.Error as exc:
            end = reader.line
            yield start, RecordError(start, None, f"not valid CSV ({exc})")
            continue
        end = reader.line
        if not values or (len(values) == 1 and not values[0].strip()):
            continue
        if any(number in reader.bad_lines for number in range(start, end + 1)):
            yield start, RecordError(start, None, f"this line {_NOT_UTF8}")
            continue
        if len(values) != width:
            yield start, RecordError(
                start, None, f"has {len(values)} values but the header has {width} columns"
            )
            continue
        yield start, dict(zip(header, values, strict=True))


def _jsonl_rows(reader: _Reader, report: ImportReport) -> Iterator[tuple[int, Mapping[str, object] | RecordError]]:
    seen_unknown: set[str] = set()
    any_line = False
    for text in reader:
        number = reader.line
        if not text.strip():
            continue
        any_line = True
        if number in reader.bad_lines:
            yield number, RecordError(number, None, f"this line {_NOT_UTF8}")
            continue
        try:
            value = json.loads(text, parse_float=Decimal)
        except ValueError as exc:
            yield number, RecordError(number, None, f"not valid JSON ({exc})")
            continue
        if not isinstance(value, dict):
            yield number, RecordError(number, None, "is not a JSON object")
            continue
        value = {str(k).lower(): v for k, v in value.items()}
        for name in value.keys() - KNOWN_COLUMNS - seen_unknown:
            seen_unknown.add(name)
            report.warn(f"line {number}: unknown field {name!r} ignored")
        yield number, value
    if not any_line:
        raise ImportFileError("the file is empty")


def _validated(
    path: Path,
    report: ImportReport,
    *,
    today: date,
    source: str | None,
    progress: Progress | None,
) -> Iterator[DebtRecord | RecordError]:
    size = path.stat().st_size
    with path.open("rb") as binary:
        head = binary.read(4096)
        binary.seek(0)
        reader = _Reader(binary)
        rows = (_jsonl_rows if _detect_format(path, head) == "jsonl" else _csv_rows)(reader, report)
        first_lines = FirstLines()
        for count, (line, raw) in enumerate(rows, start=1):
            report.rows += 1
            if progress is not None and count % 1000 == 0:
                progress(reader.bytes_read, size)
            if isinstance(raw, RecordError):
                yield raw
                continue
            try:
                record = validate_record(raw, line=line, today=today, default_source=source)
            except RecordError as exc:
                yield exc
                continue
            previous = first_lines.first(hash(record.key), line)
            if previous != line:
                report.repeated.append(record.key)
                yield RecordError(
                    line, "reference",
                    f"{record.reference!r} from {record.source!r} is already on line {previous}",
                )
                continue
            for warning in record.warnings:
                report.warn(warning)
            yield record
        if progress is not None:
            progress(size, size)


class FirstLines:
    """Key hash → the line it was first seen on: the duplicate check of a file import.

    Two flat arrays with linear probing, 12 bytes a slot and at most half the slots used:
    about 25 MB for a million keys, where a dict of hash → line costs about 100 MB (its
    entries and two int objects for each). Distinct keys whose 64-bit hashes collide would
    be reported as duplicates, as with a dict of hashes: about one chance in 10^7 for a
    million keys.
    """

    def __init__(self, capacity: int = 1 << 16) -> None:
        self._keys = array("q", bytes(8 * capacity))  # 0 marks a free slot
        self._lines = array("I", bytes(4 * capacity))
        self._mask = capacity - 1
        self._used = 0

    def __len__(self) -> int:
        return self._used

    def first(self, key_hash: int, line: int) -> int:
        """The line this key was first seen on: `line` itself the first time."""
        key = key_hash or 1
        keys, mask = self._keys, self._mask
        slot = key & mask
        while (found := keys[slot]) != 0:
            if found == key:
                return self._lines[slot]
            slot = (slot + 1) & mask
        keys[slot] = key
        self._lines[slot] = line
        self._used += 1
        if self._used * 2 > mask:
            self._grow()
        return line

    def _grow(self) -> None:
        keys, lines = self._keys, self._lines
        self.__init__(2 * len(keys))  # type: ignore[misc]
        for key, line in zip(keys, lines, strict=True):
            if key:
                self.first(key, line)


async def import_file(
    deps: Deps,
    path: Path | str,
    *,
    actor: str,
    strict: bool = False,
    source: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Progress | None = None,
    today: date | None = None,
) -> ImportReport:
    """Import a CSV or JSON-lines file in batches, one transaction per batch.

    Rows that fail validation are reported and skipped; with `strict` the file is checked
    first and nothing is written unless every row is valid. Raises ImportFileError when the
    file as a whole cannot be read (then nothing is written either).
    """
    path = Path(path)
    if not path.is_file():
        raise ImportFileError(f"{path} is not a file")
    if today is None:
        today = deps.clock().astimezone(deps.settings.tz).date()
    report = ImportReport()
    if strict:
        for item in _validated(path, report, today=today, source=source, progress=progress):
            if isinstance(item, RecordError):
                report.error(item)
        if report.rejected:
            report.committed = False
            async with transaction(deps.sessions) as session:
                await audit.record(
                    session, actor=actor, action="debts.import", count=0,
                    details={"file": path.name, "rows": report.rows, "rejected": report.rejected,
                             "strict": True, "committed": False},
                    at=deps.clock(),
                )
            return report
        report = ImportReport()  # second pass: the counts again, this time writing

    batch_number = 0
    # The news of the whole file goes out together when it has been read to the end (one
    # message per chat however the batches fall); if the import dies, after the hold.
    holds: list[datetime] = []

    async def flush(batch: PreparedBatch) -> None:
        nonlocal batch_number
        batch_number += 1
        result = await upsert_debts(
            deps, batch, actor=actor,
            audit_details={"file": path.name, "batch": batch_number, "strict": strict},
            durable=False, news_hold=IMPORT_NEWS_HOLD,
        )
        report.news += result.news_planned
        if result.news_held_until is not None:
            holds.append(result.news_held_until)
        report.inserted += result.inserted
        report.updated += result.updated
        report.unchanged += result.unchanged
        report.closed += len(result.closed_debt_ids)
        report.messages_cancelled += result.cancelled_messages
        if batch_number & (batch_number - 1) == 0:  # batches 1, 2, 4, 8, …: the tables doubled
            await _refresh_statistics(deps)

    with _bulk_pace():
        await _write_batches(path, report, flush, today=today, source=source,
                             progress=progress, batch_size=batch_size,
                             keyring=deps.settings.keyring,
                             dialect=dialect_of(deps.sessions), rulebook=deps.rulebook)
    if batch_number == 0:
        # An import with nothing to write is still in the audit log.
        await flush(prepare_batch([], deps.settings.keyring, dialect=dialect_of(deps.sessions),
                                  rulebook=deps.rulebook))
    else:
        await _refresh_statistics(deps)
    if holds:
        async with transaction(deps.sessions) as session:
            uow = UnitOfWork(session)  # -- changed for outbox
            if report.repeated:
                report.news -= await withhold_new_debt_news(uow, report.repeated)
            await release_held_news(uow, deps.settings, holds=holds, now=deps.clock(),
                                    rulebook=deps.rulebook)
    return report


# How long a file import may hold back its news before it goes out anyway (a crash midway).
IMPORT_NEWS_HOLD = timedelta(minutes=30)


async def _refresh_statistics(deps: Deps) -> None:
    async with transaction(deps.sessions) as session:
        await refresh_debt_statistics(session)


@contextlib.contextmanager
def _bulk_pace() -> Iterator[None]:
    # A million rows allocate tens of millions of short-lived objects, hardly any in a
    # reference cycle (a rejected row's error): scanning the youngest generation every 700
    # allocations (the default) costs about a tenth of the validation time for little.
    # Collections still run, less often; the setting is restored afterwards.
    thresholds = gc.get_threshold()
    gc.set_threshold(max(thresholds[0], 50_000), *thresholds[1:])
    # The reading thread keeps the interpreter lock busy; each time the database answers,
    # the writing side waits for the lock up to the switch interval (5 ms by default) while
    # the server sits idle. A 0.2 ms interval hands it over at once.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(0.0002)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        sys.setswitchinterval(interval)


async def _write_batches(
    path: Path,
    report: ImportReport,
    flush: Callable[[PreparedBatch], Awaitable[None]],
    *,
    today: date,
    source: str | None,
    progress: Progress | None,
    batch_size: int,
    keyring: Keyring,
    dialect: str,
    rulebook: Rulebook,
) -> None:
    # Reading, validating and preparing batches (a thread of its own) overlaps writing them:
    # the database's share of the work (the server, or SQLite's C code) runs meanwhile. The
    # reader keeps up to READ_AHEAD batches ready, so neither side waits for the other's
    # slower batches: reading a batch and writing one take about as long.
    loop = asyncio.get_running_loop()
    ready: asyncio.Queue[PreparedBatch | BaseException | None] = asyncio.Queue()
    slots = threading.Semaphore(READ_AHEAD)
    stop = threading.Event()

    def read() -> None:
        records = _batches(
            _validated(path, report, today=today, source=source, progress=progress),
            report, batch_size,
        )
        try:
            for batch in records:
                prepared = prepare_batch(batch, keyring, dialect=dialect, rulebook=rulebook)
                while not slots.acquire(timeout=0.1):
                    if stop.is_set():
                        return
                if stop.is_set():
                    return
                loop.call_soon_threadsafe(ready.put_nowait, prepared)
            loop.call_soon_threadsafe(ready.put_nowait, None)
        except BaseException as exc:  # noqa: BLE001 (handed to the writing side, raised there)
            loop.call_soon_threadsafe(ready.put_nowait, exc)
        finally:
            records.close()  # closes the file

    reader = threading.Thread(target=read, name="debtbot-import-reader", daemon=True)
    reader.start()
    try:
        while (item := await ready.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            slots.release()
            await flush(item)
    finally:
        stop.set()
        await asyncio.to_thread(reader.join)


READ_AHEAD = 3  # prepared batches the reading thread may hold ready (about 3 MB each)


def _batches(
    items: Iterator[DebtRecord | RecordError], report: ImportReport, size: int
) -> Iterator[list[DebtRecord]]:
    batch: list[DebtRecord] = []
    for item in items:
        if isinstance(item, RecordError):
            report.error(item)
            continue
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def read_records(
    path: Path | str, *, today: date | None = None, source: str | None = None
) -> tuple[list[DebtRecord], ImportReport]:
    """Validate a (small) file without writing anything: the records and the report."""
    report = ImportReport()
    records: list[DebtRecord] = []
    for item in _validated(Path(path), report, today=today or date.max, source=source,
                           progress=None):
        if isinstance(item, RecordError):
            report.error(item)
        else:
            records.append(item)
    return records, report


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
