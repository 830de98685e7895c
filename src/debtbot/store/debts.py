"""Persons, companies, the people who represent companies, debts and payments.

`DebtRepository` is the only writer of their tables. An ingest batch (a file import's 5,000
rows, or one call of the HTTP API) goes in through `upsert`: holders found by the keyed hash of
their identifier (never the number itself), debts by (source, reference); new rows inserted,
changed ones updated, identical ones not written at all. How that is fast is this module's
business: the session's own driver connection, lookups in chunks, one executemany per kind of
change, COPY on PostgreSQL (store/bulk.py), values converted once to what the columns store.

During a key rotation a holder may be on file under the previous key's hash: `upsert` finds it
there and moves it to the current key when what it was given covers every hash the row holds;
otherwise the row is updated under the key it is kept with.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from operator import itemgetter
from typing import Any

from sqlalchemy import case, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from debtbot.domain.debts import OPEN_STATUSES, Debt, DebtKind, DebtStatus
from debtbot.store.bulk import (
    Driver,
    chunks,
    defer_commit_flush,
    insert_ignoring_conflicts,
    refresh_statistics,
    row_converter,
    stored_converter,
    update_by_id,
)
from debtbot.store.mapping import debt_from_row
from debtbot.store.models import (
    Company,
    CompanyRepresentative,
    DebtRow,
    Payment,
    Person,
)
from debtbot.store.repository import Repository

DEBTS = DebtRow.__table__
PERSONS = Person.__table__
COMPANIES = Company.__table__
REPRESENTATIVES = CompanyRepresentative.__table__

# What a registry row sets. A None in KEEP_IF_NONE means "not given": what is on file stays.
FIELDS = (
    "kind", "authority", "person_id", "company_id", "amount", "served_on", "due_on", "status",
    "points", "surcharge_rate", "post_clearance", "enforcement_suspended", "instalments_on_time",
    "finding_notice_on", "served_at", "freeze_notified_on", "seized_on", "charge_notified_on",
    "surcharge_on", "prosecution_on",
)
KEEP_IF_NONE = frozenset(
    {"due_on", "status", "points", "surcharge_rate", "post_clearance", "enforcement_suspended",
     "instalments_on_time", "finding_notice_on", "served_at", "freeze_notified_on", "seized_on",
     "charge_notified_on", "surcharge_on", "prosecution_on"}
)
DEFAULTS: dict[str, Any] = {
    "status": DebtStatus.OUTSTANDING.value, "post_clearance": False, "enforcement_suspended": False,
    "instalments_on_time": False,
}
_OPEN = tuple(status.value for status in OPEN_STATUSES)
KEY_COLUMNS = ("source", "reference")

# Persons' and companies' columns a registry row may leave empty without clearing what is on file.
_PERSON_OPTIONAL = ("date_of_birth_hash", "phone_hash", "language")
_COMPANY_OPTIONAL = ("language",)
PERSON_COLUMNS = ("id_type", "name", *_PERSON_OPTIONAL, "key_id")
COMPANY_COLUMNS = ("name", *_COMPANY_OPTIONAL, "key_id")
# Hashes bound to the row's key: a row moves to a new key only if all of them are given anew.
_PERSON_HASHED = ("date_of_birth_hash", "phone_hash")

Key = tuple[str, str]
Values = Mapping[str, Any]  # column → a Python value (a date, a Decimal, a bool, …)
_Stored = dict[str, tuple[Any, ...]]  # hash → the columns as the dialect stores them


@dataclass(frozen=True, slots=True)
class DebtChange:
    """What a citizen may care about in one updated debt (the news planner's input)."""

    debt_id: int
    person_id: int | None  # the holder now
    company_id: int | None
    fields: frozenset[str]  # the FIELDS that changed
    old_amount_cents: int | None
    old_served_on: Any  # as stored (None: not served before)
    old_open: bool


@dataclass(slots=True)
class DebtChanges:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    closed_ids: list[int] = field(default_factory=list)  # open before, paid/cancelled now
    # For the news (issue #16): the open debts inserted, as (key, person_id, company_id),
    # and the updates that touch what a citizen reads (amount, service, status, holder).
    new_open: list[tuple[Key, int | None, int | None]] = field(default_factory=list)
    news: list[DebtChange] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Previous:
    """During a key rotation: each holder's hash under the previous key, and its columns as
    hashed under that key (for a row that cannot move yet)."""

    hashes: Mapping[str, str]  # current hash → previous hash
    values: Mapping[str, Values]  # previous hash → columns


@dataclass(frozen=True, slots=True)
class DebtBatch:
    """What one ingest batch writes, in Python values. Holders are keyed by the keyed hash of
    their identifier; a None in an optional column keeps what is on file.

    persons: id_hash → id_type, name, date_of_birth_hash, phone_hash, language, key_id.
    companies: reg_hash → name, language, key_id.
    debts: source, reference, `holder` ((a company?, its hash)) and the FIELDS but
    person_id and company_id; a key appears once.
    """

    persons: Mapping[str, Values]
    companies: Mapping[str, Values]
    representatives: Sequence[tuple[str, str, str]]  # (company hash, person hash, role)
    debts: Sequence[Values]
    previous_persons: Previous | None = None  # during a key rotation
    previous_companies: Previous | None = None
    # dialect → the batch as that dialect stores it, worked out once (Store.prepare)
    _encoded: dict[str, _Encoded] = field(default_factory=dict, init=False, repr=False,
                                          compare=False)

    def encoded(self, dialect: str) -> _Encoded:
        found = self._encoded.get(dialect)
        if found is None:
            found = self._encoded[dialect] = _encode(self, dialect)
        return found


@dataclass(frozen=True, slots=True)
class DebtOnFile:
    """A debt as stored, with its id and its holder's."""

    id: int
    debt: Debt
    person_id: int | None
    company_id: int | None


@dataclass(frozen=True, slots=True)
class PersonOnFile:
    """A person as stored: every identifying value a keyed hash (domain/keys.py)."""

    id: int
    id_hash: str
    key_id: str | None  # the fingerprint of the key the hashes are under
    name: str
    date_of_birth_hash: str | None
    phone_hash: str | None
    language: str | None


class PaymentAlreadyRecorded(Exception):
    """The provider's payment id is on file already (a concurrent replay)."""


def is_open(status: str) -> bool:
    return status in _OPEN


PERSON_ID_AT, COMPANY_ID_AT = FIELDS.index("person_id"), FIELDS.index("company_id")
_AMOUNT_AT, _SERVED_AT = FIELDS.index("amount"), FIELDS.index("served_on")
_STATUS_AT = FIELDS.index("status")
_RATE_AT = FIELDS.index("surcharge_rate")
_NEWS_FIELDS = frozenset({"amount", "served_on", "status", "person_id", "company_id"})
_debt_key = itemgetter("source", "reference")


class DebtRepository(Repository):
    """Persons, companies, their debts and payments: the only writer of their tables."""

    __slots__ = ()

    # -- ingest -----------------------------------------------------------------------

    async def upsert(self, batch: DebtBatch, *, now: datetime, durable: bool = True
                     ) -> DebtChanges:
        """Insert new holders and debts and update changed ones (see the module docstring).

        `durable=False` (file imports): on PostgreSQL this transaction's COMMIT returns before
        its WAL reaches disk; a server crash right after may lose the batch whole, never part.
        """
        session = self._session
        if not durable:
            await defer_commit_flush(session)
        driver = await Driver.of(session)
        encoded = batch.encoded(driver.dialect)
        person_ids = await _sync(
            driver, PERSONS, "id_hash", PERSON_COLUMNS, _PERSON_OPTIONAL, encoded.persons,
            previous=encoded.previous_persons, hashed=_PERSON_HASHED,
        )
        company_ids = await _sync(
            driver, COMPANIES, "reg_hash", COMPANY_COLUMNS, _COMPANY_OPTIONAL,
            encoded.companies, previous=encoded.previous_companies,
        )
        pairs = [(company_ids[c], person_ids[p], role) for c, p, role in batch.representatives]
        rows = [
            {"company_id": company, "person_id": person, "role": role}
            for company, person, role in dict.fromkeys(pairs)
        ]
        await insert_ignoring_conflicts(session, REPRESENTATIVES, rows,
                                        keys=("company_id", "person_id"))
        stored = encoded.debts
        for values, (is_company, holder_hash) in zip(stored, encoded.holders, strict=True):
            if is_company:
                values[PERSON_ID_AT], values[COMPANY_ID_AT] = None, company_ids[holder_hash]
            else:
                values[PERSON_ID_AT], values[COMPANY_ID_AT] = person_ids[holder_hash], None
        return await _sync_debts(driver, encoded.keys, stored, now=now)

    async def close(self, keys: Sequence[Key], *, status: DebtStatus, now: datetime
                    ) -> list[int]:
        """Set open debts with these (source, reference) keys to `status`; returns their ids."""
        if is_open(status.value):
            raise ValueError("close closes debts: pass paid, cancelled or withdrawn")
        driver = await Driver.of(self._session)
        ids = [
            row_id for row_id, values in (await _existing(driver, keys)).values()
            if is_open(values[_STATUS_AT])
        ]
        for chunk in chunks(ids):
            await self._db.execute(
                update(DEBTS)
                .where(DEBTS.c.id.in_(chunk), DEBTS.c.status.in_(_OPEN))
                .values(status=status.value, status_changed_at=now)
            )
        return ids

    async def refresh_statistics(self) -> None:
        """Bring the planner's view of debts and their holders up to date (after bulk writes)."""
        await refresh_statistics(self._session, [DEBTS, PERSONS, COMPANIES])

    # -- holders and debts, one at a time ------------------------------------------------

    async def person_by_hashes(self, hashes: Sequence[str]) -> PersonOnFile | None:
        """The person filed under any of these identifier hashes (the first one first: the
        current key's, then the previous key's during a rotation)."""
        if not hashes:
            return None
        first = case((PERSONS.c.id_hash == hashes[0], 0), else_=1)
        row = (await self._db.execute(
            select(PERSONS.c.id, PERSONS.c.id_hash, PERSONS.c.key_id, PERSONS.c.name,
                   PERSONS.c.date_of_birth_hash, PERSONS.c.phone_hash, PERSONS.c.language)
            .where(PERSONS.c.id_hash.in_(list(hashes))).order_by(first).limit(1)
        )).first()
        return PersonOnFile(*row) if row is not None else None

    async def add_person(self, *, id_type: str, id_hash: str, name: str, key_id: str) -> int:
        """A person proven by CY Login but unknown to the registries: on file from now on."""
        found = await self._db.execute(
            insert(PERSONS).values(id_type=id_type, id_hash=id_hash, name=name, key_id=key_id)
            .returning(PERSONS.c.id)
        )
        return int(found.scalar_one())

    async def rekey_person(
        self, person_id: int, *, id_hash: str, key_id: str, date_of_birth_hash: str | None,
        phone_hash: str | None,
    ) -> None:
        """Move a person to another key (all of the row's hashes at once)."""
        await self._db.execute(
            update(PERSONS).where(PERSONS.c.id == person_id).values(
                id_hash=id_hash, key_id=key_id, date_of_birth_hash=date_of_birth_hash,
                phone_hash=phone_hash,
            )
        )

    async def rekey_company(self, company_id: int, *, reg_hash: str, key_id: str) -> None:
        await self._db.execute(
            update(COMPANIES).where(COMPANIES.c.id == company_id)
            .values(reg_hash=reg_hash, key_id=key_id)
        )

    async def debt(self, debt_id: int) -> DebtOnFile | None:
        row = (await self._db.execute(select(DEBTS).where(DEBTS.c.id == debt_id))).first()
        if row is None:
            return None
        return DebtOnFile(row.id, debt_from_row(row), row.person_id, row.company_id)  # type: ignore[arg-type]

    # -- payments ---------------------------------------------------------------------

    async def debts_to_pay(self, reference: str, *, source: str | None) -> list[DebtOnFile]:
        """The debts (at most two) a payment names, locked until the unit of work ends
        (PostgreSQL)."""
        query = select(DEBTS).where(DEBTS.c.reference == reference)
        if source is not None:
            query = query.where(DEBTS.c.source == source)
        rows = await self._db.execute(query.order_by(DEBTS.c.id).limit(2).with_for_update())
        return [
            DebtOnFile(row.id, debt_from_row(row), row.person_id, row.company_id)  # type: ignore[arg-type]
            for row in rows
        ]

    async def payment_recorded(self, provider_ref: str) -> bool:
        found = await self._db.execute(
            select(Payment.id).where(Payment.provider_ref == provider_ref)
        )
        return found.first() is not None

    async def paid_so_far(self, debt_id: int) -> Decimal:
        """The sum of the payments already recorded for the debt (its ledger)."""
        # The sum keeps the column's type: whole cents in SQL, a Decimal in euro here.
        total = (await self._db.execute(
            select(func.sum(Payment.amount)).where(Payment.debt_id == debt_id)
        )).scalar()
        return Decimal("0.00") if total is None else Decimal(total).quantize(Decimal("0.01"))

    async def add_payment(
        self, *, provider_ref: str, debt_id: int, amount: Decimal, paid_at: datetime,
        received_at: datetime, token_id: int | None, refund_due: Decimal | None = None,
    ) -> int:
        """Record a payment in the debt's ledger; its id. Raises PaymentAlreadyRecorded when
        the provider's id is on file (the unique index decides, concurrent replays too)."""
        session = self._session
        row = Payment(provider_ref=provider_ref, debt_id=debt_id, amount=amount,
                      paid_at=paid_at, received_at=received_at, token_id=token_id,
                      refund_due=refund_due)
        session.add(row)
        try:
            await session.flush()
        except IntegrityError:
            raise PaymentAlreadyRecorded(provider_ref) from None
        return row.id

    async def mark_paid(self, debt_id: int, *, now: datetime) -> None:
        await self._db.execute(
            update(DebtRow)
            .where(DebtRow.id == debt_id)
            .values(status=DebtStatus.PAID.value, status_changed_at=now, updated_at=now)
        )

    # -- figures ----------------------------------------------------------------------

    async def holders_by_key(self) -> dict[str, dict[str, int]]:
        """Table ("persons", "companies") → key fingerprint → how many rows are hashed under it."""
        counts: dict[str, dict[str, int]] = {}
        for name, model in (("persons", Person), ("companies", Company)):
            query = select(model.key_id, func.count()).group_by(model.key_id)
            counts[name] = {key_id: int(n) for key_id, n in (await self._db.execute(query)).all()}
        return counts

    async def open_by_authority(self) -> dict[str, int]:
        """Outstanding debts by the registry's `authority` value (a few dozen distinct values)."""
        rows = await self._db.execute(
            select(DebtRow.authority, func.count())
            .where(DebtRow.status == DebtStatus.OUTSTANDING.value)
            .group_by(DebtRow.authority)
        )
        return {authority or "": count for authority, count in rows}

    async def open_with_registry_dates(self) -> list[Debt]:
        """Outstanding debts that carry the registry's own surcharge or prosecution date."""
        rows = await self._db.execute(
            select(DebtRow.kind, DebtRow.reference, DebtRow.amount, DebtRow.served_on,
                   DebtRow.surcharge_on, DebtRow.prosecution_on)
            .where(DebtRow.status == DebtStatus.OUTSTANDING.value)
            .where((DebtRow.surcharge_on.is_not(None)) | (DebtRow.prosecution_on.is_not(None)))
        )
        return [
            Debt(DebtKind(kind), reference, amount, served_on, surcharge_on=surcharge_on,
                 prosecution_on=prosecution_on)
            for kind, reference, amount, served_on, surcharge_on, prosecution_on in rows
        ]

    @property
    def _session(self) -> AsyncSession:
        if not isinstance(self._db, AsyncSession):
            raise TypeError("this needs a unit of work (deps.uow()), not a single statement")
        return self._db


# ------------------------------------------------------------------- the bulk upsert


@dataclass(slots=True)
class _Encoded:
    persons: _Stored
    companies: _Stored
    previous_persons: _StoredPrevious | None
    previous_companies: _StoredPrevious | None
    keys: list[Key]  # the debts in (source, reference) order: index pages filled in turn
    holders: list[tuple[bool, str]]
    debts: list[list[Any]]  # person_id and company_id filled in once the holders have ids


def _encode(batch: DebtBatch, dialect: str) -> _Encoded:
    debts = sorted(batch.debts, key=_debt_key)
    return _Encoded(
        persons=_stored(dialect, PERSONS, PERSON_COLUMNS, batch.persons),
        companies=_stored(dialect, COMPANIES, COMPANY_COLUMNS, batch.companies),
        previous_persons=_stored_previous(dialect, PERSONS, PERSON_COLUMNS,
                                          batch.previous_persons),
        previous_companies=_stored_previous(dialect, COMPANIES, COMPANY_COLUMNS,
                                            batch.previous_companies),
        keys=[(debt["source"], debt["reference"]) for debt in debts],
        holders=[debt["holder"] for debt in debts],
        debts=_stored_debts(dialect, debts),
    )


def _stored(dialect: str, table: Any, columns: Sequence[str], wanted: Mapping[str, Values]
            ) -> _Stored:
    convert = row_converter(dialect, table, columns)
    return {key: convert([values.get(name) for name in columns]) for key, values in wanted.items()}


@dataclass(slots=True)
class _StoredPrevious:
    hashes: Mapping[str, str]
    stored: _Stored


def _stored_previous(dialect: str, table: Any, columns: Sequence[str],
                     previous: Previous | None) -> _StoredPrevious | None:
    if previous is None:
        return None
    return _StoredPrevious(previous.hashes, _stored(dialect, table, columns, previous.values))


def _stored_debts(dialect: str, rows: Iterable[Values]) -> list[list[Any]]:
    # A list per row, so that person_id and company_id can be filled in once the holders
    # have their ids.
    convert = row_converter(dialect, DEBTS, FIELDS)
    stored = [list(convert([row.get(name) for name in FIELDS])) for row in rows]
    for values in stored:
        if values[_RATE_AT] is not None:
            values[_RATE_AT] = str(values[_RATE_AT])  # a Decimal, kept as text
    return stored


async def _sync_debts(
    driver: Driver, keys: Sequence[Key], stored: Sequence[Sequence[Any]], *, now: datetime,
) -> DebtChanges:
    result = DebtChanges()
    if not keys:
        return result
    wanted: dict[Key, Sequence[Any]] = dict(zip(keys, stored, strict=True))
    changed_at = stored_converter(driver.dialect, DEBTS, "status_changed_at")
    stamp = changed_at(now) if changed_at else now
    defaults = []
    for name, value in DEFAULTS.items():
        convert = stored_converter(driver.dialect, DEBTS, name)
        defaults.append((FIELDS.index(name), convert(value) if convert else value))
    existing = await _existing(driver, wanted.keys())
    new_open = result.new_open
    new: list[tuple[Any, ...]] = []
    changes: list[tuple[int, dict[str, Any]]] = []
    for key, values in wanted.items():
        found = existing.get(key)
        if found is None:
            filled = list(values)
            for at, default in defaults:
                if filled[at] is None:
                    filled[at] = default
            if filled[_STATUS_AT] in _OPEN:
                new.append((*key, *filled, None))
                new_open.append((key, filled[PERSON_ID_AT], filled[COMPANY_ID_AT]))
            else:
                new.append((*key, *filled, stamp))
            continue
        row_id, old = found
        change = {
            name: value
            for name, value, before in zip(FIELDS, values, old, strict=True)
            if value != before and not (value is None and name in KEEP_IF_NONE)
        }
        if not change:
            result.unchanged += 1
            continue
        if not _NEWS_FIELDS.isdisjoint(change):
            result.news.append(DebtChange(
                row_id, values[PERSON_ID_AT], values[COMPANY_ID_AT], frozenset(change),
                old[_AMOUNT_AT], old[_SERVED_AT], is_open(old[_STATUS_AT]),
            ))
        if "status" in change:
            change["status_changed_at"] = stamp
            if is_open(old[_STATUS_AT]) and not is_open(change["status"]):
                result.closed_ids.append(row_id)
        changes.append((row_id, change))
    # ON CONFLICT DO UPDATE: a concurrent import of the same key cannot fail the batch.
    columns = ["source", "reference", *FIELDS, "status_changed_at"]
    await driver.insert_rows(DEBTS, columns, new, conflict=KEY_COLUMNS, update=columns[2:])
    await update_by_id(driver, DEBTS, changes)
    result.inserted, result.updated = len(new), len(changes)
    return result


async def _existing(
    driver: Driver, keys: Iterable[Key]
) -> dict[Key, tuple[int, tuple[Any, ...]]]:
    """(source, reference) → (id, the FIELDS as stored) for the keys on file."""
    by_source: dict[str, list[str]] = defaultdict(list)
    for source, reference in keys:
        by_source[source].append(reference)
    found: dict[Key, tuple[int, tuple[Any, ...]]] = {}
    for source, references in by_source.items():
        rows = await driver.fetch_in(
            DEBTS, ["id", "reference", *FIELDS], "reference", references,
            where=[("source", source)],
        )
        for row_id, reference, *values in rows:
            found[(source, reference)] = (row_id, tuple(values))
    return found


def _change(
    columns: Sequence[str], keep_if_none: Sequence[bool], new: Sequence[Any], old: Sequence[Any]
) -> dict[str, Any]:
    return {
        name: value
        for name, value, before, keep in zip(columns, new, old, keep_if_none, strict=True)
        if value != before and not (keep and value is None)
    }


async def _sync(
    driver: Driver,
    table: Any,
    key: str,
    columns: Sequence[str],
    optional: Sequence[str],
    stored: _Stored,
    *,
    previous: _StoredPrevious | None = None,
    hashed: Sequence[str] = (),
) -> dict[str, int]:
    """Insert or update holders keyed by their hash; returns hash → id."""
    ids: dict[str, int] = {}
    if not stored:
        return ids
    keep_if_none = [name in optional for name in columns]
    changes: list[tuple[int, dict[str, Any]]] = []
    for row_id, key_value, *old in await driver.fetch_in(table, ["id", key, *columns], key,
                                                         list(stored)):
        ids[key_value] = row_id
        new = stored[key_value]
        if new == tuple(old):  # the usual case: a holder's later debts repeat what is on file
            continue
        change = _change(columns, keep_if_none, new, old)
        if change:
            changes.append((row_id, change))
    missing = [key_value for key_value in stored if key_value not in ids]
    if previous is not None and missing:
        await _find_under_previous(
            driver, table, key, columns, keep_if_none, hashed, stored, previous, missing,
            ids, changes,
        )
        missing = [key_value for key_value in missing if key_value not in ids]
    written = await driver.insert_rows(
        table, [key, *columns], [(key_value, *stored[key_value]) for key_value in missing],
        conflict=[key], returning=["id", key],
    )
    ids.update({key_value: row_id for row_id, key_value in written})
    await update_by_id(driver, table, changes)
    # SQLite returns nothing; on PostgreSQL only rows a concurrent writer inserted are left.
    unknown = [key_value for key_value in missing if key_value not in ids]
    for row_id, key_value in await driver.fetch_in(table, ["id", key], key, unknown):
        ids[key_value] = row_id
    return ids


async def _find_under_previous(
    driver: Driver, table: Any, key: str, columns: Sequence[str], keep_if_none: Sequence[bool],
    hashed: Sequence[str], stored: _Stored, previous: _StoredPrevious, missing: Sequence[str],
    ids: dict[str, int], changes: list[tuple[int, dict[str, Any]]],
) -> None:
    wanted = {previous.hashes[k]: k for k in missing if k in previous.hashes}
    if not wanted:
        return
    at_hashed = [at for at, name in enumerate(columns) if name in hashed]
    for row_id, old_key, *old in await driver.fetch_in(table, ["id", key, *columns], key,
                                                       list(wanted)):
        new_key = wanted[old_key]
        ids[new_key] = row_id
        new = stored[new_key]
        if all(new[at] is not None or old[at] is None for at in at_hashed):
            changes.append((row_id, {key: new_key, **_change(columns, keep_if_none, new, old)}))
        else:  # a hash the row holds was not given again: it stays under its old key
            change = _change(columns, keep_if_none, previous.stored[old_key], old)
            if change:
                changes.append((row_id, change))
