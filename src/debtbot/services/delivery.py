"""Where every message stands: per notice, list and broadcast, filterable, as CSV, and the
last 30 days by state and kind (the staff console's delivery pages and dashboard).

States are the outbox's (GOV.UK Notify's): pending ("queued"), sending, sent, failed (with
its reason), blocked, cancelled, dropped.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from debtbot.domain.messages import DeliveryStatus, OutboxPurpose
from debtbot.services.deps import Deps
from debtbot.services.notices import get_notice
from debtbot.store.staff import MessageRow

STATES = tuple(status.value for status in DeliveryStatus)
KINDS = tuple(purpose.value for purpose in OutboxPurpose)
DASHBOARD_DAYS = 30
MAX_ROWS = 100_000


@dataclass(frozen=True, slots=True)
class Filter:
    notice_id: int | None = None
    broadcast_id: int | None = None
    status: str | None = None
    kind: str | None = None
    chat_id: int | None = None

    def __post_init__(self) -> None:
        if self.status is not None and self.status not in STATES:
            object.__setattr__(self, "status", None)
        if self.kind is not None and self.kind not in KINDS:
            object.__setattr__(self, "kind", None)


async def _notice_key(deps: Deps, notice_id: int | None) -> str | None:
    if notice_id is None:
        return None
    return (await get_notice(deps, notice_id=notice_id)).key


async def messages(deps: Deps, chosen: Filter, *, limit: int = 500) -> list[MessageRow]:
    """Newest first."""
    key = await _notice_key(deps, chosen.notice_id)
    return await deps.read(lambda uow: uow.staff.messages(
        notice_key=key, broadcast_id=chosen.broadcast_id, status=chosen.status,
        purpose=chosen.kind, chat_id=chosen.chat_id, limit=max(1, min(limit, MAX_ROWS)),
    ))


async def counts(deps: Deps, chosen: Filter) -> dict[str, int]:
    """Messages by state, for the filter without its state."""
    key = await _notice_key(deps, chosen.notice_id)
    found = await deps.read(lambda uow: uow.staff.message_counts(
        notice_key=key, broadcast_id=chosen.broadcast_id, purpose=chosen.kind,
        chat_id=chosen.chat_id,
    ))
    return {state: found.get(state, 0) for state in STATES}


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    """A cell a spreadsheet will not run as a formula (CWE-1236): `=` `+` `-` `@` (and tab,
    carriage return) at the start get a leading apostrophe."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def messages_csv(rows: Iterable[MessageRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["message", "chat_id", "kind", "state", "attempts", "reason", "queued_at",
                     "sent_at", "broadcast"])
    for row in rows:
        writer.writerow([safe_cell(value) for value in (
            row.id, row.chat_id, row.purpose, row.status, row.attempts, row.last_error or "",
            row.created_at.isoformat() if row.created_at else "",
            row.sent_at.isoformat() if row.sent_at else "",
            row.broadcast_id or "",
        )])
    return "\ufeff" + out.getvalue()  # a BOM, so Excel reads the Greek as UTF-8


@dataclass(frozen=True, slots=True)
class Dashboard:
    days: list[date]
    by_day_state: dict[date, dict[str, int]]
    by_kind_state: dict[str, dict[str, int]]
    depth: dict[str, int]  # queued or sending, by kind
    sent_total: int
    rate_limited: int  # 429s since this process started
    counted: dict[tuple[str, str], int]  # (kind, outcome) since this process started


async def dashboard(deps: Deps) -> Dashboard:
    now = deps.clock()
    first = (now - timedelta(days=DASHBOARD_DAYS - 1)).date()
    since = datetime.combine(first, datetime.min.time(), tzinfo=now.tzinfo)
    async with deps.uow() as uow:
        daily = await uow.staff.daily_counts(since=since)
        everything = await uow.fleet.outbox_counts()
    days = [first + timedelta(days=n) for n in range(DASHBOARD_DAYS)]
    by_day: dict[date, dict[str, int]] = {day: dict.fromkeys(STATES, 0) for day in days}
    by_kind: dict[str, dict[str, int]] = {kind: dict.fromkeys(STATES, 0) for kind in KINDS}
    for day, kind, state, count in daily:
        if day in by_day and state in STATES:
            by_day[day][state] += count
        if kind in by_kind and state in STATES:
            by_kind[kind][state] += count
    depth = dict.fromkeys(KINDS, 0)
    for (kind, state), count in everything.items():
        if state in ("pending", "sending") and kind in depth:
            depth[kind] += count
    counted, rate_limited = deps.counters.snapshot()
    return Dashboard(
        days=days,
        by_day_state=by_day,
        by_kind_state=by_kind,
        depth=depth,
        sent_total=sum(v["sent"] for v in by_day.values()),
        rate_limited=rate_limited,
        counted=counted,
    )
