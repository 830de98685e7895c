"""The audit log: every staff action and every API call that changes something — who, what,
when, how many recipients. Never identity numbers, dates of birth or phone numbers: callers
pass internal ids ("person:12", "chat:34", "broadcast:5") and counts.

API:
    In a unit of work, so the entry stands or falls with the change:
        await uow.audit.record(actor=..., action=..., subject="", count=0, details=None)
        actor: "staff:<telegram_user_id>", "cli", "token:<api token id>", "chat:<id>".
    async def record_now(deps, *, actor, action, subject="", count=0, details=None) -> None
        in a unit of work of its own (for a change made elsewhere).
    @dataclass(frozen=True) AuditView(id: int, at: datetime, actor: str, action: str,
        subject: str, count: int, details: dict)
    async def list_entries(deps, *, since: datetime | None = None, action: str | None = None,
        actor: str | None = None, limit: int = 100) -> list[AuditView]        newest first;
        `action` matches exactly, or as a prefix when it ends with "." ("broadcast.").

Kept for settings.audit_retention_days (see services.retention), longer than messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from debtbot.services.deps import Deps

MAX_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class AuditView:
    id: int
    at: datetime
    actor: str
    action: str
    subject: str
    count: int
    details: dict[str, Any]


async def record_now(
    deps: Deps,
    *,
    actor: str,
    action: str,
    subject: str = "",
    count: int = 0,
    details: dict[str, Any] | None = None,
) -> None:
    """Add one entry in a unit of work of its own."""
    async with deps.uow() as uow:
        await uow.audit.record(
            actor=actor, action=action, subject=subject, count=count, details=details
        )


async def list_entries(
    deps: Deps,
    *,
    since: datetime | None = None,
    action: str | None = None,
    actor: str | None = None,
    limit: int = 100,
) -> list[AuditView]:
    """Newest first."""
    limit = max(1, min(int(limit), MAX_LIMIT))
    prefix = bool(action and action.endswith("."))
    rows = await deps.read(lambda uow: uow.audit.entries(
        action=None if prefix else action, action_prefix=action if prefix else None,
        actor=actor, since=since, limit=limit,
    ))
    return [
        AuditView(id=row.id, at=row.at, actor=row.actor, action=row.action,
                  subject=row.subject, count=row.count, details=row.details)
        for row in rows
    ]
