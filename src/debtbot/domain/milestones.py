"""For any debt: the dates on which something happens to it, and the law that says so.

"Within N days from service" ends at the end of day N in Europe/Nicosia (day 0 = the day of
service), moved on by the Interpretation Law (Cap. 1, art. 31) when that day is a Sunday or
a public holiday, and by its (δ) for periods of six days or fewer (calendar.period_end). A
consequence takes effect at 00:00 local on the day after the last day, converted to UTC with
the daylight-saving offset of that day. A debt with no clock date (not served yet, no due
date) has no milestones: no clock runs.

A debt's clock is cached by what it depends on (kind, clock date, tariff amount or amount
band, flags, rule book; the rare time of service or tax-measure dates), never by the debt: a
million debts share a few thousand clocks.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache

from debtbot.domain.calendar import (
    add_working_days,
    add_years,
    end_of_day,
    in_time_until,
    local_date,
    period_end,
    start_of_day,
)
from debtbot.domain.debts import Debt, DebtKind
from debtbot.domain.legal import Basis
from debtbot.domain.money import ZERO, to_cents, to_cents_up
from debtbot.domain.rules import (
    DEFAULT_RULEBOOK,
    AdminFineRules,
    CustomsRules,
    FineWarrantRules,
    OutOfCourtFineRules,
    Rulebook,
    RuleSet,
    TaxRules,
)


class MilestoneKind(StrEnum):
    PAYABLE_FROM = "payable_from"
    DRIVER_NOMINATION = "driver_nomination"
    REPRESENTATIONS = "representations"
    PAYMENT_DUE = "payment_due"
    SURCHARGE = "surcharge"
    PROSECUTION = "prosecution"
    COURT = "court"
    OFFENCE = "offence"
    FORFEITURE = "forfeiture"
    BANK_FREEZE_RISK = "bank_freeze_risk"
    PROPERTY_CHARGE = "property_charge"
    TIME_BAR = "time_bar"
    # Tax Collection Law: the windows to object once a measure has been taken.
    FREEZE_OBJECTION = "freeze_objection"  # 9B(5)
    FORFEITURE_OBJECTION = "forfeiture_objection"  # 9Γ(5)
    PROPERTY_CHARGE_OBJECTION = "property_charge_objection"  # 9Δ(4)


@dataclass(frozen=True, slots=True)
class Milestone:
    kind: MilestoneKind
    last_day: date  # last local day to act; for PAYABLE_FROM the local day payment opens
    takes_effect: datetime  # aware UTC; 00:00 local after last_day (PAYABLE_FROM: opening)
    legal_basis: Basis
    amount_after: Decimal | None  # total due once in effect; None = unchanged / not payable
    payable_after: bool
    reminder: bool


# eq=False: cached and hashed by identity (amounts caches per clock).
@dataclass(frozen=True, slots=True, eq=False)
class Clock:
    """A debt's legal clock without its amount: the milestones, their instants, the rules.

    Where a milestone sets a new total (a surcharge), `rates[i]` holds the surcharge rate.
    Fines take their amounts from a short tariff (Type E note 5, art. 23A(3)), so their
    clocks are built per amount with `amount_after` filled in (`base` set); tax and customs
    amounts are nearly all distinct, so theirs are shared and priced per call (`priced`).
    """

    milestones: tuple[Milestone, ...]
    boundaries: tuple[datetime, ...]  # takes_effect of each milestone, same order
    rates: tuple[Decimal | None, ...]  # surcharge rate setting amount_after, per milestone
    rules: RuleSet
    opening_rate: Decimal  # surcharge owed from the outset (customs art. 52(1)), else 0
    opening_basis: Basis | None
    clock_on: date | None
    priced: bool  # amount_after still to be filled in for the debt's amount
    base: Decimal | None  # the amount, for a clock built per amount (fines)
    # Customs art. 52(3), when a rate is set: (yearly rate, interest runs after this day,
    # legal basis).
    interest: tuple[Decimal, date, Basis] | None
    round_up: bool = False  # surcharges raised to the next cent (tax art. 8(2))


def clock_field(kind: DebtKind | str) -> str:
    """Which of a debt's dates is day 0 of its legal clock, by name (a `Debt` field, and the
    debts table's column of the same name): the due date for tax (Tax Collection Law art. 4),
    the date of service for every other kind. The one answer to "when does the clock start",
    for the milestones here and for the planners' queries alike."""
    return "due_on" if kind == DebtKind.TAX else "served_on"


def clock_date(debt: Debt) -> date | None:
    """Day 0 of the debt's legal clock (`clock_field`)."""
    return getattr(debt, clock_field(debt.kind))  # type: ignore[no-any-return]


def surcharged(base: Decimal, rate: Decimal, *, up: bool = False) -> Decimal:
    """The surcharge at `rate` on `base` (already in cents), to the cent: half up, or up to
    the next cent where the law says so (`up`, tax art. 8(2))."""
    return to_cents_up(base * rate) if up else to_cents(base * rate)


def _within(day0: date, days: int) -> tuple[date, datetime]:
    # "Within N days from day0": the last day as Cap. 1 art. 31 counts it; the consequence
    # starts at 00:00 of the day after.
    last = period_end(day0, days)
    return last, start_of_day(date.fromordinal(last.toordinal() + 1))


def _after(last: date) -> datetime:
    return start_of_day(date.fromordinal(last.toordinal() + 1))


def _clock(
    items: list[tuple[Milestone, Decimal | None]], rules: RuleSet, clock_on: date | None, *,
    opening_rate: Decimal = ZERO, opening_basis: Basis | None = None,
    base: Decimal | None = None, interest: tuple[Decimal, date, Basis] | None = None,
    round_up: bool = False,
) -> Clock:
    # Stable sort: milestones at the same instant keep the order the law lists them in.
    ordered = sorted(items, key=lambda item: item[0].takes_effect)
    rates = tuple(rate for _, rate in ordered)
    found = tuple(milestone for milestone, _ in ordered)
    surcharging = any(rate is not None for rate in rates)
    if base is not None:
        base = to_cents(base)
        if surcharging:
            found = _price(found, rates, base, round_up)
    return Clock(
        found, tuple(milestone.takes_effect for milestone in found), rates, rules,
        opening_rate, opening_basis, clock_on, surcharging and base is None, base, interest,
        round_up,
    )


def _price(
    found: tuple[Milestone, ...], rates: tuple[Decimal | None, ...], base: Decimal,
    round_up: bool = False,
) -> tuple[Milestone, ...]:
    priced = list(found)
    for index, rate in enumerate(rates):
        if rate is not None:
            milestone = priced[index]
            priced[index] = Milestone(
                milestone.kind, milestone.last_day, milestone.takes_effect,
                milestone.legal_basis, base + surcharged(base, rate, up=round_up),
                milestone.payable_after,
                milestone.reminder,
            )
    return tuple(priced)


@lru_cache(maxsize=1 << 16)
def _out_of_court_fine(
    rulebook: Rulebook, served_on: date | None, amount: Decimal,
    served_at: datetime | None = None,
) -> Clock:
    rules: OutOfCourtFineRules = rulebook.out_of_court_fine(served_on)
    if served_on is None:
        return _clock([], rules, None, base=amount)
    # Note 1: payment opens 72 elapsed hours after the time of service when the registry
    # gives it, else after the end of the day of service: never before it may be payable.
    opens = (end_of_day(served_on) if served_at is None else served_at) + rules.payable_after
    nominate_by, nominate_late = _within(served_on, rules.driver_nomination_days)
    surcharge_by, surcharged_at = _within(served_on, rules.surcharge_days)
    prosecute_by, prosecuted = _within(served_on, rules.prosecution_days)
    items = [
        (Milestone(MilestoneKind.PAYABLE_FROM, local_date(opens), opens, rules.payable_basis,
                   None, True, False), None),
        # Note 9: naming the driver changes nothing about the amount.
        (Milestone(MilestoneKind.DRIVER_NOMINATION, nominate_by, nominate_late,
                   rules.driver_nomination_basis, None, True, rules.remind_driver_nomination),
         None),
        # Note 3: the amount grows by half (total 150 %) from day 31.
        (Milestone(MilestoneKind.SURCHARGE, surcharge_by, surcharged_at, rules.surcharge_basis,
                   None, True, True), rules.surcharge_rate),
        # Note 4: after day 45 no payment out of court at all.
        (Milestone(MilestoneKind.PROSECUTION, prosecute_by, prosecuted,
                   rules.prosecution_basis, None, False, True), None),
    ]
    return _clock(items, rules, served_on, base=amount)


@lru_cache(maxsize=1 << 14)
def _admin_fine(
    rulebook: Rulebook, served_on: date | None, finding_notice_on: date | None, amount: Decimal
) -> Clock:
    rules: AdminFineRules = rulebook.admin_fine(served_on or finding_notice_on)
    items: list[tuple[Milestone, Decimal | None]] = []
    if finding_notice_on is not None:
        # Annex II: working days of the office, so weekends, Cyprus public holidays and (by
        # the setting) public-service closure days are skipped.
        last = add_working_days(finding_notice_on, rules.representations_working_days,
                                closures_closed=rules.closure_days_closed)
        items.append((Milestone(MilestoneKind.REPRESENTATIONS, last, _after(last),
                                rules.representations_basis, None, True,
                                rules.remind_representations), None))
    if served_on is not None:
        # 23A(6): 5 days, so Cap. 1 art. 31(δ): Sundays and public holidays not counted.
        pay_by, unpaid = _within(served_on, rules.payment_days)
        # 23A(10): 30 days from the end of the payment period, art. 31(β) at its end.
        court_by, court = _within(pay_by, rules.court_days_after_payment)
        items += [
            # 23A(6): payable at a district office whether or not the fine is disputed.
            (Milestone(MilestoneKind.PAYMENT_DUE, pay_by, unpaid, rules.payment_basis,
                       None, True, True), None),
            # 23A(10): collected in court as a civil debt; paying it still settles it.
            (Milestone(MilestoneKind.COURT, court_by, court, rules.court_basis,
                       None, True, True), None),
        ]
    return _clock(items, rules, served_on, base=amount)


@lru_cache(maxsize=1 << 14)
def _tax(
    rulebook: Rulebook, due_on: date | None, rate: Decimal | None, freeze: bool,
    forfeit: bool, charge: bool, suspended: bool, instalments: bool,
    objections: tuple[date | None, date | None, date | None] = (None, None, None),
) -> Clock:
    rules: TaxRules = rulebook.tax(due_on)
    items: list[tuple[Milestone, Decimal | None]] = []
    # 9B(5), 9Γ(5), 9Δ(4): a measure the registry reports opens its objection window,
    # counted from its own event (the debtor informed of the freeze, the seizure, the notice
    # of the charge received), whatever the due date.
    freeze_notified_on, seized_on, charge_notified_on = objections
    for kind, event, days, basis in (
        (MilestoneKind.FREEZE_OBJECTION, freeze_notified_on, rules.freeze_objection_days,
         rules.freeze_objection_basis),
        (MilestoneKind.FORFEITURE_OBJECTION, seized_on, rules.forfeiture_objection_days,
         rules.forfeiture_objection_basis),
        (MilestoneKind.PROPERTY_CHARGE_OBJECTION, charge_notified_on,
         rules.property_charge_objection_days, rules.property_charge_objection_basis),
    ):
        if event is not None:
            last, closed = _within(event, days)
            items.append((Milestone(kind, last, closed, basis, None, True, False), None))
    if due_on is None:
        return _clock(items, rules, None)
    # Art. 4: payable on the due date; Cap. 1 art. 31(γ): a due date that is a Sunday or a
    # public holiday is met on the next day that is neither. Art. 8(1): a one-off surcharge
    # the day after.
    pay_by = in_time_until(due_on)
    unpaid = _after(pay_by)
    surcharge_rate = rules.surcharge_rate if rate is None else rate
    items.append(
        (Milestone(MilestoneKind.PAYMENT_DUE, pay_by, unpaid, rules.payment_basis,
                   None, True, True), surcharge_rate or None),
    )
    # 9B-9Δ do not apply while an objection or appeal is pending or security was given;
    # 9B and 9Γ not while instalments are paid on time either.
    if not suspended and not instalments:
        if freeze:
            items.append((Milestone(MilestoneKind.BANK_FREEZE_RISK, pay_by, unpaid,
                                    rules.bank_freeze_basis, None, True, False), None))
        if forfeit:
            items.append((Milestone(MilestoneKind.FORFEITURE, pay_by, unpaid,
                                    rules.forfeiture_basis, None, True, False), None))
    if not suspended and charge:
        # 9Δ: unpaid more than 30 calendar days after it became payable (the due date).
        charge_by, charged = _within(due_on, rules.property_charge_days)
        items.append((Milestone(MilestoneKind.PROPERTY_CHARGE, charge_by, charged,
                                rules.property_charge_basis, None, True, True), None))
    return _clock(items, rules, due_on, round_up=rules.surcharge_rounds_up)


@lru_cache(maxsize=1 << 14)
def _customs(
    rulebook: Rulebook, served_on: date | None, rate: Decimal | None, post_clearance: bool,
    freeze: bool, charge: bool, suspended: bool,
) -> Clock:
    rules: CustomsRules = rulebook.customs(served_on)
    opening_rate, opening_basis = ZERO, None
    if post_clearance:
        opening_rate = rules.post_clearance_rate if rate is None else rate
        opening_basis = rules.post_clearance_basis if opening_rate else None
    if served_on is None:
        return _clock([], rules, None, opening_rate=opening_rate, opening_basis=opening_basis)
    offence_by, offence = _within(served_on, rules.offence_days)
    forfeit_by, forfeit = _within(served_on, rules.forfeiture_days)
    # 111A(1)(a), 111B(1)(a): not before the art. 112 review period and the art. 146
    # recourse period have both passed.
    review_by, reviewed = max(_within(served_on, rules.review_days),
                              _within(served_on, rules.recourse_days))
    # Art. 113: six years after notification; art. 31(β) if that day is excluded.
    barred_by = in_time_until(add_years(served_on, rules.time_bar_years))
    items = [
        (Milestone(MilestoneKind.OFFENCE, offence_by, offence, rules.offence_basis,
                   None, True, True), None),
        (Milestone(MilestoneKind.FORFEITURE, forfeit_by, forfeit, rules.forfeiture_basis,
                   None, True, True), None),
    ]
    # 111A/111B: not while a review is pending or security was given.
    if not suspended and freeze:
        items.append((Milestone(MilestoneKind.BANK_FREEZE_RISK, review_by, reviewed,
                                rules.bank_freeze_basis, None, True, False), None))
    if not suspended and charge:
        items.append((Milestone(MilestoneKind.PROPERTY_CHARGE, review_by, reviewed,
                                rules.property_charge_basis, None, True, False), None))
    # Art. 52(3): interest from the due date, the end of the art. 94 payment period, owed
    # only by those liable to the 52(1) surcharge (none when 52(2) waived it).
    interest = (None if rules.interest_rate is None or not opening_rate
                else (rules.interest_rate, offence_by, rules.interest_basis))
    items.append((Milestone(MilestoneKind.TIME_BAR, barred_by, _after(barred_by),
                            rules.time_bar_basis, None, True, False), None))
    return _clock(items, rules, served_on, opening_rate=opening_rate,
                  opening_basis=opening_basis, interest=interest)


@lru_cache(maxsize=1 << 14)
def _fine_warrant(rulebook: Rulebook, served_on: date | None, amount: Decimal) -> Clock:
    # No statutory countdown: reminders are periodic (FineWarrantRules.reminder_every_days).
    rules: FineWarrantRules = rulebook.fine_warrant(served_on)
    return _clock([], rules, None, base=amount)


@lru_cache(maxsize=1 << 12)
def _tax_rules(rulebook: Rulebook, due_on: date | None) -> TaxRules:
    return rulebook.tax(due_on)


@lru_cache(maxsize=1 << 12)
def _customs_rules(rulebook: Rulebook, served_on: date | None) -> CustomsRules:
    return rulebook.customs(served_on)


def clock(debt: Debt, rulebook: Rulebook = DEFAULT_RULEBOOK) -> Clock:
    """The debt's clock under the rule version in force on its clock date."""
    kind = debt.kind
    if kind is DebtKind.OUT_OF_COURT_FINE:
        if debt.served_at is not None:
            return _out_of_court_fine(rulebook, debt.served_on, debt.amount, debt.served_at)
        return _out_of_court_fine(rulebook, debt.served_on, debt.amount)
    if kind is DebtKind.FINE_WARRANT:
        return _fine_warrant(rulebook, debt.served_on, debt.amount)
    if kind is DebtKind.TAX:
        amount = debt.amount
        tax = _tax_rules(rulebook, debt.due_on)
        if debt.freeze_notified_on or debt.seized_on or debt.charge_notified_on:
            return _tax(rulebook, debt.due_on, debt.surcharge_rate,
                        amount > tax.bank_freeze_over, amount > tax.forfeiture_over,
                        amount > tax.property_charge_over, debt.enforcement_suspended,
                        debt.instalments_on_time,
                        (debt.freeze_notified_on, debt.seized_on, debt.charge_notified_on))
        return _tax(rulebook, debt.due_on, debt.surcharge_rate, amount > tax.bank_freeze_over,
                    amount > tax.forfeiture_over, amount > tax.property_charge_over,
                    debt.enforcement_suspended, debt.instalments_on_time)
    if kind is DebtKind.CUSTOMS:
        amount = debt.amount
        customs = _customs_rules(rulebook, debt.served_on)
        return _customs(rulebook, debt.served_on, debt.surcharge_rate, debt.post_clearance,
                        amount > customs.bank_freeze_over,
                        amount > customs.property_charge_over, debt.enforcement_suspended)
    if kind is DebtKind.ADMIN_FINE:
        return _admin_fine(rulebook, debt.served_on, debt.finding_notice_on, debt.amount)
    # A plain string kind ("tax") still works, via the enum.
    converted = DebtKind(kind)
    if converted is not kind:
        return clock(replace(debt, kind=converted), rulebook)
    raise ValueError(f"unknown debt kind {kind!r}")


def milestones(debt: Debt, *, rulebook: Rulebook = DEFAULT_RULEBOOK) -> tuple[Milestone, ...]:
    """The debt's milestones sorted by takes_effect; () when no clock runs."""
    found = clock(debt, rulebook)
    if found.priced:
        return _price(found.milestones, found.rates, to_cents(debt.amount), found.round_up)
    return found.milestones


def next_milestone(
    debt: Debt, now: datetime, *, rulebook: Rulebook = DEFAULT_RULEBOOK
) -> Milestone | None:
    """The first milestone that has not taken effect at `now` (aware), or None."""
    found = milestones(debt, rulebook=rulebook)
    index = bisect_right(clock(debt, rulebook).boundaries, now)
    return found[index] if index < len(found) else None


_PROBE_AMOUNT = Decimal("1000000000.00")  # over every amount threshold of every kind


def milestone_kinds(
    kind: DebtKind, today: date, rulebook: Rulebook, wanted: Callable[[Milestone], bool]
) -> list[MilestoneKind]:
    """The kinds of milestone that debts of `kind` can reach under any version of the rules in
    force today or from an earlier or later version's start, those `wanted` picks, in the
    order the law lists them (one probe debt per version, large enough for every threshold)."""
    found: dict[MilestoneKind, None] = {}
    probes = {today} | {
        max(version.effective_from, date(1900, 1, 1)) for version in rulebook.versions(kind)
    }
    for day in sorted(probes):
        probe = Debt(kind=kind, reference="", amount=_PROBE_AMOUNT, served_on=day, due_on=day,
                     finding_notice_on=day)
        for milestone in milestones(probe, rulebook=rulebook):
            if wanted(milestone):
                found.setdefault(milestone.kind)
    return list(found)
