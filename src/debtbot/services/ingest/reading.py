"""Reading a registry's file: CSV (comma or semicolon) or JSON lines, UTF-8, line by line,
each row checked (validation.py) and a key named twice refused. A file as a whole that cannot
be read is refused with ImportFileError before anything is written.
"""

from __future__ import annotations

import codecs
import csv
import json
from array import array
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import BinaryIO

from debtbot.services.ingest.columns import KNOWN_COLUMNS, REQUIRED_COLUMNS
from debtbot.services.ingest.validation import STRIP, DebtRecord, RecordError, validate_record


class ImportFileError(ValueError):
    """The whole file is refused (unreadable, wrong format, missing columns); nothing went in."""


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
    header = [name.strip(STRIP).lower() for name in next(csv.reader([first], delimiter=delimiter))]
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


def validated_rows(
    path: Path,
    report: ImportReport,
    *,
    today: date,
    source: str | None,
    progress: Progress | None,
) -> Iterator[DebtRecord | RecordError]:
    """Each row of the file checked: its DebtRecord, or its RecordError (a key named again
    is one). The report counts the rows, keeps the warnings and the keys named twice."""
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



def read_records(
    path: Path | str, *, today: date | None = None, source: str | None = None
) -> tuple[list[DebtRecord], ImportReport]:
    """Validate a (small) file without writing anything: the records and the report."""
    report = ImportReport()
    records: list[DebtRecord] = []
    for item in validated_rows(Path(path), report, today=today or date.max, source=source,
                           progress=None):
        if isinstance(item, RecordError):
            report.error(item)
        else:
            records.append(item)
    return records, report


