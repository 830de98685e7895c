"""The database's availability, as an operator wants to read it.

- At start, `wait_for_database` retries with backoff while the server does not answer (one line
  naming host, port and database, never the password), then gives up with `DatabaseUnavailable`.
- While serving, `OUTAGE` turns every failure caused by a lost database into one warning when it
  goes, at most one line a minute while it stays away, and one line when it is back, whoever
  noticed it (the sender, a scheduled job, an HTTP request, a chat update): a lost database is
  one event, not a traceback per attempt. `watch_database` pings it while it is away so that
  "back" is said even when nothing else is running.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger("debtbot.database")

# asyncpg's connection-level failures, by name (the store does not import the driver itself).
_LOST_CONNECTION = {
    "ConnectionDoesNotExistError",
    "ConnectionFailureError",
    "CannotConnectNowError",
    "PostgresConnectionError",
    "ClientCannotConnectError",
    "ConnectionRejectionError",
    "AdminShutdownError",
    "CrashShutdownError",
    "TooManyConnectionsError",
}
# SQLite: the file cannot be reached (not "database is locked", which is contention).
_SQLITE_UNREACHABLE = ("unable to open database file", "disk i/o error")


def _causes(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 10:
        seen.append(current)
        current = current.__cause__ or current.__context__
    for item in list(seen):
        original = getattr(item, "orig", None)
        if isinstance(original, BaseException) and original not in seen:
            seen.append(original)
    return seen


def is_database_outage(exc: BaseException) -> bool:
    """True when `exc` says the database cannot be reached (refused, reset, shut down, DNS),
    as opposed to a query the database refused (a constraint, a lock, bad SQL)."""
    for cause in _causes(exc):
        if isinstance(cause, DBAPIError) and cause.connection_invalidated:
            return True
        if isinstance(cause, DisconnectionError | ConnectionError | TimeoutError):
            return True
        if isinstance(cause, OSError) and not isinstance(cause, FileNotFoundError):
            return True
        if type(cause).__name__ in _LOST_CONNECTION:
            return True
        if isinstance(cause, sqlite3.OperationalError) and any(
            phrase in str(cause).lower() for phrase in _SQLITE_UNREACHABLE
        ):
            return True
        if (isinstance(cause, InterfaceError | OperationalError)
                or type(cause).__name__ == "InterfaceError") and "closed" in str(cause):
            return True  # SQLAlchemy's, or the driver's own "connection is closed"
    return False


def _retryable_at_start(exc: BaseException) -> bool:
    """At start only a server that does not answer yet is worth waiting for; a wrong password,
    a missing database or an unreadable SQLite path will not mend themselves."""
    if any(isinstance(cause, sqlite3.Error) for cause in _causes(exc)):
        return False
    return is_database_outage(exc)


def describe(url: str) -> str:
    """Where the database is, for a log line: host, port and database, never the password."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return f"SQLite file {parsed.database}"
    host = parsed.host or "localhost"
    port = parsed.port or 5432
    return f"PostgreSQL at {host}:{port}, database {parsed.database!r}"


def reason(exc: BaseException) -> str:
    """The innermost cause's type and first line, without parameters or passwords."""
    innermost = _causes(exc)[-1]
    first_line = (str(innermost).strip().splitlines() or [""])[0][:160]
    return f"{type(innermost).__name__}: {first_line}" if first_line else type(innermost).__name__


class DatabaseUnavailable(Exception):
    """The database did not answer at start; the message is the one line to show."""


async def wait_for_database(
    engine: AsyncEngine, url: str, wait_seconds: float, *, sleep: Callable = asyncio.sleep
) -> None:
    """Return once the database answers; retry with backoff (0.5 s doubling to 5 s) for up to
    `wait_seconds`, saying so once; then raise DatabaseUnavailable."""
    deadline = time.monotonic() + wait_seconds
    delay, said = 0.5, False
    while True:
        try:
            async with engine.connect() as connection:
                await connection.execute(text("select 1"))
        except Exception as exc:
            if not _retryable_at_start(exc):
                raise DatabaseUnavailable(
                    f"The {describe(url)} cannot be used: {reason(exc)}. "
                    "Check DEBTBOT_DATABASE_URL."
                ) from None
            left = deadline - time.monotonic()
            if left <= 0:
                raise DatabaseUnavailable(
                    f"The {describe(url)} did not answer within {wait_seconds:g} s "
                    f"({reason(exc)}). Is the server running, and is DEBTBOT_DATABASE_URL right?"
                ) from None
            if not said:
                log.warning(
                    "waiting for the %s (%s); retrying for up to %g s",
                    describe(url), reason(exc), wait_seconds,
                )
                said = True
            await sleep(min(delay, max(left, 0.05)))
            delay = min(delay * 2, 5.0)
            continue
        if said:
            log.info("the %s answers", describe(url))
        return


@dataclass
class OutageLog:
    """One story per outage: lost (warning), still lost (at most every `every` seconds), back."""

    every: float = 60.0
    clock: Callable[[], float] = time.monotonic
    where: str = "database"
    down_since: float | None = None
    failures: int = 0
    _last_line: float = field(default=0.0, repr=False)
    _changed: asyncio.Event | None = field(default=None, repr=False)

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def failed(self, exc: BaseException) -> None:
        now = self.clock()
        self.failures += 1
        if self.down_since is None:
            self.down_since = self._last_line = now
            self.failures = 1
            log.warning("lost the %s (%s); carrying on and retrying", self.where, reason(exc))
            if self._changed is not None:
                self._changed.set()
        elif now - self._last_line >= self.every:
            self._last_line = now
            log.warning(
                "the %s is still unreachable after %d s (%d failed attempts)",
                self.where, now - self.down_since, self.failures,
            )

    def recovered_quietly(self) -> None:
        """Forget an outage without a line (a new process state: tests, a restart)."""
        self.down_since, self.failures = None, 0

    def recovered(self) -> None:
        if self.down_since is None:
            return
        log.warning(
            "the %s is back after %d s (%d failed attempts)",
            self.where, self.clock() - self.down_since, self.failures,
        )
        self.down_since, self.failures = None, 0


# The process's one outage log (one database per process).
OUTAGE = OutageLog()


def warn_unless_outage(logger: logging.Logger, exc: BaseException, message: str,
                       *args: object) -> None:
    """A warning for a failure, unless the database is away: then it is part of OUTAGE's
    story (one line when it goes, at most one a minute, one when it is back)."""
    if is_database_outage(exc):
        OUTAGE.failed(exc)
    else:
        logger.warning(message, *args)


class OutageLogFilter(logging.Filter):
    """A log record about an exception caused by the lost database becomes part of OUTAGE's
    story instead of a traceback (the sender's retries, a scheduled job's failure)."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if error is not None and is_database_outage(error):
            OUTAGE.failed(error)
            return False
        return True


async def watch_database(
    engine: AsyncEngine, url: str, stop: asyncio.Event, *, interval: float = 2.0,
    outage: OutageLog = OUTAGE,
) -> None:
    """While the database is away, ping it every `interval` seconds; say when it is back.
    While it is up, ping every 15 s so an outage is noticed even when nothing else runs."""
    outage.where = describe(url)
    outage._changed = asyncio.Event()
    while not stop.is_set():
        wait = interval if outage.down else 15.0
        stop_task = asyncio.ensure_future(stop.wait())
        change_task = asyncio.ensure_future(outage._changed.wait())
        await asyncio.wait({stop_task, change_task}, timeout=wait,
                           return_when=asyncio.FIRST_COMPLETED)
        for task in (stop_task, change_task):
            task.cancel()
        outage._changed.clear()
        if stop.is_set():
            return
        try:
            async with asyncio.timeout(5):
                async with engine.connect() as connection:
                    await connection.execute(text("select 1"))
        except Exception as exc:
            if is_database_outage(exc):
                outage.failed(exc)
            continue
        outage.recovered()
