"""A person's row as the registry's import would store it, for test seeds and the local
shell. Persons and companies are read and written by DebtRepository (store/debts.py). A
person's identifier, date of birth and phone are kept as keyed hashes (domain/keys.py).
"""

from __future__ import annotations

from datetime import date

from debtbot.domain.identifiers import Identifier
from debtbot.domain.keys import HashKey
from debtbot.store.models import Person


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
