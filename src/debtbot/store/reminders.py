"""The reminder planner's query: a private detail of OutboxRepository (store.outbox), which
runs it as `uow.outbox.reminder_candidates(...)`.

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
)

from debtbot.domain.debts import Debt, DebtKind
from debtbot.domain.milestones import clock_field
from debtbot.store.mapping import DEBT_COLUMNS, debt_from_row
from debtbot.store.models import Chat, ChatLink, DebtRow, OutboxMessage
from debtbot.store.repository import Executor

OUTSTANDING = "outstanding"
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
    # Day 0 of the kind's clock, as the domain defines it: the column of that name.
    clock_column = DebtRow.__table__.c[clock_field(DebtKind(kind))]
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


async def candidates(db: Executor, *, dialect: str, **criteria: Any) -> list[Candidate]:
    """Run candidates_statement(**criteria)."""
    statement = candidates_statement(**criteria, dialect=dialect)
    rows = (await db.execute(statement)).all()
    found: list[Candidate] = []
    seen: set[tuple[int, int]] = set()
    for row in rows:
        if (row.id, row.chat_id) in seen:  # a debt reachable through two links of one chat
            continue
        seen.add((row.id, row.chat_id))
        found.append(Candidate(row.id, debt_from_row(row), row.chat_id, row.chat_language,
                               bool(row.chat_discreet)))
    return found
