"""The audit log: who did what, when, to how many. Never identity numbers, dates of birth or
phone numbers: callers pass counts and internal ids only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select

from debtbot.store.models import AuditEntry
from debtbot.store.repository import Repository


@dataclass(frozen=True, slots=True)
class AuditRecord:
    id: int
    at: datetime
    actor: str
    action: str
    subject: str
    count: int
    details: dict[str, Any]
    note: str


_COLUMNS = (AuditEntry.id, AuditEntry.at, AuditEntry.actor, AuditEntry.action,
            AuditEntry.subject, AuditEntry.count, AuditEntry.details, AuditEntry.note)


class AuditRepository(Repository):
    """The audit log (audit_log): the only writer of its table."""

    __slots__ = ()

    async def record(
        self,
        *,
        actor: str,
        action: str,
        subject: str = "",
        count: int = 0,
        details: dict[str, Any] | None = None,
        note: str = "",
        at: datetime | None = None,
    ) -> int:
        """Add one entry in the unit of work (it stands or falls with the change); its id.
        Longer labels than the columns hold are cut, never refused."""
        values: dict[str, Any] = {
            "actor": actor[:100], "action": action[:64], "subject": subject[:200],
            "count": count, "details": details or {}, "note": note,
        }
        if at is not None:
            values["at"] = at
        result = await self._db.execute(insert(AuditEntry).values(**values)
                                        .returning(AuditEntry.id))
        return int(result.scalar_one())

    async def entries(
        self,
        *,
        action: str | None = None,
        action_prefix: str | None = None,
        actor: str | None = None,
        since: datetime | None = None,
        limit: int = 50,
    ) -> list[AuditRecord]:
        """Newest first; `action` matches exactly, `action_prefix` as a prefix."""
        query = select(*_COLUMNS)
        if action is not None:
            query = query.where(AuditEntry.action == action)
        if action_prefix is not None:
            query = query.where(AuditEntry.action.startswith(action_prefix, autoescape=True))
        if actor is not None:
            query = query.where(AuditEntry.actor == actor)
        if since is not None:
            query = query.where(AuditEntry.at >= since)
        query = query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)
        return [AuditRecord(row.id, row.at, row.actor, row.action, row.subject, row.count,
                            dict(row.details or {}), row.note or "")
                for row in (await self._db.execute(query)).all()]

    async def delete_before(self, *, before: datetime, limit: int) -> int:
        """Delete up to `limit` entries older than `before` (retention); how many."""
        ids = select(AuditEntry.id).where(AuditEntry.at < before).limit(limit).scalar_subquery()
        result = await self._db.execute(
            delete(AuditEntry).where(AuditEntry.id.in_(ids))
            .execution_options(synchronize_session=False)
        )
        return result.rowcount or 0

