"""Debts: set-based upsert by (source, reference), closing, and the queries services need."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from debtbot.domain.debts import OPEN_STATUSES, DebtStatus
from debtbot.store.bulk import (
    Driver,
    chunks,
    refresh_statistics,
    row_converter,
    stored_converter,
    update_by_id,
)
from debtbot.store.models import Company, DebtRow, OutboxMessage, Person
from debtbot.store.repository import Repository

DEBTS = DebtRow.__table__
OUTBOX = OutboxMessage.__table__

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

Key = tuple[str, str]


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


def is_open(status: str) -> bool:
    return status in _OPEN


def stored_debts(dialect: str, rows: Iterable[Mapping[str, Any]]) -> list[list[Any]]:
    """Each row's FIELDS as the dialect stores them, worked out without a connection (an
    import converts the next batch while this one is written). A list per row, so that
    person_id and company_id can be filled in once the holders have their ids."""
    convert = row_converter(dialect, DEBTS, FIELDS)
    return [list(convert([row.get(name) for name in FIELDS])) for row in rows]


PERSON_ID_AT, COMPANY_ID_AT = FIELDS.index("person_id"), FIELDS.index("company_id")
_AMOUNT_AT, _SERVED_AT = FIELDS.index("amount"), FIELDS.index("served_on")
_NEWS_FIELDS = frozenset({"amount", "served_on", "status", "person_id", "company_id"})


async def sync_debts(
    session: AsyncSession, rows: Sequence[Mapping[str, Any]], *, now: datetime
) -> DebtChanges:
    """Insert new debts and update changed ones, by (source, reference). Unchanged rows are
    not written. Each row holds `source`, `reference` and the FIELDS; the last row wins when a
    key repeats.
    """
    if not rows:
        return DebtChanges()
    driver = await Driver.of(session)
    keys = [(row["source"], row["reference"]) for row in rows]
    return await sync_stored_debts(session, keys, stored_debts(driver.dialect, rows), now=now)


async def sync_stored_debts(
    session: AsyncSession, keys: Sequence[Key], stored: Sequence[Sequence[Any]], *,
    now: datetime,
) -> DebtChanges:
    """sync_debts for rows already through stored_debts: their (source, reference) keys and
    their FIELDS as stored, in the same order."""
    result = DebtChanges()
    if not keys:
        return result
    driver = await Driver.of(session)
    wanted: dict[Key, Sequence[Any]] = dict(zip(keys, stored, strict=True))
    changed_at = stored_converter(driver.dialect, DEBTS, "status_changed_at")
    stamp = changed_at(now) if changed_at else now
    status_at = FIELDS.index("status")
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
            if filled[status_at] in _OPEN:
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
                old[_AMOUNT_AT], old[_SERVED_AT], is_open(old[status_at]),
            ))
        if "status" in change:
            change["status_changed_at"] = stamp
            if is_open(old[status_at]) and not is_open(change["status"]):
                result.closed_ids.append(row_id)
        changes.append((row_id, change))
    # ON CONFLICT DO UPDATE: a concurrent import of the same key cannot fail the batch.
    columns = ["source", "reference", *FIELDS, "status_changed_at"]
    await driver.insert_rows(DEBTS, columns, new, conflict=KEY_COLUMNS, update=columns[2:])
    await update_by_id(driver, DEBTS, changes)
    result.inserted, result.updated = len(new), len(changes)
    return result


async def refresh_debt_statistics(session: AsyncSession) -> None:
    """Bring the planner's view of debts and their holders up to date (after bulk writes)."""
    await refresh_statistics(session, [DEBTS, Person.__table__, Company.__table__])


async def close_debts(
    session: AsyncSession, keys: Sequence[Key], *, status: DebtStatus, now: datetime
) -> list[int]:
    """Set open debts with these (source, reference) keys to `status`; returns their ids."""
    if is_open(status.value):
        raise ValueError("close_debts closes debts: pass paid, cancelled or withdrawn")
    driver = await Driver.of(session)
    status_at = FIELDS.index("status")
    ids = [
        row_id for row_id, values in (await _existing(driver, keys)).values()
        if is_open(values[status_at])
    ]
    for chunk in chunks(ids):
        await session.execute(
            update(DEBTS)
            .where(DEBTS.c.id.in_(chunk), DEBTS.c.status.in_(_OPEN))
            .values(status=status.value, status_changed_at=now)
        )
    return ids


async def debt_by_id(session: AsyncSession, debt_id: int) -> DebtRow | None:
    return await session.get(DebtRow, debt_id)


async def debt_by_reference(session: AsyncSession, source: str, reference: str) -> DebtRow | None:
    return await session.scalar(
        select(DebtRow).where(DebtRow.source == source, DebtRow.reference == reference)
    )


async def debts_by_reference(session: AsyncSession, reference: str) -> list[DebtRow]:
    """Every debt with this reference, whatever its source (staff look-ups)."""
    query = select(DebtRow).where(DebtRow.reference == reference).order_by(DebtRow.id)
    return list(await session.scalars(query))


async def debts_of(
    session: AsyncSession,
    *,
    person_ids: Sequence[int] = (),
    company_ids: Sequence[int] = (),
    open_only: bool = True,
) -> list[DebtRow]:
    """The debts held by these persons and companies, oldest service first."""
    if not person_ids and not company_ids:
        return []
    holders = []
    if person_ids:
        holders.append(DebtRow.person_id.in_(list(person_ids)))
    if company_ids:
        holders.append(DebtRow.company_id.in_(list(company_ids)))
    query = select(DebtRow).where(or_(*holders))
    if open_only:
        query = query.where(DebtRow.status.in_(_OPEN))
    query = query.order_by(DebtRow.served_on.is_(None), DebtRow.served_on, DebtRow.id)
    return list(await session.scalars(query))


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


class DebtRepository(Repository):
    """Persons, companies, their debts and payments: the only writer of their tables."""

    __slots__ = ()

    # -- added for citizen
    async def add_person(self, *, id_type: str, id_hash: str, name: str, key_id: str) -> int:
        """A person proven by CY Login but unknown to the registries: on file from now on."""
        found = await self._db.execute(
            insert(Person.__table__).values(
                id_type=id_type, id_hash=id_hash, name=name, key_id=key_id
            ).returning(Person.__table__.c.id)
        )
        return int(found.scalar_one())

    async def rekey_person(
        self, person_id: int, *, id_hash: str, key_id: str, date_of_birth_hash: str | None,
        phone_hash: str | None,
    ) -> None:
        """Move a person to another key (all of the row's hashes at once)."""
        await self._db.execute(
            update(Person.__table__).where(Person.__table__.c.id == person_id).values(
                id_hash=id_hash, key_id=key_id, date_of_birth_hash=date_of_birth_hash,
                phone_hash=phone_hash,
            )
        )

    async def rekey_company(self, company_id: int, *, reg_hash: str, key_id: str) -> None:
        await self._db.execute(
            update(Company.__table__).where(Company.__table__.c.id == company_id)
            .values(reg_hash=reg_hash, key_id=key_id)
        )
