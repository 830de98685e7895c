"""Persons as verify_identity and signin still find and re-key them with a session, and the
test seeds' person rows.

Persons and companies are DebtRepository's (store/debts.py): person_by_hashes, rekey_person
and rekey_company are its methods; the functions here go when those services move to the
unit of work. A person's identifier, date of birth and phone are kept as keyed hashes
(domain/keys.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import case, select
from sqlalchemy.ext.asyncio import AsyncSession

from debtbot.domain.identifiers import Identifier
from debtbot.domain.keys import HashKey
from debtbot.store.models import Company, Person


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
