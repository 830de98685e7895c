"""Which key the stored hashes are under, for a DEBTBOT_HASH_KEY rotation (`debtbot keys status`).

Rotating: set DEBTBOT_HASH_KEY to the new secret and DEBTBOT_HASH_KEY_PREVIOUS to the old one.
Rows hashed under either key match; each moves to the new key when its plain values pass
through again (the registry sends the holder, the person proves who they are). When no row is
left under the previous key, DEBTBOT_HASH_KEY_PREVIOUS can go.
"""

from __future__ import annotations

from dataclasses import dataclass

from debtbot.services.deps import Deps


@dataclass(frozen=True, slots=True)
class TableKeys:
    table: str
    current: int
    previous: int
    other: int  # under a key that is neither: they match nothing until re-sent


@dataclass(frozen=True, slots=True)
class KeyStatus:
    current_key_id: str
    previous_key_id: str | None
    tables: tuple[TableKeys, ...]

    @property
    def under_previous(self) -> int:
        return sum(table.previous for table in self.tables)

    @property
    def under_other(self) -> int:
        return sum(table.other for table in self.tables)


async def key_status(deps: Deps) -> KeyStatus:
    keyring = deps.settings.keyring
    current = keyring.current.key_id
    previous = keyring.previous.key_id if keyring.previous else None
    counts = await deps.read(lambda uow: uow.debts.holders_by_key())
    tables = []
    for table, by_key in counts.items():
        now = by_key.get(current, 0)
        before = by_key.get(previous, 0) if previous else 0
        tables.append(TableKeys(table, now, before, sum(by_key.values()) - now - before))
    return KeyStatus(current, previous, tuple(tables))
