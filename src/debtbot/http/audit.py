"""The audit log through the API (scope `read`): newest first, filtered by time, action and
actor. Entries carry internal ids and counts only, never identity numbers.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, RootModel, StringConstraints

from debtbot.domain.calendar import start_of_day
from debtbot.http.base import FIRST_DAY, LAST_DAY, Call, Operation, Query, Reply
from debtbot.services import audit

_SINCE_PATTERN = (
    r"^(19[0-9]{2}|20[0-9]{2})-[0-9]{2}-[0-9]{2}"
    r"(T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2}))?$"
)


def _since(raw: str) -> datetime:
    """A date means from 00:00 Nicosia time that day; a date-time must carry its offset."""
    if "T" not in raw:
        day = date.fromisoformat(raw)
        if not FIRST_DAY <= day <= LAST_DAY:
            raise ValueError("date must be between 1900-01-01 and 2099-12-31")
        return start_of_day(day)
    moment = datetime.fromisoformat(raw)
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("date-time must carry a time zone offset")
    if not FIRST_DAY <= moment.date() <= LAST_DAY:
        raise ValueError("date must be between 1900-01-01 and 2099-12-31")
    return moment


def _whole_number(raw: Any) -> Any:
    """Only digits (and a sign): "5.0", " 5" or "5_0" are not integers here."""
    if isinstance(raw, str) and not re.fullmatch(r"-?[0-9]{1,10}", raw):
        raise ValueError("not an integer")
    return raw


Since = Annotated[str, StringConstraints(pattern=_SINCE_PATTERN), AfterValidator(_since)]
Action = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
]
ActorLabel = Annotated[
    str, StringConstraints(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$")
]


class AuditQuery(Query):
    since: Since | None = Field(
        None, description="ISO date (from 00:00 Nicosia time) or date-time with offset"
    )
    action: Action | None = Field(
        None, description='exact action, or a prefix ending in "." (e.g. "broadcast.")'
    )
    actor: ActorLabel | None = Field(
        None, description='exact actor, e.g. "token:3", "staff:12345", "cli"'
    )
    limit: Annotated[int, BeforeValidator(_whole_number), Field(ge=1, le=audit.MAX_LIMIT)] = Field(
        100, description="at most this many entries (1-1000)"
    )


class AuditEntryOut(Reply):
    at: datetime
    actor: str
    action: str
    subject: str
    count: int
    details: dict[str, Any]


class AuditEntries(RootModel[list[AuditEntryOut]]):
    pass


async def list_audit(call: Call) -> AuditEntries:
    """The audit log, newest first."""
    query: AuditQuery = call.query
    entries = await audit.list_entries(
        call.deps, since=query.since, action=query.action, actor=query.actor, limit=query.limit
    )
    return AuditEntries([
        AuditEntryOut(at=entry.at, actor=entry.actor, action=entry.action, subject=entry.subject,
                      count=entry.count, details=entry.details)
        for entry in entries
    ])


OPERATIONS = [
    Operation(
        "GET", "/api/audit", "listAudit", "Read the audit log (newest first)", "audit",
        list_audit, AuditEntries, scope="read", query=AuditQuery,
        description=(
            "Who did what, when, to how many recipients. Filter with `since` (an ISO date, "
            "meaning from 00:00 Nicosia time, or a date-time with offset), `action` (exact, or "
            'a prefix ending in ".", e.g. `broadcast.`), `actor`; `limit` 1-1000 (default 100).'
        ),
    ),
]
