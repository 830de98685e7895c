"""What a verified chat owes: each outstanding debt with the amount due now (the surcharge
apart, with its legal basis), the next deadline and what happens then, a Pay link where it
can be paid now, and totals. Nothing at all for a chat that has proven no identity.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache, partial
from typing import Any
from urllib.parse import quote, urlsplit

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from debtbot.domain.amounts import AmountDue
from debtbot.domain.calendar import local_date
from debtbot.domain.debts import Debt, DebtKind
from debtbot.domain.milestones import Milestone, clock_date
from debtbot.domain.money import ZERO
from debtbot.domain.registry_dates import (
    registry_amount_due,
    registry_milestones,
    registry_next_milestone,
)
from debtbot.domain.rules import DEFAULT_RULEBOOK, Rulebook
from debtbot.i18n import language_from_telegram
from debtbot.services import chats
from debtbot.services.chats import ChatView
from debtbot.services.deps import Deps
from debtbot.settings import Settings
from debtbot.store import citizens
from debtbot.store import debts as debt_store
from debtbot.store.db import read, transaction, write_once
from debtbot.store.mapping import debt_from_row
from debtbot.store.models import DebtRow


@dataclass(frozen=True, slots=True)
class DebtLine:
    debt_id: int
    kind: str
    reference: str
    authority: str
    holder_name: str
    served_on: date | None
    due: AmountDue
    next_milestone: Milestone | None
    pay_url: str | None  # None: not payable now, or no allowed payment page for its kind
    debt: Debt | None = None  # the whole debt, for the detail view
    today: date | None = None  # the local day the line was worked out on
    # An out-of-court fine whose service date the registry has not recorded: no clock runs,
    # so the bot can tell neither whether payment has opened (note 1) nor whether the
    # surcharge applies (note 3): no deadline, no Pay button.
    no_clock: bool = False
    rulebook: Rulebook = field(default=DEFAULT_RULEBOOK, repr=False, compare=False)

    @property
    def pay_url_allowed(self) -> bool:
        """Payable now, as far as the bot can tell (what the Pay button and totals use)."""
        due = self.due
        return due.payable and not due.prosecution and not (
            self.no_clock and self.kind == DebtKind.OUT_OF_COURT_FINE.value
        )

    @property
    def milestones(self) -> tuple[Milestone, ...]:
        return () if self.debt is None else registry_milestones(self.debt, rulebook=self.rulebook)


@dataclass(frozen=True, slots=True)
class DebtReport:
    verified: bool
    lines: list[DebtLine]
    total_due: Decimal  # every line still payable out of court, now or later
    total_payable_now: Decimal  # the lines that can be paid today


def payment_url(settings: Settings, *, kind: str, reference: str) -> str | None:
    """The kind's payment page with the reference filled in (URL-quoted), or None when there
    is no template or the result is not https on a host in settings.payment_hosts."""
    template = settings.payment_url_templates.get(str(kind))
    if not template or "{reference}" not in template:
        return None
    url = template.replace("{reference}", quote(reference, safe=""))
    hosts = tuple(settings.payment_hosts)
    if _HOST_CLOSED.match(template.partition("{reference}")[0]):
        # The reference lands after the host, and quoted it holds no / ? # @ or colon: the
        # verdict is the template's alone, worked out once (every line of every report asks).
        return url if _template_allowed(template, hosts) else None
    return url if _allowed(url, hosts) else None


# A scheme, "//" and an authority already ended by / ? or #.
_HOST_CLOSED = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*[/?#]")


@lru_cache(maxsize=64)
def _template_allowed(template: str, hosts: tuple[str, ...]) -> bool:
    return _allowed(template.replace("{reference}", ""), hosts)


def _allowed(url: str, hosts: tuple[str, ...]) -> bool:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    allowed = {host.strip().lower().rstrip(".") for host in hosts}
    host = (parts.hostname or "").lower().rstrip(".")
    if parts.scheme != "https" or parts.username or parts.password or port not in (None, 443):
        return False
    return bool(host) and host in allowed


# A chat's rows come back unchanged on every /debts and page button: building a Debt (enums,
# Decimal) costs more than hashing the row's values.
@lru_cache(maxsize=4096)
def _debt(row: Row[Any]) -> Debt:
    return debt_from_row(row)  # type: ignore[arg-type]


def _line(
    settings: Settings,
    rulebook: Rulebook,
    row: DebtRow | Row[Any],
    holder_name: str,
    now: datetime,
    debt: Debt | None = None,
) -> DebtLine:
    if debt is None:
        debt = debt_from_row(row)  # type: ignore[arg-type]
    due = registry_amount_due(debt, now, rulebook=rulebook)
    no_clock = clock_date(debt) is None and debt.kind in _CLOCKED_KINDS
    pay = due.payable and not due.prosecution and not (
        no_clock and debt.kind is DebtKind.OUT_OF_COURT_FINE
    )
    return DebtLine(
        debt_id=row.id,
        kind=row.kind,
        reference=row.reference,
        authority=row.authority,
        holder_name=holder_name,
        served_on=row.served_on,
        due=due,
        next_milestone=registry_next_milestone(debt, now, rulebook=rulebook),
        pay_url=payment_url(settings, kind=row.kind, reference=row.reference) if pay else None,
        debt=debt,
        today=local_date(now, settings.tz),
        no_clock=no_clock,
        rulebook=rulebook,
    )


# Kinds whose legal clock starts when the notice is served (or, for tax, on its due date); a
# warrant has no statutory countdown.
_CLOCKED_KINDS = frozenset(
    {DebtKind.OUT_OF_COURT_FINE, DebtKind.ADMIN_FINE, DebtKind.CUSTOMS, DebtKind.TAX}
)


async def _holders(
    session: AsyncSession, chat_id: int
) -> tuple[dict[int, str], dict[int, str]]:
    persons: dict[int, str] = {}
    companies: dict[int, str] = {}
    for identity in await citizens.linked_identities(session, chat_id):
        if identity.company_id is not None:
            companies[identity.company_id] = identity.name
        elif identity.person_id is not None:
            persons[identity.person_id] = identity.name
    return persons, companies


def _holder_name(
    row: DebtRow | Row[Any], persons: dict[int, str], companies: dict[int, str]
) -> str:
    if row.company_id is not None and row.company_id in companies:
        return companies[row.company_id]
    return persons.get(row.person_id or 0, "")


def _belongs(
    row: DebtRow | Row[Any], persons: dict[int, str], companies: dict[int, str]
) -> bool:
    # A company's debt goes to a chat that verified the company itself (or the person the
    # registry names as its debtor), never to a representative who did not verify it.
    return (row.company_id is not None and row.company_id in companies) or (
        row.person_id is not None and row.person_id in persons
    )


def _sort_key(line: DebtLine) -> tuple[int, datetime | float, str]:
    upcoming = line.next_milestone
    return (0, upcoming.takes_effect, line.reference) if upcoming else (1, 0.0, line.reference)


async def debts_for_chat(deps: Deps, *, chat_id: int) -> DebtReport:
    """Every outstanding debt of the chat's verified identities, soonest deadline first."""
    now = deps.clock()
    found = await read(deps.sessions, partial(citizens.chat_debts, chat_id=chat_id))
    return _report(deps.settings, deps.rulebook, found, now)


async def debts_on_update(
    deps: Deps, *, chat_id: int, language_code: str | None
) -> tuple[ChatView, DebtReport]:
    """touch_chat and debts_for_chat: what /debts does on every update."""
    now = deps.clock()
    # This runs on every /debts: one statement, outside any transaction, when nothing
    # changes (the chat seen lately); the write, when due, comes after in its own.
    record, found = await read(deps.sessions, partial(citizens.chat_and_debts, chat_id=chat_id))
    if record is not None and citizens.needs_touch(record, now):
        await write_once(deps.sessions, partial(citizens.mark_seen, chat_id=chat_id, now=now))
        record = replace(record, active=True, last_seen_at=now)
    elif record is None:  # first contact: the chat is created, in its own transaction
        async with transaction(deps.sessions) as session:
            record = await citizens.touch_record(
                session, record, chat_id=chat_id,
                language=language_from_telegram(language_code), now=now,
            )
    assert record is not None
    return chats.chat_view(record), _report(deps.settings, deps.rulebook, found, now)


def _report(settings: Settings, rulebook: Rulebook, found: citizens.ChatDebts | None, now: datetime) -> DebtReport:
    # Every /debts builds this: one statement's rows straight to domain objects (no ORM).
    if found is None or not (found.persons or found.companies):
        return DebtReport(verified=False, lines=[], total_due=ZERO, total_payable_now=ZERO)
    persons, companies = found.persons, found.companies
    lines = [
        _line(settings, rulebook, row, _holder_name(row, persons, companies), now, _debt(row))
        for row in found.rows
    ]
    lines.sort(key=_sort_key)
    # A fine past its out-of-court window has no amount the citizen can pay any more (the
    # court sets what follows): it is listed, but not added to the totals.
    total_due = sum((line.due.total for line in lines if not line.due.prosecution), ZERO)
    payable = sum((line.due.total for line in lines if line.pay_url_allowed), ZERO)
    return DebtReport(verified=True, lines=lines, total_due=total_due, total_payable_now=payable)


async def debt_for_chat(deps: Deps, *, chat_id: int, debt_id: int) -> DebtLine | None:
    """One outstanding debt, only if it belongs to an identity the chat has verified."""
    now = deps.clock()
    async with transaction(deps.sessions) as session:
        persons, companies = await _holders(session, chat_id)
        if not persons and not companies:
            return None
        row = await debt_store.debt_by_id(session, debt_id)
    if row is None or not _belongs(row, persons, companies):
        return None
    if not debt_from_row(row).is_open:
        return None
    return _line(deps.settings, deps.rulebook, row, _holder_name(row, persons, companies), now)


class CalendarRefusal(StrEnum):
    NOT_FOUND = "not_found"  # not this chat's (or no such debt)
    CLOSED = "closed"  # paid, cancelled or withdrawn: nothing to add
    NO_DEADLINES = "no_deadlines"  # no clock runs, or every deadline has passed


async def debt_for_calendar(
    deps: Deps, *, chat_id: int, debt_id: int
) -> DebtLine | CalendarRefusal:
    """One of the chat's debts with deadlines still ahead, for a calendar file."""
    now = deps.clock()
    async with transaction(deps.sessions) as session:
        persons, companies = await _holders(session, chat_id)
        row = await debt_store.debt_by_id(session, debt_id) if persons or companies else None
    if row is None or not _belongs(row, persons, companies):
        return CalendarRefusal.NOT_FOUND
    if not debt_from_row(row).is_open:
        return CalendarRefusal.CLOSED
    line = _line(deps.settings, deps.rulebook, row, _holder_name(row, persons, companies), now)
    if line.no_clock or not upcoming_milestones(line):
        return CalendarRefusal.NO_DEADLINES
    return line


def upcoming_milestones(line: DebtLine) -> tuple[Milestone, ...]:
    """The milestones that have not taken effect yet."""
    upcoming = line.next_milestone
    if upcoming is None:
        return ()
    return tuple(m for m in line.milestones if m.takes_effect >= upcoming.takes_effect)
