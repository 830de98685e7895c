"""The unit of work (after "Architecture Patterns with Python", service_layer/unit_of_work.py):
one transaction and the repositories that read and write in it.

    async with deps.uow() as uow:            # BEGIN
        await uow.chats.set_active(chat_id, False)
        await uow.outbox.cancel(chat_id=chat_id, reason="chat inactive")
                                             # COMMIT when the block ends, ROLLBACK if it raises

Two shorter doors for the hot paths, each running `work(uow)` on one connection:
`deps.read(work)` for statements that only read and need no snapshot across them (no BEGIN
on PostgreSQL), and `deps.write_once(work)` for one statement that writes and may safely run
twice (it commits on its own). Both are retried once if the connection turned out dead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

from debtbot.store import db
from debtbot.store.audit import AuditRepository
from debtbot.store.broadcasts import BroadcastRepository
from debtbot.store.chats import ChatRepository
from debtbot.store.debts import DebtBatch, DebtRepository
from debtbot.store.dialogues import DialogueRepository
from debtbot.store.fleet import FleetRepository
from debtbot.store.outbox import OutboxRepository
from debtbot.store.repository import Executor
from debtbot.store.staff import StaffRepository

T = TypeVar("T")


class UnitOfWork:
    """The repositories, one per aggregate, sharing one transaction (or one connection)."""

    __slots__ = ("audit", "broadcasts", "chats", "debts", "dialogues", "fleet", "outbox",
                 "staff")

    def __init__(self, executor: Executor) -> None:
        self.chats = ChatRepository(executor)  # chats and the identities they have proven
        self.dialogues = DialogueRepository(executor)  # verification and sign-in dialogues
        self.debts = DebtRepository(executor)  # persons, companies, debts, payments
        self.outbox = OutboxRepository(executor)  # what is to be sent, and the planner's state
        self.broadcasts = BroadcastRepository(executor)  # broadcasts, notices, templates
        self.staff = StaffRepository(executor)  # staff, console sessions, API tokens
        self.audit = AuditRepository(executor)  # the audit log
        self.fleet = FleetRepository(executor)  # updates taken, the send budget, counters


class Store:
    """The database as the services see it: units of work, reads and one-statement writes."""

    __slots__ = ("sessions",)

    def __init__(self, sessions: db.Sessions) -> None:
        self.sessions = sessions

    @asynccontextmanager
    async def uow(self) -> AsyncIterator[UnitOfWork]:
        async with db.transaction(self.sessions) as session:
            yield UnitOfWork(session)

    async def read(self, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
        return await db.read(self.sessions, lambda connection: work(UnitOfWork(connection)))

    async def write_once(self, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
        return await db.write_once(self.sessions,
                                   lambda connection: work(UnitOfWork(connection)))

    @property
    def dialect(self) -> str:
        """"sqlite" or "postgresql", known without connecting."""
        return db.dialect_of(self.sessions)

    # -- added for ingest
    def prepare(self, batch: DebtBatch) -> None:
        """Work out now, with no connection, how `batch` will be stored (a file import does it
        in its reading thread while the batch before is written; DebtRepository.upsert does
        it otherwise)."""
        batch.encoded(self.dialect)
