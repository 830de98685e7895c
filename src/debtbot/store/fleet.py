"""What several instances on one PostgreSQL database share: leases (who sends, who polls),
the send budget, the updates already taken, and fleet-wide delivery counters.

Leases are session-level advisory locks held on a dedicated connection. PostgreSQL releases
such a lock the moment the holding session ends: a SIGKILLed holder's socket is closed by its
kernel and the server notices at once; a holder cut off by the network is noticed by TCP
keepalives (set short on the lease's connection), and the holder itself stops when its
heartbeat fails. Nothing else (no extra service, no table of leaders) is needed.

SQLite serves one instance: it has no leases (the process is always the leader) and no
shared budget (the process keeps its own pace in memory).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from debtbot.store import api
from debtbot.store.health import warn_unless_outage
from debtbot.store.models import FleetCounter, ProcessedUpdate
from debtbot.store.repository import Repository

log = logging.getLogger(__name__)

# How fast a lost lease connection is noticed by the server (seconds): keepalive after 2 s
# idle, every 1 s, given up after 3 misses; unacknowledged data given up after 4 s.
_KEEPALIVE = {
    "tcp_keepalives_idle": "2",
    "tcp_keepalives_interval": "1",
    "tcp_keepalives_count": "3",
    "tcp_user_timeout": "4000",
}


def lease_key(name: str) -> int:
    """A stable signed 64-bit advisory lock key for a lease name."""
    digest = hashlib.sha256(f"debtbot:lease:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


async def lease_holder(connection: AsyncConnection, name: str) -> int | None:
    """The process id of the lease's holder, None if nobody holds it (for operators, tests
    and benchmarks: the holder's pid is in its connection's application_name)."""
    pid = (await connection.execute(
        text(
            "SELECT substring(a.application_name from ' pid ([0-9]+)$')::int FROM pg_locks l "
            "JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND a.application_name LIKE :pattern"
        ),
        {"pattern": f"debtbot lease {name} pid %"},
    )).scalar()
    return None if pid is None else int(pid)


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class AdvisoryLease:
    """One named lease: a PostgreSQL session-level advisory lock on a connection of its own.

    `try_acquire()` takes it if free (and keeps it while the connection lives); `alive()`
    checks, within `timeout` seconds, that the connection (and so the lock) is still there;
    `release()` gives it up and closes the connection.
    """

    def __init__(self, database_url: str, name: str, *, timeout: float = 2.0) -> None:
        self.name = name
        self.key = lease_key(name)
        self._dsn = _asyncpg_dsn(database_url)
        self._timeout = timeout
        self._connection: Any = None

    @property
    def held(self) -> bool:
        return self._connection is not None

    async def try_acquire(self) -> bool:
        import asyncpg

        if self._connection is None:
            self._connection = await asyncpg.connect(
                self._dsn,
                timeout=self._timeout,
                # The holder's process id shows in pg_stat_activity (who sends, who polls).
                server_settings={
                    "application_name": f"debtbot lease {self.name} pid {os.getpid()}"[:63],
                    **_KEEPALIVE,
                },
            )
        try:
            got = await asyncio.wait_for(
                self._connection.fetchval("SELECT pg_try_advisory_lock($1)", self.key),
                self._timeout,
            )
        except Exception:
            await self._drop()
            raise
        return bool(got)

    async def alive(self) -> bool:
        if self._connection is None:
            return False
        try:
            await asyncio.wait_for(self._connection.fetchval("SELECT 1"), self._timeout)
            return True
        except Exception as exc:  # any failure: the lock can no longer be counted on
            warn_unless_outage(log, exc, "lease %s: heartbeat failed (%s)", self.name,
                               type(exc).__name__)
            await self._drop()
            return False

    async def release(self) -> None:
        if self._connection is None:
            return
        with contextlib.suppress(Exception):
            await asyncio.wait_for(
                self._connection.execute("SELECT pg_advisory_unlock_all()"), self._timeout
            )
        await self._drop()

    async def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.terminate()


def _insert(db: AsyncSession | AsyncConnection, table: Any) -> Any:
    bind = db.get_bind() if isinstance(db, AsyncSession) else db
    if bind.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


# ------------------------------------------------------------------------- SQLite: one instance


class AlreadyRunning(RuntimeError):
    """Another `debtbot run` holds this SQLite database."""


def sqlite_lock_path(url: str) -> str | None:
    """The lock file beside a SQLite database file (None for PostgreSQL or in-memory)."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite"):
        return None
    database = parsed.database or ""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return f"{database}.lock"


@contextlib.contextmanager
def single_instance(url: str) -> Iterator[None]:
    """SQLite serves one instance: hold an exclusive lock on `<database>.lock` while running;
    a second process on the same file gets AlreadyRunning. The operating system releases the
    lock when the process ends, however it ends. PostgreSQL: nothing to hold."""
    path = sqlite_lock_path(url)
    if path is None:
        yield
        return
    import fcntl

    handle = open(path, "a+")  # noqa: SIM115 (held for the whole run)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AlreadyRunning(
                f"Another debtbot is already running on {parsed_name(url)}: SQLite serves one "
                "instance (use PostgreSQL, DEBTBOT_DATABASE_URL=postgresql+asyncpg://..., "
                "for several)."
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield
    finally:
        handle.close()


def parsed_name(url: str) -> str:
    return make_url(url).database or url


class FleetRepository(Repository):
    """Updates taken, the send budget and the fleet's counters: the only writer of their
    tables. Also what /readyz and /metrics report of the whole store."""

    __slots__ = ()

    # --- the send budget (PostgreSQL) ------------------------------------------------------

    async def reserve_slots(
        self, *, name: str, count: int, interval: float, lateness: float
    ) -> float:
        """Reserve `count` consecutive sending slots `interval` seconds apart in the budget
        `name`; returns how many seconds from now the first one starts.

        A generic cell rate algorithm in one row: the next free slot moves forward by what
        is reserved. While the fleet sends on, slots that a late wake-up let pass (by
        `lateness` at most) are still handed out, so the rate holds; after a pause the next
        slot is now, so nothing bursts. Times are the database's, so the instances' clocks
        may disagree.
        """
        row = (await self._db.execute(
            text(
                "INSERT INTO send_budget AS b (name, next_at) "
                "VALUES (:name, extract(epoch from clock_timestamp()) + :span) "
                "ON CONFLICT (name) DO UPDATE SET next_at = "
                "CASE WHEN b.next_at >= extract(epoch from clock_timestamp()) - :lateness "
                "THEN b.next_at ELSE extract(epoch from clock_timestamp()) END + :span "
                "RETURNING b.next_at - :span - extract(epoch from clock_timestamp())"
            ),
            {"name": name, "span": count * interval, "lateness": lateness},
        )).scalar_one()
        return float(row)

    async def push_back(self, *, name: str, seconds: float) -> None:
        """Telegram said 429: nobody in the fleet sends from this budget for `seconds`."""
        await self._db.execute(
            text(
                "INSERT INTO send_budget AS b (name, next_at) "
                "VALUES (:name, extract(epoch from clock_timestamp()) + :wait) "
                "ON CONFLICT (name) DO UPDATE SET next_at = "
                "greatest(b.next_at, extract(epoch from clock_timestamp()) + :wait)"
            ),
            {"name": name, "wait": seconds},
        )

    # --- updates taken ---------------------------------------------------------------------

    async def take_update(self, *, update_id: int, now: datetime) -> bool:
        """Record that this update is being processed; False if it already was (by
        anyone)."""
        stmt = (
            _insert(self._db, ProcessedUpdate)
            .values(update_id=update_id, processed_at=now)
            .on_conflict_do_nothing(index_elements=["update_id"])
            .returning(ProcessedUpdate.update_id)
        )
        return (await self._db.execute(stmt)).scalar_one_or_none() is not None

    async def forget_updates_before(self, *, before: datetime, limit: int) -> int:
        """Forget up to `limit` updates taken before `before`; how many."""
        batch = (
            select(ProcessedUpdate.update_id)
            .where(ProcessedUpdate.processed_at < before)
            .limit(limit)
        )
        stmt = (
            delete(ProcessedUpdate)
            .where(ProcessedUpdate.update_id.in_(batch))
            .execution_options(synchronize_session=False)
        )
        return (await self._db.execute(stmt)).rowcount or 0

    # --- counters --------------------------------------------------------------------------

    async def add_to_counter(self, name: str, amount: int = 1) -> None:
        stmt = _insert(self._db, FleetCounter).values(name=name, value=amount)
        stmt = stmt.on_conflict_do_update(
            index_elements=["name"], set_={"value": FleetCounter.value + amount}
        )
        await self._db.execute(stmt)

    async def counters(self) -> dict[str, int]:
        rows = (await self._db.execute(select(FleetCounter.name, FleetCounter.value))).all()
        return {name: int(value) for name, value in rows}

    # --- what /readyz and /metrics report --------------------------------------------------

    async def ping(self) -> None:
        """One round trip: the database answers."""
        await api.ping(self._db)  # type: ignore[arg-type]

    async def outbox_counts(self) -> dict[tuple[str, str], int]:
        """Outbox rows by (purpose, status)."""
        return await api.outbox_counts(self._db)  # type: ignore[arg-type]

    async def verification_counts(self) -> dict[tuple[str, bool], int]:
        """Verification attempts by (method, succeeded)."""
        return await api.verification_counts(self._db)  # type: ignore[arg-type]

    async def recent_failures(
        self, *, since: datetime
    ) -> tuple[dict[int, list[datetime]], dict[str, list[datetime]]]:
        """Failed verification attempts after `since`, by chat and by identifier hash."""
        return await api.recent_failures(self._db, since=since)  # type: ignore[arg-type]
