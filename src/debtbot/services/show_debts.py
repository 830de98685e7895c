"""What a verified chat owes: each outstanding debt with the amount due now (the surcharge
apart, with its legal basis), the next deadline and what happens then, a Pay link where it
can be paid now, and totals. Nothing at all for a chat that has proven no identity.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from urllib.parse import quote, urlsplit

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
from debtbot.services.deps import Deps
from debtbot.settings import Settings
from debtbot.store.chats import ChatDebts, OwedDebt


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


def _line(
    settings: Settings, rulebook: Rulebook, owed: OwedDebt, holder_name: str, now: datetime
) -> DebtLine:
    debt = owed.debt
    due = registry_amount_due(debt, now, rulebook=rulebook)
    no_clock = clock_date(debt) is None and debt.kind in _CLOCKED_KINDS
    pay = due.payable and not due.prosecution and not (
        no_clock and debt.kind is DebtKind.OUT_OF_COURT_FINE
    )
    kind = debt.kind.value
    return DebtLine(
        debt_id=owed.debt_id,
        kind=kind,
        reference=debt.reference,
        authority=debt.authority,
        holder_name=holder_name,
        served_on=debt.served_on,
        due=due,
        next_milestone=registry_next_milestone(debt, now, rulebook=rulebook),
        pay_url=payment_url(settings, kind=kind, reference=debt.reference) if pay else None,
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


async def _holders(deps: Deps, chat_id: int) -> tuple[dict[int, str], dict[int, str]]:
    persons: dict[int, str] = {}
    companies: dict[int, str] = {}
    for identity in await deps.read(lambda uow: uow.chats.identities(chat_id)):
        if identity.company_id is not None:
            companies[identity.company_id] = identity.name
        elif identity.person_id is not None:
            persons[identity.person_id] = identity.name
    return persons, companies


def _holder_name(owed: OwedDebt, persons: dict[int, str], companies: dict[int, str]) -> str:
    if owed.company_id is not None and owed.company_id in companies:
        return companies[owed.company_id]
    return persons.get(owed.person_id or 0, "")


def _belongs(owed: OwedDebt, persons: dict[int, str], companies: dict[int, str]) -> bool:
    # A company's debt goes to a chat that verified the company itself (or the person the
    # registry names as its debtor), never to a representative who did not verify it.
    return (owed.company_id is not None and owed.company_id in companies) or (
        owed.person_id is not None and owed.person_id in persons
    )


def _sort_key(line: DebtLine) -> tuple[int, datetime | float, str]:
    upcoming = line.next_milestone
    return (0, upcoming.takes_effect, line.reference) if upcoming else (1, 0.0, line.reference)


def report(settings: Settings, rulebook: Rulebook, found: ChatDebts, now: datetime) -> DebtReport:
    """Every outstanding debt of the chat's verified identities (`found`, read with the
    chat: services.chats.touch_chat), soonest deadline first."""
    # Every /debts builds this: one statement's rows straight to domain objects (no ORM).
    if not (found.persons or found.companies):
        return DebtReport(verified=False, lines=[], total_due=ZERO, total_payable_now=ZERO)
    persons, companies = found.persons, found.companies
    lines = [
        _line(settings, rulebook, owed, _holder_name(owed, persons, companies), now)
        for owed in found.debts
    ]
    lines.sort(key=_sort_key)
    # A fine past its out-of-court window has no amount the citizen can pay any more (the
    # court sets what follows): it is listed, but not added to the totals.
    total_due = sum((line.due.total for line in lines if not line.due.prosecution), ZERO)
    payable = sum((line.due.total for line in lines if line.pay_url_allowed), ZERO)
    return DebtReport(verified=True, lines=lines, total_due=total_due, total_payable_now=payable)


async def _owed(deps: Deps, chat_id: int, debt_id: int
                ) -> tuple[OwedDebt | None, dict[int, str], dict[int, str]]:
    persons, companies = await _holders(deps, chat_id)
    if not persons and not companies:
        return None, persons, companies
    owed = await deps.read(lambda uow: uow.chats.debt(debt_id))
    if owed is None or not _belongs(owed, persons, companies):
        return None, persons, companies
    return owed, persons, companies


async def debt_for_chat(deps: Deps, *, chat_id: int, debt_id: int) -> DebtLine | None:
    """One outstanding debt, only if it belongs to an identity the chat has verified."""
    now = deps.clock()
    owed, persons, companies = await _owed(deps, chat_id, debt_id)
    if owed is None or not owed.debt.is_open:
        return None
    return _line(deps.settings, deps.rulebook, owed, _holder_name(owed, persons, companies), now)


class CalendarRefusal(StrEnum):
    NOT_FOUND = "not_found"  # not this chat's (or no such debt)
    CLOSED = "closed"  # paid, cancelled or withdrawn: nothing to add
    NO_DEADLINES = "no_deadlines"  # no clock runs, or every deadline has passed


async def debt_for_calendar(
    deps: Deps, *, chat_id: int, debt_id: int
) -> DebtLine | CalendarRefusal:
    """One of the chat's debts with deadlines still ahead, for a calendar file."""
    now = deps.clock()
    owed, persons, companies = await _owed(deps, chat_id, debt_id)
    if owed is None:
        return CalendarRefusal.NOT_FOUND
    if not owed.debt.is_open:
        return CalendarRefusal.CLOSED
    line = _line(deps.settings, deps.rulebook, owed, _holder_name(owed, persons, companies), now)
    if line.no_clock or not upcoming_milestones(line):
        return CalendarRefusal.NO_DEADLINES
    return line


def upcoming_milestones(line: DebtLine) -> tuple[Milestone, ...]:
    """The milestones that have not taken effect yet."""
    upcoming = line.next_milestone
    if upcoming is None:
        return ()
    return tuple(m for m in line.milestones if m.takes_effect >= upcoming.takes_effect)
