"""The reminder planner's queries, and the chat's reminder preferences.

The planner never loops over debts in Python: for one (debt kind, milestone, lead time) it
asks for the open debts whose clock date lies in the given ranges, joined to the chats that
may hear about them (active, reminders on, kind not muted, not snoozed), minus the reminders
already in the outbox (an anti-join on the outbox's unique key). Only what is left comes
back to Python, to be checked against the domain and rendered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    String,
    Text,
    and_,
    cast,
    exists,
    func,
    literal,
    not_,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from debtbot.domain.debts import Debt
from debtbot.domain.messages import DeliveryStatus, OutboxPurpose
from debtbot.store.mapping import DEBT_COLUMNS, debt_from_row
from debtbot.store.models import Chat, ChatLink, DebtRow, OutboxMessage, PlannerState

OUTSTANDING = "outstanding"
PLANNER = "reminders"
KEY_PREFIX = "reminder"



def reminder_key(debt_id: int, milestone: str, lead_days: int, chat_id: int) -> str:
    """The outbox key of one reminder: planning it again finds the key and does nothing."""
    return f"{KEY_PREFIX}:{debt_id}:{milestone}:{lead_days}:{chat_id}"


@dataclass(frozen=True, slots=True)
class Candidate:
    debt_id: int
    debt: Debt
    chat_id: int
    language: str
    discreet: bool


def _chat_may_hear(kind: str, now: datetime, audience: str = "reminders") -> Any:
    # muted_kinds is a JSON list of kind names; its text contains "kind" with the quotes
    # exactly when the kind is muted (kind names hold no quotes). Same SQL on both backends.
    # audience "news": the chat's switch for news (issue #16) instead of the reminders one.
    muted_text = func.coalesce(cast(Chat.muted_kinds, Text), "")
    switch = Chat.news_enabled if audience == "news" else Chat.reminders_enabled
    return and_(
        Chat.active.is_(True),
        switch.is_(True),
        or_(Chat.snoozed_until.is_(None), Chat.snoozed_until <= now),
        not_(muted_text.like(f'%"{kind}"%')),
    )


def candidates_statement(
    *,
    kind: str,
    clock: str,
    ranges: Sequence[tuple[date, date]] = (),
    dates: Sequence[date] = (),
    milestone: str,
    lead_days: int,
    now: datetime,
    skip_planned: bool = True,
    dialect: str = "postgresql",
    audience: str = "reminders",
    registry_column: str | None = None,
    registry_range: tuple[date, date] | None = None,
) -> Any:
    """One query: the open debts of `kind` whose clock date is in the ranges (a MATERIALIZED
    CTE, so the database starts from that index range and not from millions of links), then
    UNION ALL of debts held by a person and debts of a company, each joined through
    chat_links to the chats that may be told, minus the reminders already planned."""
    clock_column = DebtRow.due_on if clock == "due_on" else DebtRow.served_on
    windows = [clock_column.between(low, high) for low, high in ranges]
    if dates:
        windows.append(clock_column.in_(list(dates)))
    if registry_column is not None:
        # The registry's own date for this milestone wins: a debt that has one is found by it,
        # not by its clock date.
        registry = DebtRow.__table__.c[registry_column]
        windows = [and_(or_(*windows) if windows else literal(False), registry.is_(None))]
        if registry_range is not None:
            windows.append(registry.between(*registry_range))
    due = (
        select(*DEBT_COLUMNS, DebtRow.person_id, DebtRow.company_id)
        .where(
            DebtRow.kind == kind,
            DebtRow.status == OUTSTANDING,
            or_(*windows) if windows else literal(False),
        )
        .cte("due_debts")
        .prefix_with("MATERIALIZED")
    )
    columns = (
        *(due.c[column.key] for column in DEBT_COLUMNS),
        Chat.id.label("chat_id"),
        Chat.language.label("chat_language"),
        Chat.discreet.label("chat_discreet"),
    )
    conditions = [_chat_may_hear(kind, now, audience)]
    if skip_planned:
        key = (
            literal(f"{KEY_PREFIX}:", String)
            + cast(due.c.id, String)
            + literal(f":{milestone}:{lead_days}:", String)
            + cast(Chat.id, String)
        )
        conditions.append(not_(exists().where(OutboxMessage.dedupe_key == key)))
    # On SQLite "company_id IS NULL" must not look like an index lookup (coalesce hides it),
    # or SQLite may start from every person link. PostgreSQL estimates the plain test well.
    person_link = (func.coalesce(ChatLink.company_id, 0) == 0 if dialect == "sqlite"
                   else ChatLink.company_id.is_(None))
    by_person = (
        select(*columns)
        .select_from(due)
        .join(ChatLink, and_(ChatLink.person_id == due.c.person_id, person_link))
        .join(Chat, Chat.id == ChatLink.chat_id)
        .where(due.c.person_id.is_not(None), *conditions)
    )
    by_company = (
        select(*columns)
        .select_from(due)
        .join(ChatLink, ChatLink.company_id == due.c.company_id)
        .join(Chat, Chat.id == ChatLink.chat_id)
        .where(due.c.company_id.is_not(None), *conditions)
    )
    return union_all(by_person, by_company)


async def candidates(session: AsyncSession, **criteria: Any) -> list[Candidate]:
    """Run candidates_statement(**criteria) on the session's database."""
    statement = candidates_statement(**criteria, dialect=session.get_bind().dialect.name)
    rows = (await session.execute(statement)).all()
    found: list[Candidate] = []
    seen: set[tuple[int, int]] = set()
    for row in rows:
        if (row.id, row.chat_id) in seen:  # a debt reachable through two links of one chat
            continue
        seen.add((row.id, row.chat_id))
        found.append(Candidate(row.id, debt_from_row(row), row.chat_id, row.chat_language,
                               bool(row.chat_discreet)))
    return found


# ----------------------------------------------------------------------------- planner state


async def begin_sweep(session: AsyncSession, *, now: datetime) -> datetime | None:
    """Start a sweep: returns how far the previous sweep planned (None on the first).

    The first statement writes, so on SQLite the transaction holds the write lock from the
    start instead of failing to upgrade a read lock later.
    """
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    created = await session.execute(
        insert(PlannerState)
        .values(name=PLANNER, planned_until=now)
        .on_conflict_do_nothing(index_elements=["name"])
        .returning(PlannerState.name)
    )
    if created.scalar_one_or_none() is not None:
        return None
    return (
        await session.execute(
            select(PlannerState.planned_until).where(PlannerState.name == PLANNER)
        )
    ).scalar_one()


async def end_sweep(session: AsyncSession, *, now: datetime) -> None:
    await session.execute(
        update(PlannerState)
        .where(PlannerState.name == PLANNER, PlannerState.planned_until < now)
        .values(planned_until=now)
    )


# ----------------------------------------------------------------------------- preferences


async def linked_kinds(session: AsyncSession, chat_id: int) -> list[str]:
    """The kinds of open debt the chat's identities hold (what /reminders offers to mute)."""
    person = (
        select(DebtRow.kind)
        .join(ChatLink, and_(ChatLink.person_id == DebtRow.person_id,
                             ChatLink.company_id.is_(None)))
        .where(ChatLink.chat_id == chat_id, DebtRow.status == OUTSTANDING)
    )
    company = (
        select(DebtRow.kind)
        .join(ChatLink, ChatLink.company_id == DebtRow.company_id)
        .where(ChatLink.chat_id == chat_id, DebtRow.status == OUTSTANDING)
    )
    rows = (await session.execute(union_all(person, company))).scalars()
    return sorted(set(rows))


async def cancel_pending_reminders(
    session: AsyncSession, chat_id: int, *, kind: str | None = None, reason: str
) -> int:
    """The chat muted a kind, snoozed, or turned reminders off: what is pending stays unsent."""
    conditions = [
        OutboxMessage.chat_id == chat_id,
        OutboxMessage.purpose == OutboxPurpose.REMINDER.value,
        OutboxMessage.status == DeliveryStatus.PENDING.value,
    ]
    if kind is not None:
        conditions.append(
            OutboxMessage.debt_id.in_(select(DebtRow.id).where(DebtRow.kind == kind))
        )
    result = await session.execute(
        update(OutboxMessage)
        .where(*conditions)
        .values(status=DeliveryStatus.CANCELLED.value, last_error=reason[:300])
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


async def cancel_pending_news(session: AsyncSession, chat_id: int, *, reason: str) -> int:
    """The chat turned news off: the news queued for it stays unsent (issue #16)."""
    result = await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.chat_id == chat_id,
            OutboxMessage.purpose == OutboxPurpose.REMINDER.value,
            OutboxMessage.status.in_([DeliveryStatus.PENDING.value, "held"]),
            or_(OutboxMessage.dedupe_key.like("news:%"),
                OutboxMessage.dedupe_key.like(f"{KEY_PREFIX}:%:passed.%")),
        )
        .values(status=DeliveryStatus.CANCELLED.value, last_error=reason[:300])
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


# ----------------------------------------------------------------------------- preview


async def pending_reminders(
    session: AsyncSession, *, start: datetime, end: datetime
) -> list[tuple[str, str, int]]:
    """(kind, language, count) of reminders already queued to go out in [start, end)."""
    statement = (
        select(DebtRow.kind, Chat.language, func.count())
        .select_from(OutboxMessage)
        .join(DebtRow, DebtRow.id == OutboxMessage.debt_id)
        .join(Chat, Chat.id == OutboxMessage.chat_id)
        .where(
            OutboxMessage.purpose == OutboxPurpose.REMINDER.value,
            OutboxMessage.status == DeliveryStatus.PENDING.value,
            OutboxMessage.not_before >= start,
            OutboxMessage.not_before < end,
        )
        .group_by(DebtRow.kind, Chat.language)
    )
    return [(kind, language, count) for kind, language, count in await session.execute(statement)]
