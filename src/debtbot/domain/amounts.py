"""How much a debt costs at a given moment, and whether it can still be paid.

The registry's amount is never recomputed (Regulations 2021, Type E note 5); the only
additions are the surcharges the law sets, each labelled with its legal basis. Between two
milestones nothing changes, so each clock's phases are computed once and `amount_due` is a
binary search over the milestones' instants; for fines, whose clocks are built per amount,
every phase's result is computed once per clock.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache

from debtbot.domain.calendar import local_date
from debtbot.domain.debts import Debt
from debtbot.domain.legal import Basis
from debtbot.domain.milestones import Clock, MilestoneKind, clock, surcharged
from debtbot.domain.money import ZERO, to_cents
from debtbot.domain.rules import DEFAULT_RULEBOOK, Rulebook

DAYS_PER_YEAR = Decimal(365)


@dataclass(frozen=True, slots=True)
class AmountDue:
    base: Decimal  # the registry's amount
    surcharge: Decimal
    total: Decimal  # base + surcharge (+ interest where a rate is set)
    surcharge_basis: Basis | None
    payable: bool  # can be paid now (out of court / online)
    payable_from: datetime | None  # set while not payable YET (Type E note 1)
    prosecution: bool  # past the out-of-court window (note 4): offer no payment link
    clock_running: bool  # False: no date of service / due date, or no statutory clock
    interest: Decimal = ZERO  # customs art. 52(3), only when a yearly rate is configured
    interest_basis: Basis | None = None


@dataclass(frozen=True, slots=True)
class _Phase:
    # What holds between two milestones, before the amount is known.
    rate: Decimal
    basis: Basis | None
    payable: bool
    payable_from: datetime | None
    prosecution: bool


@lru_cache(maxsize=1 << 14)
def _phases(found: Clock) -> tuple[_Phase, ...]:
    # phases[i] holds once the first i milestones have taken effect.
    rate, basis = found.opening_rate, found.opening_basis
    payable, payable_from, prosecution = True, None, False
    for milestone in found.milestones:
        if milestone.kind is MilestoneKind.PAYABLE_FROM:  # Type E note 1: not payable yet
            payable, payable_from = False, milestone.takes_effect
    phases = [_Phase(rate, basis, payable, payable_from, prosecution)]
    for milestone, surcharge_rate in zip(found.milestones, found.rates, strict=True):
        if milestone.kind is MilestoneKind.PAYABLE_FROM:
            payable, payable_from = not prosecution, None
        if surcharge_rate is not None:
            rate, basis = surcharge_rate, milestone.legal_basis
        if not milestone.payable_after:
            payable = False
            prosecution = prosecution or milestone.kind is MilestoneKind.PROSECUTION
        phases.append(_Phase(rate, basis, payable, payable_from, prosecution))
    return tuple(phases)


def _due(found: Clock, amount: Decimal, index: int) -> AmountDue:
    phase = _phases(found)[index]
    base = to_cents(amount)
    surcharge = surcharged(base, phase.rate, up=found.round_up) if phase.rate else ZERO
    return AmountDue(base, surcharge, base + surcharge, phase.basis, phase.payable,
                     phase.payable_from, phase.prosecution, bool(found.milestones))


@lru_cache(maxsize=1 << 16)
def _dues(found: Clock) -> tuple[AmountDue, ...]:
    # A clock built per amount (fines): every phase's AmountDue, computed once.
    base = ZERO if found.base is None else found.base  # always set on these clocks
    return tuple(_due(found, base, index) for index in range(len(found.boundaries) + 1))


def _with_interest(due: AmountDue, interest: tuple[Decimal, date, Basis], now: datetime) -> AmountDue:
    # Simple yearly interest on amount + surcharge, counted in whole Cyprus days.
    rate, after, basis = interest
    days = local_date(now).toordinal() - after.toordinal()
    if days <= 0:
        return due
    owed = to_cents((due.base + due.surcharge) * rate * days / DAYS_PER_YEAR)
    return AmountDue(due.base, due.surcharge, due.total + owed, due.surcharge_basis,
                     due.payable, due.payable_from, due.prosecution, due.clock_running,
                     owed, basis)


def amount_due(debt: Debt, now: datetime, *, rulebook: Rulebook = DEFAULT_RULEBOOK) -> AmountDue:
    """What `debt` costs at the aware instant `now`, and whether it can be paid then."""
    if now.tzinfo is None:
        raise ValueError("amount_due needs an aware datetime")
    found = clock(debt, rulebook)
    index = bisect_right(found.boundaries, now)
    due = _due(found, debt.amount, index) if found.base is None else _dues(found)[index]
    return due if found.interest is None else _with_interest(due, found.interest, now)
