"""DebtRepository on SQLite and PostgreSQL (DEBTBOT_TEST_DB): what its fast paths do.

The upsert inserts new rows, updates changed ones, leaves identical ones unwritten and says
which is which; its driver-level writes (COPY or a staged INSERT on PostgreSQL, executemany
on SQLite) store exactly what SQLAlchemy's plain INSERT stores; two units of work upserting
overlapping batches at once lose no update and duplicate nothing; payments add up per debt.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from debtbot.domain.debts import DebtKind, DebtStatus
from debtbot.store.debts import (
    DEBTS,
    DebtBatch,
    DebtChanges,
    PaymentAlreadyRecorded,
    Previous,
)
from debtbot.store.models import Company, CompanyRepresentative, DebtRow, Payment, Person
from debtbot.store.unit_of_work import Store

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
POSTGRES = os.environ.get("DEBTBOT_TEST_DB", "sqlite").lower() == "postgres"

ELENI = {"id_type": "id_card", "name": "Ελένη", "date_of_birth_hash": "dob-1",
         "phone_hash": "tel-1", "language": "el", "key_id": "k1"}
ZEYNEP = {"id_type": "passport", "name": "Zeynep", "date_of_birth_hash": None,
          "phone_hash": None, "language": None, "key_id": "k1"}
ACME = {"name": "Ακμή Λτδ", "language": None, "key_id": "k1"}
_COMPARED = [column.name for column in DEBTS.c if column.name not in ("id", "created_at",
                                                                     "updated_at")]


@pytest.fixture
def store(sessions: async_sessionmaker[AsyncSession]) -> Store:
    return Store(sessions)


def debt(reference: str, holder: str = "h1", *, company: bool = False, **values: Any
         ) -> dict[str, Any]:
    return {"source": "police", "reference": reference, "holder": (company, holder),
            "kind": "out_of_court_fine", "authority": "Cyprus Police",
            "amount": Decimal("100.00"), "served_on": date(2026, 11, 1)} | values


def batch(*debts: Mapping[str, Any], persons: Mapping[str, Any] | None = None,
          companies: Mapping[str, Any] | None = None,
          representatives: tuple[tuple[str, str, str], ...] = ()) -> DebtBatch:
    return DebtBatch(
        persons={"h1": ELENI, "h2": ZEYNEP} if persons is None else persons,
        companies={"c1": ACME} if companies is None else companies,
        representatives=representatives, debts=list(debts),
    )


async def upsert(store: Store, given: DebtBatch, *, now: datetime = NOW) -> DebtChanges:
    async with store.uow() as uow:
        return await uow.debts.upsert(given, now=now)


async def stored(sessions: async_sessionmaker[AsyncSession], model: Any = DebtRow) -> list[Any]:
    async with sessions() as session:
        return list(await session.scalars(select(model).order_by(model.id)))


async def test_an_upsert_inserts_updates_and_leaves_identical_rows_alone_and_says_so(
    store: Store, sessions: async_sessionmaker[AsyncSession]
) -> None:
    first = await upsert(store, batch(
        debt("A"), debt("B", "h2"), debt("C", "c1", company=True, status="paid"),
    ))
    before = {row.reference: row for row in await stored(sessions)}

    later = NOW + timedelta(hours=1)
    second = await upsert(store, batch(
        debt("A"),  # the same
        debt("B", "h2", amount=Decimal("150.00")),  # changed
        debt("C", "c1", company=True, status="outstanding"),  # reopened
        debt("D", status="cancelled"),  # new, already closed
    ), now=later)
    third = await upsert(store, batch(debt("B", "h2", amount=Decimal("150.00"), status="paid")),
                         now=later)
    after = {row.reference: row for row in await stored(sessions)}

    assert (first.inserted, first.updated, first.unchanged) == (3, 0, 0)
    assert [(key, company) for key, _, company in first.new_open] == [
        (("police", "A"), None), (("police", "B"), None),
    ]
    assert (second.inserted, second.updated, second.unchanged) == (1, 2, 1)
    assert {(n.debt_id, n.fields, n.old_amount_cents) for n in second.news} == {
        (before["B"].id, frozenset({"amount"}), 10000),
        (before["C"].id, frozenset({"status"}), 10000),
    }
    assert third.closed_ids == [before["B"].id]
    assert after["A"].updated_at == before["A"].updated_at  # not written again
    assert (after["B"].amount, after["B"].status, after["B"].status_changed_at) == (
        Decimal("150.00"), "paid", later
    )
    assert (after["C"].status, after["C"].company_id, after["C"].person_id) == (
        "outstanding", before["C"].company_id, None
    )
    assert (after["D"].status, after["D"].status_changed_at) == ("cancelled", later)


async def test_holders_keep_what_a_row_leaves_empty_and_identical_ones_are_not_written(
    store: Store, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await upsert(store, batch(debt("A"), debt("C", "c1", company=True),
                              representatives=(("c1", "h2", "director"),)))
    stamp = {p.id_hash: p.updated_at for p in await stored(sessions, Person)}

    await upsert(store, batch(
        debt("A"), debt("C", "c1", company=True),
        persons={"h1": ELENI | {"date_of_birth_hash": None, "phone_hash": None,
                                "language": None},
                 "h2": ZEYNEP | {"name": "Zeynep Kaya", "phone_hash": "tel-2",
                                 "language": "tr"}},
        representatives=(("c1", "h2", "director"), ("c1", "h1", "secretary")),
    ))

    found = {p.id_hash: p for p in await stored(sessions, Person)}
    assert (found["h1"].phone_hash, found["h1"].date_of_birth_hash, found["h1"].updated_at) == (
        "tel-1", "dob-1", stamp["h1"]
    )
    assert (found["h2"].name, found["h2"].phone_hash, found["h2"].language) == (
        "Zeynep Kaya", "tel-2", "tr"
    )
    assert len(await stored(sessions, Company)) == 1
    roles = {(r.person_id, r.role) for r in await stored(sessions, CompanyRepresentative)}
    assert roles == {(found["h2"].id, "director"), (found["h1"].id, "secretary")}


async def test_a_holder_filed_under_the_previous_key_moves_to_the_current_one(
    store: Store, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await upsert(store, batch(debt("A", "old-1"), persons={"old-1": ELENI | {"key_id": "k0"}}))
    rotated = DebtBatch(
        persons={"new-1": ELENI | {"date_of_birth_hash": "dob-1b", "phone_hash": "tel-1b",
                                   "key_id": "k1"}},
        companies={}, representatives=[], debts=[debt("A", "new-1"), debt("B", "new-1")],
        previous_persons=Previous({"new-1": "old-1"}, {"old-1": ELENI | {"key_id": "k0"}}),
    )

    await upsert(store, rotated)

    (person,) = await stored(sessions, Person)
    assert (person.id_hash, person.key_id, person.date_of_birth_hash) == ("new-1", "k1", "dob-1b")
    assert {row.person_id for row in await stored(sessions)} == {person.id}


async def test_the_bulk_path_stores_what_a_plain_insert_stores(
    store: Store, sessions: async_sessionmaker[AsyncSession]
) -> None:
    every_field = debt(
        "FULL", kind="tax", amount=Decimal("1234.56"), due_on=date(2026, 12, 31),
        status="outstanding", points=3, surcharge_rate=Decimal("0.05"), post_clearance=True,
        enforcement_suspended=False, instalments_on_time=True,
        finding_notice_on=date(2026, 10, 2), served_at=datetime(2026, 10, 31, 22, 30, tzinfo=UTC),
        freeze_notified_on=date(2026, 9, 1), seized_on=date(2026, 9, 8),
        charge_notified_on=date(2026, 9, 9), surcharge_on=date(2026, 12, 1),
        prosecution_on=date(2026, 12, 16),
    )
    sparse = debt("SPARSE", served_on=None)
    await upsert(store, batch(every_field, sparse))
    bulk = {row.reference: row for row in await stored(sessions)}
    async with sessions.begin() as session:
        await session.execute(delete(DebtRow))
        for given, row in ((every_field, bulk["FULL"]), (sparse, bulk["SPARSE"])):
            values = {k: v for k, v in given.items() if k != "holder"}
            if values.get("surcharge_rate") is not None:
                values["surcharge_rate"] = str(values["surcharge_rate"])
            await session.execute(insert(DebtRow).values(
                **values, person_id=row.person_id,
                status_changed_at=row.status_changed_at,
            ))
    plain = {row.reference: row for row in await stored(sessions)}

    for reference in ("FULL", "SPARSE"):
        assert ({name: getattr(bulk[reference], name) for name in _COMPARED}
                == {name: getattr(plain[reference], name) for name in _COMPARED})
    assert bulk["FULL"].served_at == datetime(2026, 10, 31, 22, 30, tzinfo=UTC)
    assert (bulk["SPARSE"].status, bulk["SPARSE"].post_clearance) == ("outstanding", False)


@pytest.mark.skipif(not POSTGRES, reason="SQLite writes new rows with one executemany")
async def test_copy_and_the_staged_insert_store_the_same_rows(
    store: Store, sessions: async_sessionmaker[AsyncSession]
) -> None:
    # The usual path is a COPY; when a concurrent writer took a key meanwhile, the batch goes
    # through a staged INSERT … ON CONFLICT instead. Here the other writer commits between this
    # batch's lookup and its write, by running inside it.
    await upsert(store, batch())  # the holders
    given = [debt(f"K{n}", amount=Decimal(f"{n}.50"), due_on=date(2026, 12, n + 1))
             for n in range(1, 4)]
    await upsert(store, batch(*[d | {"source": "copy"} for d in given]))
    async with store.uow() as uow:
        from debtbot.store import bulk

        original = bulk.Driver.insert_rows

        taken: list[bool] = []

        async def taken_meanwhile(self: Any, table: Any, *args: Any, **kwargs: Any) -> Any:
            if table is DEBTS and not taken:
                taken.append(True)
                async with store.uow() as other:
                    await other.debts.upsert(batch(given[0] | {"source": "staged"}), now=NOW)
            return await original(self, table, *args, **kwargs)

        bulk.Driver.insert_rows = taken_meanwhile  # type: ignore[method-assign]
        try:
            await uow.debts.upsert(batch(*[d | {"source": "staged"} for d in given]), now=NOW)
        finally:
            bulk.Driver.insert_rows = original  # type: ignore[method-assign]

    assert taken  # the other writer did take a key first
    rows = await stored(sessions)
    by_source: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_source.setdefault(row.source, []).append(
            {name: getattr(row, name) for name in _COMPARED if name != "source"}
        )
    assert len(rows) == 6
    assert by_source["copy"] == sorted(by_source["staged"], key=lambda r: r["reference"])


async def test_concurrent_upserts_of_overlapping_batches_lose_nothing_and_duplicate_nothing(
    store: Store, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await upsert(store, batch(*[debt(f"OLD-{n}") for n in range(0, 600)]))
    first = batch(*[debt(f"N-{n}", amount=Decimal("100.00")) for n in range(0, 2000)],
                  *[debt(f"OLD-{n}", points=1) for n in range(0, 600)])
    second = batch(*[debt(f"N-{n}", "h2", amount=Decimal("200.00")) for n in range(1000, 3000)],
                   *[debt(f"OLD-{n}", due_on=date(2027, 1, 1)) for n in range(0, 600)])

    results = await asyncio.gather(upsert(store, first), upsert(store, second))

    rows = await stored(sessions)
    by_reference = {row.reference: row for row in rows}
    assert len(rows) == len(by_reference) == 3600  # each key once
    assert len(await stored(sessions, Person)) == 2
    assert {by_reference[f"N-{n}"].amount for n in range(0, 1000)} == {Decimal("100.00")}
    assert {by_reference[f"N-{n}"].amount for n in range(2000, 3000)} == {Decimal("200.00")}
    # Where both wrote, one batch is there whole: the one that committed last.
    overlap = {(by_reference[f"N-{n}"].amount, by_reference[f"N-{n}"].person_id)
               for n in range(1000, 2000)}
    assert len(overlap) == 1
    # Each batch changed different columns of the old rows: both changes are there.
    assert {(by_reference[f"OLD-{n}"].points, by_reference[f"OLD-{n}"].due_on)
            for n in range(0, 600)} == {(1, date(2027, 1, 1))}
    assert sum(result.inserted + result.updated + result.unchanged for result in results) == (
        2600 + 2600
    )


async def test_closing_debts_closes_open_ones_only(
    store: Store, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await upsert(store, batch(debt("A"), debt("B"), debt("P", status="paid")))
    later = NOW + timedelta(hours=1)

    async with store.uow() as uow:
        closed = await uow.debts.close([("police", "A"), ("police", "P"), ("police", "X")],
                                       status=DebtStatus.CANCELLED, now=later)
        await uow.debts.refresh_statistics()
    with pytest.raises(ValueError, match="closes debts"):
        async with store.uow() as uow:
            await uow.debts.close([("police", "B")], status=DebtStatus.OUTSTANDING, now=later)

    rows = {row.reference: row for row in await stored(sessions)}
    assert closed == [rows["A"].id]
    assert (rows["A"].status, rows["A"].status_changed_at) == ("cancelled", later)
    assert rows["B"].status == "outstanding"


async def test_payments_add_up_in_the_debts_ledger_and_each_is_recorded_once(
    store: Store, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await upsert(store, batch(debt("T-1", kind="tax", amount=Decimal("300.00"))))

    async with store.uow() as uow:
        (on_file,) = await uow.debts.debts_to_pay("T-1", source=None)
        for n, amount in enumerate(("100.00", "120.50"), start=1):
            await uow.debts.add_payment(
                provider_ref=f"pay-{n}", debt_id=on_file.id, amount=Decimal(amount),
                paid_at=NOW, received_at=NOW, token_id=None,
            )
        paid = await uow.debts.paid_so_far(on_file.id)
        await uow.debts.mark_paid(on_file.id, now=NOW)
    with pytest.raises(PaymentAlreadyRecorded):
        async with store.uow() as uow:
            await uow.debts.add_payment(
                provider_ref="pay-1", debt_id=on_file.id, amount=Decimal("1.00"),
                paid_at=NOW, received_at=NOW, token_id=None,
            )
    replayed = await store.read(lambda uow: uow.debts.payment_recorded("pay-1"))
    unknown = await store.read(lambda uow: uow.debts.payment_recorded("pay-9"))
    none_yet = await store.read(lambda uow: uow.debts.paid_so_far(on_file.id + 1))
    elsewhere = await store.read(lambda uow: uow.debts.debts_to_pay("T-1", source="tax"))

    assert (on_file.debt.kind, on_file.debt.amount, on_file.person_id) == (
        DebtKind.TAX, Decimal("300.00"), (await stored(sessions, Person))[0].id
    )
    assert paid == Decimal("220.50")
    assert [p.amount for p in await stored(sessions, Payment)] == [
        Decimal("100.00"), Decimal("120.50"),
    ]
    assert (await stored(sessions))[0].status == "paid"
    assert (replayed, unknown, none_yet, elsewhere) == (True, False, Decimal("0.00"), [])


async def test_the_figures_count_holders_by_key_and_open_debts_by_authority(
    store: Store,
) -> None:
    await upsert(store, batch(
        debt("A"), debt("B", authority=""), debt("C", status="paid"),
        debt("D", surcharge_on=date(2026, 12, 5)),
        persons={"h1": ELENI, "h2": ZEYNEP | {"key_id": "k0"}},
    ))

    keys = await store.read(lambda uow: uow.debts.holders_by_key())
    authorities = await store.read(lambda uow: uow.debts.open_by_authority())
    dated = await store.read(lambda uow: uow.debts.open_with_registry_dates())

    assert keys == {"persons": {"k1": 1, "k0": 1}, "companies": {"k1": 1}}
    assert authorities == {"Cyprus Police": 2, "": 1}
    assert [(d.reference, d.surcharge_on) for d in dated] == [("D", date(2026, 12, 5))]


async def test_a_person_is_found_by_any_of_their_hashes_and_moves_to_another_key(
    store: Store, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await upsert(store, batch(debt("A", "old-1"), debt("C", "c1", company=True),
                              persons={"old-1": ELENI | {"key_id": "k0"}}))

    found = await store.read(lambda uow: uow.debts.person_by_hashes(["new-1", "old-1"]))
    nobody = await store.read(lambda uow: uow.debts.person_by_hashes(["new-2"]))
    assert found is not None and nobody is None
    company = (await stored(sessions, Company))[0]
    async with store.uow() as uow:
        await uow.debts.rekey_person(found.id, id_hash="new-1", key_id="k1",
                                     date_of_birth_hash="dob-1b", phone_hash=None)
        await uow.debts.rekey_company(company.id, reg_hash="c1b", key_id="k1")
    moved = await store.read(lambda uow: uow.debts.person_by_hashes(["new-1", "old-1"]))
    (a_debt,) = [row for row in await stored(sessions) if row.reference == "A"]
    on_file = await store.read(lambda uow: uow.debts.debt(a_debt.id))

    assert (found.id_hash, found.key_id, found.name, found.phone_hash) == (
        "old-1", "k0", "Ελένη", "tel-1"
    )
    assert moved is not None
    assert (moved.id, moved.id_hash, moved.key_id, moved.date_of_birth_hash, moved.phone_hash) == (
        found.id, "new-1", "k1", "dob-1b", None
    )
    assert [(c.reg_hash, c.key_id) for c in await stored(sessions, Company)] == [("c1b", "k1")]
    assert on_file is not None
    assert (on_file.person_id, on_file.debt.reference, on_file.debt.served_on) == (
        found.id, "A", date(2026, 11, 1)
    )


async def test_a_batch_prepared_ahead_is_written_as_one_that_was_not(
    store: Store, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ahead = batch(debt("B", "h2"), debt("A", served_at=datetime(2026, 11, 1, 8, 0, tzinfo=UTC)))
    store.prepare(ahead)  # as a file import's reading thread does

    changes = await upsert(store, ahead)
    written = [(row.reference, row.served_at, row.person_id) for row in await stored(sessions)]
    again = await upsert(store, batch(debt("B", "h2"),
                                      debt("A", served_at=datetime(2026, 11, 1, 8, 0, tzinfo=UTC))))

    persons = {p.id_hash: p.id for p in await stored(sessions, Person)}
    assert (changes.inserted, again.unchanged) == (2, 2)
    assert written == [("A", datetime(2026, 11, 1, 8, 0, tzinfo=UTC), persons["h1"]),
                       ("B", None, persons["h2"])]
