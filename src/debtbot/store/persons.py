"""Persons and companies as the registries know them, found by the keyed hash of their
identifier (never the number itself), and the people who represent companies. A person's date
of birth and phone are kept as keyed hashes too (domain/keys.py).

During a key rotation a holder may be on file under the previous key's hash: `sync_*` find it
there and move it to the current key when what they were given covers every hash the row
holds; otherwise the row is updated under the key it is kept with.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from debtbot.domain.identifiers import Identifier
from debtbot.domain.keys import HashKey
from debtbot.store.bulk import Driver, insert_ignoring_conflicts, row_converter, update_by_id
from debtbot.store.models import Company, CompanyRepresentative, Person

PERSONS = Person.__table__
COMPANIES = Company.__table__
REPRESENTATIVES = CompanyRepresentative.__table__

# Columns a registry row may leave empty without clearing what is on file.
_PERSON_OPTIONAL = ("date_of_birth_hash", "phone_hash", "language")
_COMPANY_OPTIONAL = ("language",)
_PERSON_COLUMNS = ("id_type", "name", *_PERSON_OPTIONAL, "key_id")
_COMPANY_COLUMNS = ("name", *_COMPANY_OPTIONAL, "key_id")
# Hashes bound to the row's key: a row moves to a new key only if all of them are given anew.
_PERSON_HASHED = ("date_of_birth_hash", "phone_hash")

Stored = dict[str, tuple[Any, ...]]  # key → the columns as the dialect stores them


@dataclass(slots=True)
class Previous:
    """During a rotation: each holder's hash under the previous key, and its columns as
    they are stored under that key (for a row that cannot move yet)."""

    hashes: dict[str, str] = field(default_factory=dict)  # current hash → previous hash
    stored: Stored = field(default_factory=dict)  # previous hash → columns


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


def person_row(
    key: HashKey, identifier: Identifier, *, name: str = "", born: date | None = None,
    phone: str | None = None, language: str | None = None,
) -> Person:
    """A new person, hashed under `key` (phone: E.164)."""
    id_hash = key.identifier(identifier)
    return Person(
        id_type=identifier.id_type.value, id_hash=id_hash, name=name,
        date_of_birth_hash=key.date_of_birth(id_hash, born) if born is not None else None,
        phone_hash=key.phone(id_hash, phone) if phone else None,
        language=language, key_id=key.key_id,
    )


async def person_by_hash(session: AsyncSession, id_hash: str | Sequence[str]) -> Person | None:
    """The person filed under this hash, or under any of these (the first one first)."""
    hashes = [id_hash] if isinstance(id_hash, str) else list(id_hash)
    if len(hashes) == 1:
        return await session.scalar(select(Person).where(Person.id_hash == hashes[0]))
    first = case((Person.id_hash == hashes[0], 0), else_=1)
    return await session.scalar(
        select(Person).where(Person.id_hash.in_(hashes)).order_by(first).limit(1)
    )


async def company_by_hashes(session: AsyncSession, hashes: Sequence[str]) -> Company | None:
    first = case((Company.reg_hash == hashes[0], 0), else_=1)
    return await session.scalar(
        select(Company).where(Company.reg_hash.in_(list(hashes))).order_by(first).limit(1)
    )


async def rekey_person(
    session: AsyncSession, person: Person, *, id_hash: str, key_id: str,
    date_of_birth_hash: str | None, phone_hash: str | None,
) -> None:
    """Move a person to another key (all of the row's hashes at once)."""
    person.id_hash = id_hash
    person.key_id = key_id
    person.date_of_birth_hash = date_of_birth_hash
    person.phone_hash = phone_hash
    await session.flush()


async def rekey_company(
    session: AsyncSession, company: Company, *, reg_hash: str, key_id: str
) -> None:
    company.reg_hash = reg_hash
    company.key_id = key_id
    await session.flush()


async def rows_by_key(session: AsyncSession) -> dict[str, dict[str, int]]:
    """Table → key fingerprint → how many rows are hashed under it."""
    counts: dict[str, dict[str, int]] = {}
    for name, model in (("persons", Person), ("companies", Company)):
        query = select(model.key_id, func.count()).group_by(model.key_id)
        counts[name] = {key_id: int(n) for key_id, n in (await session.execute(query)).all()}
    return counts


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


async def sync_stored_persons(
    session: AsyncSession, stored: Stored, previous: Previous | None = None
) -> dict[str, int]:
    """sync_persons for values already through stored_persons (for this dialect)."""
    return await _sync(
        session, PERSONS, "id_hash", _PERSON_COLUMNS, _PERSON_OPTIONAL, stored,
        previous=previous, hashed=_PERSON_HASHED,
    )


async def sync_companies(
    session: AsyncSession, companies: Mapping[str, Mapping[str, Any]]
) -> dict[str, int]:
    """Insert or update companies keyed by `reg_hash` (values: name, language)."""
    if not companies:
        return {}
    driver = await Driver.of(session)
    return await sync_stored_companies(session, stored_companies(driver.dialect, companies))


async def sync_stored_companies(
    session: AsyncSession, stored: Stored, previous: Previous | None = None
) -> dict[str, int]:
    return await _sync(
        session, COMPANIES, "reg_hash", _COMPANY_COLUMNS, _COMPANY_OPTIONAL, stored,
        previous=previous,
    )


def _change(
    columns: Sequence[str], keep_if_none: Sequence[bool], new: Sequence[Any], old: Sequence[Any]
) -> dict[str, Any]:
    return {
        name: value
        for name, value, before, keep in zip(columns, new, old, keep_if_none, strict=True)
        if value != before and not (keep and value is None)
    }


async def _sync(
    session: AsyncSession,
    table: Any,
    key: str,
    columns: Sequence[str],
    optional: Sequence[str],
    stored: Stored,
    *,
    previous: Previous | None = None,
    hashed: Sequence[str] = (),
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
    hashed: Sequence[str], stored: Stored, previous: Previous, missing: Sequence[str],
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
