"""What every service needs from the outside world, passed in rather than imported."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

from debtbot.domain.rules import DEFAULT_RULEBOOK, Rulebook
from debtbot.rulebook import with_settings
from debtbot.services.delivery_counters import DeliveryCounters
from debtbot.settings import Settings
from debtbot.store.db import Sessions
from debtbot.store.unit_of_work import Store, UnitOfWork

T = TypeVar("T")


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Deps:
    settings: Settings
    sessions: Sessions
    clock: Callable[[], datetime] = field(default=utcnow)  # tests pass a fixed clock
    counters: DeliveryCounters = field(default_factory=DeliveryCounters)
    # The law in force: built at start by debtbot.rulebook.load_rulebook (the built-in law,
    # DEBTBOT_RULES_FILE, the settings that are rules). Left out, the built-in law with these
    # settings' values (no file is read here).
    rulebook: Rulebook = DEFAULT_RULEBOOK
    store: Store = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "store", Store(self.sessions))
        if self.rulebook is DEFAULT_RULEBOOK:
            object.__setattr__(self, "rulebook", with_settings(DEFAULT_RULEBOOK, self.settings))

    def uow(self) -> AbstractAsyncContextManager[UnitOfWork]:
        """One transaction and its repositories (store.unit_of_work)."""
        return self.store.uow()

    async def read(self, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
        """`work(uow)` that only reads, with no transaction (store.unit_of_work)."""
        return await self.store.read(work)

    async def write_once(self, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
        """`work(uow)`: one statement that writes and may safely run twice."""
        return await self.store.write_once(work)
