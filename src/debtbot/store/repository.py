"""What every repository is: the statements of one aggregate, run in one unit of work.

A repository is the only writer of its tables. It speaks domain objects (or small frozen
records defined beside it), never SQLAlchemy's rows or ORM instances, so the services above
it need no SQLAlchemy. Its fast paths (driver-level reads, COPY, bulk upserts, what SQLite
needs) are its private details, behind the same methods as the plain path.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

Executor = AsyncSession | AsyncConnection


class Repository:
    """Bound to the unit of work's session (a transaction), or, for `Store.read` and
    `Store.write_once`, to one connection that commits each statement on its own: then only
    statements run (`self._db.execute`), no ORM session features."""

    __slots__ = ("_db",)

    def __init__(self, db: Executor) -> None:
        self._db = db
