"""The audit log: who did what, when, to how many. Never identity numbers, dates of birth or
phone numbers: callers pass counts and internal ids only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from debtbot.store.models import AuditEntry
from debtbot.store.repository import Repository


async def record(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    subject: str = "",
    count: int = 0,
    details: dict[str, Any] | None = None,
    note: str = "",
    at: datetime | None = None,
) -> AuditEntry:
    """Add one entry in the caller's transaction (it stands or falls with the change)."""
    entry = AuditEntry(
        actor=actor, action=action, subject=subject, count=count, details=details or {}, note=note
    )
    if at is not None:
        entry.at = at
    session.add(entry)
    await session.flush()
    return entry


async def entries(
    session: AsyncSession,
    *,
    action: str | None = None,
    actor: str | None = None,
    since: datetime | None = None,
    limit: int = 50,
) -> list[AuditEntry]:
    """Newest first."""
    query = select(AuditEntry)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    if actor is not None:
        query = query.where(AuditEntry.actor == actor)
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    query = query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)
    return list(await session.scalars(query))


class AuditRepository(Repository):
    """The audit log (audit_log): the only writer of its table."""

    __slots__ = ()

    # -- added for ingest
    async def record(self, *, actor: str, action: str, subject: str = "", count: int = 0,
                     details: dict[str, Any] | None = None, at: datetime | None = None) -> int:
        """Add one entry in the unit of work (it stands or falls with the change); its id."""
        entry = await record(self._db, actor=actor, action=action,  # type: ignore[arg-type]
                             subject=subject, count=count, details=details, at=at)
        return entry.id
