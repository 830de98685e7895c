"""Persons and companies as the registries know them, found by the keyed hash of their
identifier (never the number itself), and the people who represent companies.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from debtbot.store.bulk import Driver, insert_ignoring_conflicts, row_converter, update_by_id
from debtbot.store.models import Company, CompanyRepresentative, Person

PERSONS = Person.__table__
COMPANIES = Company.__table__
REPRESENTATIVES = CompanyRepresentative.__table__

# Columns a registry row may leave empty without clearing what is on file.
_PERSON_OPTIONAL = ("date_of_birth", "phone", "language")
_COMPANY_OPTIONAL = ("language",)
_PERSON_COLUMNS = ("id_type", "name", *_PERSON_OPTIONAL)
_COMPANY_COLUMNS = ("name", *_COMPANY_OPTIONAL)

Stored = dict[str, tuple[Any, ...]]  # key → the columns as the dialect stores them


def stored_persons(dialect: str, persons: Mapping[str, Mapping[str, Any]]) -> Stored:
    """What sync_persons writes, worked out without a connection (see row_converter)."""
    return _stored(dialect, PERSONS, _PERSON_COLUMNS, persons)


def stored_companies(dialect: str, companies: Mapping[str, Mapping[str, Any]]) -> Stored:
    return _stored(dialect, COMPANIES, _COMPANY_COLUMNS, companies)


def _stored(
    dialect: str, table: Any, columns: Sequence[str], wanted: Mapping[str, Mapping[str, Any]]
) -> Stored:
    convert = row_converter(dialect, table, columns)
    return {key: convert([values.get(name) for name in columns]) for key, values in wanted.items()}


async def person_by_hash(session: AsyncSession, id_hash: str) -> Person | None:
    return await session.scalar(select(Person).where(Person.id_hash == id_hash))


async def person_by_id(session: AsyncSession, person_id: int) -> Person | None:
    return await session.get(Person, person_id)


async def company_by_hash(session: AsyncSession, reg_hash: str) -> Company | None:
    return await session.scalar(select(Company).where(Company.reg_hash == reg_hash))


async def company_by_id(session: AsyncSession, company_id: int) -> Company | None:
    return await session.get(Company, company_id)


async def representatives(session: AsyncSession, company_id: int) -> list[Person]:
    query = (
        select(Person)
        .join(CompanyRepresentative, CompanyRepresentative.person_id == Person.id)
        .where(CompanyRepresentative.company_id == company_id)
        .order_by(Person.id)
    )
    return list(await session.scalars(query))


async def represented_companies(session: AsyncSession, person_id: int) -> list[Company]:
    query = (
        select(Company)
        .join(CompanyRepresentative, CompanyRepresentative.company_id == Company.id)
        .where(CompanyRepresentative.person_id == person_id)
        .order_by(Company.id)
    )
    return list(await session.scalars(query))


async def is_representative(session: AsyncSession, *, company_id: int, person_id: int) -> bool:
    found = await session.scalar(
        select(CompanyRepresentative.id).where(
            CompanyRepresentative.company_id == company_id,
            CompanyRepresentative.person_id == person_id,
        )
    )
    return found is not None


async def add_representatives(
    session: AsyncSession, pairs: Sequence[tuple[int, int, str]]
) -> None:
    """(company_id, person_id, role) triples; a pair already on file stays as it is."""
    rows = [
        {"company_id": company, "person_id": person, "role": role}
        for company, person, role in dict.fromkeys(pairs)
    ]
    await insert_ignoring_conflicts(session, REPRESENTATIVES, rows, keys=("company_id", "person_id"))


async def sync_persons(
    session: AsyncSession, persons: Mapping[str, Mapping[str, Any]]
) -> dict[str, int]:
    """Insert or update persons keyed by `id_hash`; returns id_hash → person id.

    Each value has id_type, name, date_of_birth, phone, language; a None optional value keeps
    what is on file. Rows whose values are unchanged are not written at all.
    """
    if not persons:
        return {}
    driver = await Driver.of(session)
    return await sync_stored_persons(session, stored_persons(driver.dialect, persons))


async def sync_stored_persons(session: AsyncSession, stored: Stored) -> dict[str, int]:
    """sync_persons for values already through stored_persons (for this dialect)."""
    return await _sync(session, PERSONS, "id_hash", _PERSON_COLUMNS, _PERSON_OPTIONAL, stored)


async def sync_companies(
    session: AsyncSession, companies: Mapping[str, Mapping[str, Any]]
) -> dict[str, int]:
    """Insert or update companies keyed by `reg_hash` (values: name, language)."""
    if not companies:
        return {}
    driver = await Driver.of(session)
    return await sync_stored_companies(session, stored_companies(driver.dialect, companies))


async def sync_stored_companies(session: AsyncSession, stored: Stored) -> dict[str, int]:
    return await _sync(
        session, COMPANIES, "reg_hash", _COMPANY_COLUMNS, _COMPANY_OPTIONAL, stored
    )


async def _sync(
    session: AsyncSession,
    table: Any,
    key: str,
    columns: Sequence[str],
    optional: Sequence[str],
    stored: Stored,
) -> dict[str, int]:
    ids: dict[str, int] = {}
    if not stored:
        return ids
    driver = await Driver.of(session)
    keep_if_none = [name in optional for name in columns]
    changes: list[tuple[int, dict[str, Any]]] = []
    for row_id, key_value, *old in await driver.fetch_in(table, ["id", key, *columns], key,
                                                         list(stored)):
        ids[key_value] = row_id
        new = stored[key_value]
        if new == tuple(old):  # the usual case: a holder's later debts repeat what is on file
            continue
        change = {
            name: value
            for name, value, before, keep in zip(columns, new, old, keep_if_none, strict=True)
            if value != before and not (keep and value is None)
        }
        if change:
            changes.append((row_id, change))
    missing = [key_value for key_value in stored if key_value not in ids]
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
