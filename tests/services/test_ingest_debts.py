"""Importing registry files and batches: upsert by (source, reference), clear line-numbered
errors, hashed identifiers, one transaction per batch. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from debtbot.domain.identifiers import identifier_hash, normalise_identifier
from debtbot.domain.keys import HashKey
from debtbot.services.deps import Deps
from debtbot.services.ingest.pipeline import import_file
from debtbot.services.ingest.reading import FirstLines, ImportFileError
from debtbot.services.ingest.upsert import cancel_debts, upsert_debts
from debtbot.services.ingest.validation import RecordError, validate_record
from debtbot.settings import Settings
from debtbot.store.models import (
    AuditEntry,
    Company,
    CompanyRepresentative,
    DebtRow,
    OutboxMessage,
    Person,
)

HASH_KEY = "test-hash-key"
KEY = HashKey(HASH_KEY)
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
TODAY = date(2026, 11, 23)
HEADER = (
    "kind,source,reference,authority,holder_type,id_type,id_number,name,date_of_birth,phone,"
    "language,amount,served_on,due_on,status,points"
)
GIORGOS = "Γιώργος Παπαδόπουλος"
AYSE = "Ayşe Yılmaz-Öztürk"


def row(
    reference: str = "OOC-1",
    *,
    kind: str = "out_of_court_fine",
    source: str = "police",
    holder_type: str = "person",
    id_type: str = "id_card",
    id_number: str = "881234",
    name: str = GIORGOS,
    dob: str = "1980-05-01",
    phone: str = "",
    language: str = "",
    amount: str = "100",
    served_on: str = "2026-11-01",
    due_on: str = "",
    status: str = "",
    points: str = "",
) -> str:
    return ",".join([
        kind, source, reference, "Cyprus Police", holder_type, id_type, id_number, f'"{name}"',
        dob, phone, language, amount, served_on, due_on, status, points,
    ])


def write(tmp_path: Path, *lines: str, name: str = "debts.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


@pytest.fixture
def deps(sessions: async_sessionmaker[AsyncSession]) -> Deps:
    return Deps(settings=Settings(hash_key=HASH_KEY), sessions=sessions, clock=lambda: NOW)


async def all_rows(sessions: async_sessionmaker[AsyncSession], model: type) -> list:
    async with sessions() as session:
        return list(await session.scalars(select(model).order_by(model.id)))


async def run_import(deps: Deps, path: Path, **options: object):  # type: ignore[no-untyped-def]
    return await import_file(deps, path, actor="cli", today=TODAY, **options)  # type: ignore[arg-type]


async def test_a_file_goes_in_with_hashed_identifiers_and_names_byte_for_byte(
    deps: Deps, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        HEADER,
        row("OOC-1", phone="99 123456", language="el", points="2"),
        row("TAX-7", kind="tax", source="tax", id_number="881234", served_on="",
            due_on="2026-12-31", amount="\"1,500.50\""),
        row("C-1", kind="customs", source="customs", id_type="arc", id_number="ARC 5551",
            name=AYSE, dob="1975-01-31", phone="+90 532 123 4567", language="tr"),
        row("HE-1", kind="admin_fine", source="rtd", holder_type="company",
            id_type="company_reg", id_number="ΗΕ 123456", name="Ακμή Λτδ / Acme Ltd", dob=""),
    )

    report = await run_import(deps, path)

    assert (report.rows, report.inserted, report.rejected, report.errors) == (4, 4, 0, [])
    persons = await all_rows(sessions, Person)
    assert [p.name for p in persons] == [GIORGOS, AYSE]
    assert [p.name.encode() for p in persons] == [GIORGOS.encode(), AYSE.encode()]
    assert persons[0].id_hash == identifier_hash(normalise_identifier("id_card", "881234"), HASH_KEY)
    # Dates of birth and phones as keyed hashes bound to the person (domain/keys.py).
    assert [p.phone_hash for p in persons] == [
        KEY.phone(persons[0].id_hash, "+35799123456"),
        KEY.phone(persons[1].id_hash, "+905321234567"),
    ]
    assert [p.language for p in persons] == ["el", "tr"]
    assert persons[1].date_of_birth_hash == KEY.date_of_birth(persons[1].id_hash, date(1975, 1, 31))
    assert persons[0].key_id == KEY.key_id
    (company,) = await all_rows(sessions, Company)
    assert company.reg_hash == identifier_hash(
        normalise_identifier("company_reg", "HE123456"), HASH_KEY
    )
    debts = {d.reference: d for d in await all_rows(sessions, DebtRow)}
    assert debts["TAX-7"].amount == Decimal("1500.50")
    assert debts["TAX-7"].due_on == date(2026, 12, 31) and debts["TAX-7"].served_on is None
    assert debts["TAX-7"].person_id == debts["OOC-1"].person_id == persons[0].id
    assert debts["HE-1"].company_id == company.id and debts["HE-1"].person_id is None
    assert debts["OOC-1"].points == 2 and debts["OOC-1"].status == "outstanding"


async def test_no_identity_number_is_stored_in_plain_text(
    deps: Deps, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    await run_import(deps, write(tmp_path, HEADER, row(id_number="7788123")))

    async with sessions() as session:
        for table in ("persons", "companies", "debts", "audit_log"):
            dump = str((await session.execute(text(f"SELECT * FROM {table}"))).all())  # noqa: S608
            assert "7788123" not in dump


async def test_reimporting_the_same_file_changes_nothing(
    deps: Deps, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    path = write(tmp_path, HEADER, row("A", phone="99123456"), row("B", amount="250.5"))
    await run_import(deps, path)
    before = [(d.id, d.updated_at, d.amount) for d in await all_rows(sessions, DebtRow)]

    again = await run_import(deps, path)

    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)
    assert [(d.id, d.updated_at, d.amount) for d in await all_rows(sessions, DebtRow)] == before
    assert len(await all_rows(sessions, Person)) == 1


async def test_a_changed_row_updates_its_debt_and_keeps_what_the_file_leaves_empty(
    deps: Deps, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    await run_import(deps, write(tmp_path, HEADER, row("A", phone="99123456", language="el")))

    report = await run_import(deps, write(tmp_path, HEADER, row("A", amount="150")))

    assert (report.inserted, report.updated, report.unchanged) == (0, 1, 0)
    (debt,) = await all_rows(sessions, DebtRow)
    assert debt.amount == Decimal("150.00")
    (person,) = await all_rows(sessions, Person)
    assert (person.phone_hash, person.language) == (
        KEY.phone(person.id_hash, "+35799123456"), "el"
    )


async def test_an_import_cancels_nothing_it_was_not_told_to(
    deps: Deps, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    await run_import(deps, write(tmp_path, HEADER, row("A"), row("B")))
    await run_import(deps, write(tmp_path, HEADER, row("B", status="paid")))

    # A file without the debt, and a row without a status, leave what is on file alone.
    await run_import(deps, write(tmp_path, HEADER, row("B"), name="again.csv"))

    statuses = {d.reference: d.status for d in await all_rows(sessions, DebtRow)}
    assert statuses == {"A": "outstanding", "B": "paid"}


async def _queue(sessions: async_sessionmaker[AsyncSession], debt_id: int, *rows: tuple[str, str]) -> None:
    async with sessions() as session, session.begin():
        for number, (purpose, status) in enumerate(rows):
            session.add(OutboxMessage(
                dedupe_key=f"{debt_id}:{number}", chat_id=42, purpose=purpose, debt_id=debt_id,
                status=status, not_before=NOW + timedelta(days=1), payload={},
            ))


async def test_paying_or_cancelling_a_debt_cancels_its_pending_messages(
    deps: Deps, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    await run_import(deps, write(tmp_path, HEADER, row("A"), row("B")))
    debts = {d.reference: d.id for d in await all_rows(sessions, DebtRow)}
    await _queue(sessions, debts["A"], ("reminder", "pending"), ("reminder", "sent"),
                 ("receipt", "pending"))
    await _queue(sessions, debts["B"], ("reminder", "pending"))

    report = await run_import(deps, write(tmp_path, HEADER, row("A", status="paid"), row("B")))

    assert (report.updated, report.closed, report.messages_cancelled) == (1, 1, 1)
    outbox = [(m.debt_id, m.purpose, m.status) for m in await all_rows(sessions, OutboxMessage)]
    assert outbox == [
        (debts["A"], "reminder", "cancelled"),
        (debts["A"], "reminder", "sent"),
        (debts["A"], "receipt", "pending"),
        (debts["B"], "reminder", "pending"),
    ]
    (a, _b) = await all_rows(sessions, DebtRow)
    assert a.status == "paid" and a.status_changed_at == NOW


async def test_upsert_and_cancel_api_for_batches(
    deps: Deps, sessions: async_sessionmaker[AsyncSession]
) -> None:
    header = HEADER.split(",")
    records = [
        validate_record(dict(zip(header, row(f"R{n}").split(","), strict=True)), line=n + 1)
        for n in range(3)
    ]
    first = await upsert_debts(deps, records, actor="token:1")
    again = await upsert_debts(deps, records, actor="token:1")
    ids = [d.id for d in await all_rows(sessions, DebtRow)]
    await _queue(sessions, ids[0], ("notice", "pending"))

    closed = await cancel_debts(deps, [("police", "R0"), ("police", "nope")], actor="token:1")
    closed_again = await cancel_debts(deps, [("police", "R0")], actor="token:1")

    assert (first.inserted, first.updated, first.unchanged) == (3, 0, 0)
    assert (again.inserted, again.updated, again.unchanged, again.closed_debt_ids) == (0, 0, 3, ())
    assert (closed, closed_again) == (1, 0)
    assert [d.status for d in await all_rows(sessions, DebtRow)] == [
        "cancelled", "outstanding", "outstanding"
    ]
    assert [m.status for m in await all_rows(sessions, OutboxMessage)] == ["cancelled"]
    audit = [(e.actor, e.action, e.count) for e in await all_rows(sessions, AuditEntry)]
    assert audit == [
        ("token:1", "debts.import", 3), ("token:1", "debts.import", 0),
        ("token:1", "debts.cancel", 1), ("token:1", "debts.cancel", 0),
    ]


async def test_bad_rows_are_reported_by_line_and_the_good_rows_go_in(
    deps: Deps, sessions: async_sessionmaker[AsyncSession], tmp_path: Path,
) -> None:
    path = write(
        tmp_path,
        HEADER + ",colour",
        row("OK-1") + ",red",
        row("BAD-1", amount="-5") + ",",
        row("BAD-2", amount="lots") + ",",
        row("BAD-3", served_on="2026-02-30") + ",",
        row("BAD-4", kind="parking_ticket") + ",",
        row("OK-1", amount="7") + ",",
        row("BAD-5", dob="1980-13-01", id_number="12") + ",",
        row("BAD-6", holder_type="company", id_type="id_card") + ",",
        "out_of_court_fine,police,SHORT",
        row("OK-2", name=AYSE) + ",",
    )
    progress: list[tuple[int, int]] = []

    report = await run_import(deps, path, progress=lambda done, size: progress.append((done, size)))

    assert [str(error) for error in report.errors] == [
        "line 3: amount: must not be negative",
        "line 4: amount: 'lots' is not a number",
        "line 5: served_on: '2026-02-30' is not a real date",
        "line 6: kind: unknown debt kind 'parking_ticket' (expected one of: out_of_court_fine, "
        "fine_warrant, admin_fine, tax, customs)",
        "line 7: reference: 'OK-1' from 'police' is already on line 2",
        "line 8: id_number: not a valid id_card number; date_of_birth: '1980-13-01' is not a "
        "real date",
        "line 9: id_type: id_card is not an identifier for this holder type (expected one of: "
        "company_reg)",
        "line 10: has 3 values but the header has 17 columns",
    ]
    assert report.warnings == ["line 1: unknown column 'colour' ignored"]
    assert (report.rows, report.inserted, report.rejected) == (10, 2, 8)
    debts = await all_rows(sessions, DebtRow)
    assert [(d.reference, d.amount) for d in debts] == [("OK-1", Decimal("100.00")), ("OK-2", Decimal("100.00"))]
    size = path.stat().st_size
    assert progress[-1] == (size, size)


async def test_a_line_in_the_wrong_encoding_is_reported_and_the_rest_go_in(
    deps: Deps, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    path = tmp_path / "mixed.csv"
    path.write_bytes(
        (HEADER + "\n" + row("A") + "\n").encode()
        + (row("B", name="Νίκος Νικολάου") + "\n").encode("cp1253")
        + (row("C", name="Çağla Şahin", id_number="5544") + "\n").encode()
    )

    report = await run_import(deps, path)

    assert [(e.line, e.reason) for e in report.errors] == [
        (3, "this line is not UTF-8 text (was the file saved as Windows-1253, ISO-8859-7 or "
            "Windows-1254?); save the file as UTF-8"),
    ]
    assert [p.name for p in await all_rows(sessions, Person)] == [GIORGOS, "Çağla Şahin"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"kind,source,reference\nfine,police,A\n",
         "missing required column(s): authority, holder_type, id_type, id_number, name, "
         "date_of_birth, amount, served_on (the header on line 1 has: kind, source, reference)"),
        ((HEADER + "\n").encode("utf-16"), "the file is UTF-16 (or binary): save it as UTF-8 text"),
        (b"kind,kind\n", "the header names a column twice: kind"),
    ],
)
async def test_a_file_that_cannot_be_read_is_refused_whole(
    deps: Deps, sessions: async_sessionmaker[AsyncSession], tmp_path: Path, content: bytes,
    message: str,
) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)

    with pytest.raises(ImportFileError) as refused:
        await run_import(deps, path)

    assert str(refused.value) == message
    assert await all_rows(sessions, DebtRow) == []


async def test_strict_rejects_the_whole_file_for_one_bad_row(
    deps: Deps, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    path = write(tmp_path, HEADER, row("A"), row("B", amount="-1"), row("C"))

    report = await run_import(deps, path, strict=True)

    assert not report.committed
    assert [str(e) for e in report.errors] == ["line 3: amount: must not be negative"]
    assert await all_rows(sessions, DebtRow) == []
    assert await all_rows(sessions, Person) == []
    good = await run_import(deps, write(tmp_path, HEADER, row("A"), row("C"), name="good.csv"),
                            strict=True)
    assert (good.committed, good.inserted) == (True, 2)


async def test_a_crash_in_a_batch_leaves_the_earlier_batches_whole_and_nothing_of_it(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    calls = 0

    def failing_clock() -> datetime:
        nonlocal calls
        calls += 1
        if calls > 2:  # each batch reads the clock twice: the second batch fails midway
            raise RuntimeError("power cut")
        return NOW

    deps = Deps(settings=Settings(hash_key=HASH_KEY), sessions=sessions, clock=failing_clock)
    path = write(
        tmp_path, HEADER, row("A", id_number="1111"), row("B", id_number="2222"),
        row("C", id_number="3333"), row("D", id_number="4444"),
    )

    with pytest.raises(RuntimeError, match="power cut"):
        await run_import(deps, path, batch_size=2)

    assert [d.reference for d in await all_rows(sessions, DebtRow)] == ["A", "B"]
    assert len(await all_rows(sessions, Person)) == 2
    assert len(await all_rows(sessions, AuditEntry)) == 1


async def test_json_lines_use_the_same_keys(
    deps: Deps, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    base = dict(zip(HEADER.split(","), row("J1").split(","), strict=True))
    base["name"] = GIORGOS
    lines = [
        json.dumps(base | {"amount": 12.35, "points": 3, "extra": 1}, ensure_ascii=False),
        "",
        "{not json",
        json.dumps(base | {"reference": "J2", "amount": -1}),
        json.dumps(["a list"]),
        json.dumps(base | {"reference": "J3", "amount": 1500}),
    ]
    path = write(tmp_path, *lines, name="debts.jsonl")

    report = await run_import(deps, path)

    assert [(e.line, e.field) for e in report.errors] == [(3, None), (4, "amount"), (5, None)]
    assert report.warnings == ["line 1: unknown field 'extra' ignored"]
    debts = await all_rows(sessions, DebtRow)
    assert [(d.reference, d.amount, d.points) for d in debts] == [
        ("J1", Decimal("12.35"), 3), ("J3", Decimal("1500.00"), None),
    ]
    (person,) = await all_rows(sessions, Person)
    assert person.name == GIORGOS


async def test_company_representatives_come_in_with_the_company(
    deps: Deps, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    header = (HEADER + ",representative_id_type,representative_id_number,representative_name,"
              "representative_date_of_birth,representative_role")
    company = row("T-1", kind="tax", source="tax", holder_type="company", id_type="company_reg",
                  id_number="HE 99", name="Ακμή Λτδ", dob="")
    path = write(tmp_path, header, company + ",id_card,881234,Άννα Κ.,1990-01-02,director",
                 company.replace("T-1", "T-2") + ",id_card,881234,Άννα Κ.,1990-01-02,director")

    await run_import(deps, path)
    await run_import(deps, path)

    (rep,) = await all_rows(sessions, CompanyRepresentative)
    (person,) = await all_rows(sessions, Person)
    assert (rep.person_id, rep.role) == (person.id, "director")
    assert (person.name, person.date_of_birth_hash) == (
        "Άννα Κ.", KEY.date_of_birth(person.id_hash, date(1990, 1, 2))
    )


async def test_the_time_of_service_and_the_tax_measures_dates_go_in_and_stay(
    deps: Deps, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    header = HEADER + ",served_at,freeze_notified_on,seized_on,charge_notified_on"
    path = write(
        tmp_path, header,
        row("OOC-1", served_on="2026-11-01") + ",2026-11-01T18:30,,,",
        row("OOC-2", served_on="") + ",2026-11-02T05:00:00Z,,,",
        row("TAX-1", kind="tax", source="tax", served_on="", due_on="2026-07-31")
        + ",,2026-09-01,2026-09-08,2026-11-06",
    )

    report = await run_import(deps, path)
    assert report.errors == []

    by_reference = {debt.reference: debt for debt in await all_rows(sessions, DebtRow)}
    # Cyprus time without an offset: 18:30 on 1 November (winter) is 16:30 UTC.
    assert by_reference["OOC-1"].served_at == datetime(2026, 11, 1, 16, 30, tzinfo=UTC)
    # Only the time given: the date of service is its Cyprus day.
    assert by_reference["OOC-2"].served_on == date(2026, 11, 2)
    tax = by_reference["TAX-1"]
    assert (tax.freeze_notified_on, tax.seized_on, tax.charge_notified_on) == (
        date(2026, 9, 1), date(2026, 9, 8), date(2026, 11, 6))
    assert by_reference["OOC-1"].freeze_notified_on is None

    # A later file that leaves them empty keeps what is on file.
    again = write(tmp_path, HEADER, row("OOC-1", served_on="2026-11-01"), name="again.csv")
    assert (await run_import(deps, again)).errors == []
    (kept,) = [d for d in await all_rows(sessions, DebtRow) if d.reference == "OOC-1"]
    assert kept.served_at == datetime(2026, 11, 1, 16, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"served_at": "2026-11-02T09:00"}, "served_at",
         "falls on 2026-11-02 in Cyprus, not on served_on 2026-11-01"),
        ({"served_at": "2026-11-01"}, "served_at",
         "'2026-11-01' is not a date and time in the form YYYY-MM-DDTHH:MM"),
        ({"served_at": "yesterday"}, "served_at",
         "'yesterday' is not a date and time in the form YYYY-MM-DDTHH:MM"),
        ({"served_at": "2026-11-24T08:00", "served_on": ""}, "served_at",
         "2026-11-24T08:00 is in the future"),
        ({"kind": "tax", "freeze_notified_on": "2026-11-24"}, "freeze_notified_on",
         "2026-11-24 is in the future"),
    ],
)
def test_the_time_of_service_and_measures_dates_are_checked(
    changes: dict[str, object], field: str, reason: str
) -> None:
    with pytest.raises(RecordError) as failed:
        validate_record(raw(**changes), line=7, today=TODAY)

    assert (failed.value.field, failed.value.reason) == (field, reason)


def test_the_time_of_service_near_midnight_is_placed_on_its_cyprus_day() -> None:
    # 22:30 UTC on 31 October is 00:30 on 1 November in Cyprus (winter time, UTC+2).
    record = validate_record(raw(served_at="2026-10-31T22:30:00+00:00"), line=2, today=TODAY)
    assert record.served_on == date(2026, 11, 1)
    assert record.served_at == datetime(2026, 10, 31, 22, 30, tzinfo=UTC)


def test_tax_measures_dates_on_other_kinds_are_ignored_with_a_warning() -> None:
    record = validate_record(raw(seized_on="2026-09-08"), line=3, today=TODAY)
    assert record.seized_on is None
    assert record.warnings == ("line 3: seized_on is for tax debts; ignored",)


def raw(**changes: object) -> dict[str, object]:
    values: dict[str, object] = dict(zip(HEADER.split(","), row().split(","), strict=True))
    values["name"] = GIORGOS
    values.update(changes)
    return values


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"id_number": "12"}, "id_number", "not a valid id_card number"),
        ({"amount": "12.345"}, "amount", "has more than two decimals"),
        ({"amount": None}, "amount", "is missing"),
        ({"served_on": "01/11/2026"}, "served_on", "'01/11/2026' is not a date in the form YYYY-MM-DD"),
        ({"served_on": "2026-11-24"}, "served_on", "2026-11-24 is in the future"),
        ({"date_of_birth": "1850-01-01"}, "date_of_birth", "1850-01-01 is before 1900"),
        ({"status": "lost"}, "status", "unknown value 'lost' (expected one of: outstanding, paid, "
                                       "cancelled, withdrawn)"),
        ({"points": "two"}, "points", "'two' is not a whole number"),
        ({"name": "  "}, "name", "is empty"),
        ({"name": "Bad\x00Name"}, "name", "contains control characters"),
        ({"reference": "R" * 65}, "reference", "is longer than 64 characters"),
    ],
)
def test_validate_record_names_the_field_and_reason(
    changes: dict[str, object], field: str, reason: str
) -> None:
    with pytest.raises(RecordError) as failed:
        validate_record(raw(**changes), line=7, today=TODAY)

    assert (failed.value.line, failed.value.field, failed.value.reason) == (7, field, reason)


def test_messages_never_repeat_an_identity_number() -> None:
    with pytest.raises(RecordError) as failed:
        validate_record(raw(id_number="99-ZZ"), line=2)

    assert "99" not in str(failed.value) and "ZZ" not in str(failed.value)
    assert "99" not in repr(validate_record(raw(id_number="9988776"), line=2).holder)


def test_mixed_scripts_within_a_word_are_kept_with_a_warning() -> None:
    latin_o = "Γιώrgος"  # Latin r and g typed in the middle of a Greek word
    record = validate_record(raw(name=latin_o), line=4)

    assert record.holder.name == latin_o
    assert record.warnings == (
        "line 4: name mixes Greek and Latin letters within one word (look-alike letters?); "
        "kept as given",
    )
    assert validate_record(raw(name="Ayşe Παπαδοπούλου"), line=5).warnings == ()


def test_the_source_option_fills_and_checks_the_source_column() -> None:
    assert validate_record(raw(source=""), line=2, default_source="police").source == "police"
    with pytest.raises(RecordError, match="differs from the source given for the file"):
        validate_record(raw(source="tax"), line=2, default_source="police")



@pytest.mark.parametrize(
    "phone",
    ["99 123456", "+357 96-123456", "0035722123456", "(22) 123 456", "98123456", "21123456",
     "+90 532 123 4567", "+44 7911 123456", "99 12345", "not a phone", "+357 90123456",
     "+357 90012345", "91012345", "80001234", "77712345", "00357 50123456", "0012345678"],
)
def test_phone_numbers_are_normalised_as_phonenumbers_does(phone: str) -> None:
    import phonenumbers

    from debtbot.services.ingest.validation import _e164

    try:
        parsed = phonenumbers.parse(phone, "CY")
        expected = (
            phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
            if phonenumbers.is_valid_number(parsed) else None
        )
    except phonenumbers.NumberParseException:
        expected = None
    assert _e164.__wrapped__(phone) == expected


@pytest.mark.parametrize(
    ("typed", "text"),
    [
        ({}, {}),
        ({"served_on": date(2026, 11, 24)}, {"served_on": "2026-11-24"}),  # in the future
        ({"served_on": date(1985, 1, 2)}, {"served_on": "1985-01-02"}),  # before 1990
        ({"date_of_birth": date(1899, 12, 31)}, {"date_of_birth": "1899-12-31"}),
        ({"amount": Decimal("85.5"), "points": 3, "post_clearance": True},
         {"amount": "85.50", "points": "3", "post_clearance": "true"}),
        ({"served_at": datetime(2026, 10, 31, 22, 30, tzinfo=UTC)},
         {"served_at": "2026-10-31T22:30:00Z"}),
        ({"served_at": datetime(2026, 11, 24, 8, 0, tzinfo=UTC), "served_on": None},
         {"served_at": "2026-11-24T08:00:00Z", "served_on": ""}),  # in the future
    ],
)
def test_the_apis_typed_values_validate_as_their_text_does(
    typed: dict[str, object], text: dict[str, object]
) -> None:
    def outcome(changes: dict[str, object]) -> object:
        values = {k: v for k, v in raw(**changes).items() if v is not None}
        try:
            return validate_record(values, line=3, today=TODAY)
        except RecordError as exc:
            return str(exc)

    assert outcome(typed) == outcome(text)


def test_the_duplicate_check_remembers_each_keys_first_line_through_growth() -> None:
    lines = FirstLines(capacity=8)
    keys = [hash(("police", f"P-{n}")) for n in range(5000)] + [0, -1]

    first = [lines.first(key, line) for line, key in enumerate(keys, start=2)]
    again = [lines.first(key, 99_999) for key in reversed(keys)]

    assert first == list(range(2, len(keys) + 2))
    assert again == list(reversed(first))
    assert len(lines) == len(keys)
