"""The law's numbers as data: versioned rule sets, each with the date it takes effect.

Laws change (in March 2025 Parliament was reported to have approved 90/105-day periods for
out-of-court fines, LEGAL_RULES.md section 1). A change is one new version: appended to a
kind's tuple in `DEFAULT_RULEBOOK`, or added at start from the operator's DEBTBOT_RULES_FILE
(domain.rule_versions), never an edit scattered through the code. Each debt is
judged by the version in force on its clock date: the date of service (out-of-court fines,
fine warrants, admin fines, customs) or the due date (tax, art. 4).

Every value carries its citation in a comment, and every consequence its `*_basis` text,
a structured citation (domain.legal) that the citizen reads in their own language
beside a deadline or a surcharge.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal

from debtbot.domain.debts import DebtKind
from debtbot.domain.legal import (
    Basis,
    Instrument,
    LegalBasis,
    customs_article,
    regulations_note,
    road_transport_article,
    tax_article,
)

# A version that applies to every debt, however old: the seeds' texts.
SINCE_ALWAYS = date.min

AdminFineRole = Literal["driver", "owner", "intermediary"]


@dataclass(frozen=True, slots=True)
class OutOfCourtFineRules:
    effective_from: date = SINCE_ALWAYS
    # The instrument that set this version's numbers; each consequence cites its own below.
    basis: Basis = LegalBasis(Instrument.OUT_OF_COURT_REGULATIONS_2021)
    # Note 1: payable 24-72 hours after service; the bot promises the safe end of that range,
    # counted from the time of service when the registry gives it, else from the end of the
    # day of service (the latest the notice can have been served that day). Hours, not days:
    # Cap. 1 art. 31 does not move it.
    payable_after: timedelta = timedelta(hours=72)
    payable_basis: Basis = regulations_note("1")
    # Every period below is counted by Cap. 1 art. 31 (calendar.period_end): a last day that
    # is a Sunday or a public holiday moves to the next day that is neither.
    # Note 9: the owner who was not the driver names the driver within 15 days of receipt.
    driver_nomination_days: int = 15
    driver_nomination_basis: Basis = regulations_note("9")
    # LEGAL_RULES.md makes this reminder optional; off unless a rule set turns it on.
    remind_driver_nomination: bool = False
    # Note 3: unpaid within 30 days from service, the fine grows by half (total 150 %).
    surcharge_days: int = 30
    surcharge_rate: Decimal = Decimal("0.5")
    surcharge_basis: Basis = regulations_note("3")
    # Note 4: unpaid within 45 days, no longer payable out of court: prosecution. Note 3's
    # "15 more days" is counted as its parenthesis says, 45 days from service, not 15 days
    # from a 30-day period that art. 31 moved (README, "Where the code reads the law").
    prosecution_days: int = 45
    prosecution_basis: Basis = regulations_note("4")


@dataclass(frozen=True, slots=True)
class FineWarrantRules:
    effective_from: date = SINCE_ALWAYS
    basis: Basis = "Cyprus Police announcement on fine warrants (JCCsmart)"
    # Police announcement: no statutory countdown; reminders are periodic (a setting).
    reminder_every_days: int = 30


@dataclass(frozen=True, slots=True)
class AdminFineRules:
    effective_from: date = SINCE_ALWAYS
    basis: Basis = road_transport_article("23A")
    # Art. 23A(4) and Annex II: representations within 5 working days of the finding notice.
    # Working days of the office: public-service closure days (Easter Tuesday, 24 December)
    # count as closed unless the setting says otherwise (LEGAL_RULES.md, "Day counting").
    representations_working_days: int = 5
    closure_days_closed: bool = True
    representations_basis: Basis = road_transport_article("23A(4)", annex="II")
    remind_representations: bool = False
    # Art. 23A(6): pay within 5 days from the date of the act imposing the fine. Six days or
    # fewer: Cap. 1 art. 31(δ) leaves Sundays and public holidays out of the count. The law
    # says "days", not working days, so closure days and Saturdays are counted although the
    # district office is closed on them (LEGAL_RULES.md is silent here; README, "Where the
    # code reads the law").
    payment_days: int = 5
    payment_basis: Basis = road_transport_article("23A(6)")
    # Art. 23A(10): 30 days after the payment deadline (as art. 31 moved it), court action
    # as a civil debt.
    court_days_after_payment: int = 30
    court_basis: Basis = road_transport_article("23A(10)")
    # Art. 23A(3)(a): the fine by who is liable; (b): a new violation found within 2 years
    # of the first doubles it, a further one within the same period quadruples it. The
    # registry sends the amount; this tariff lets ingestion check it, never replace it.
    fines: tuple[tuple[AdminFineRole, Decimal], ...] = (
        ("driver", Decimal("750")),
        ("owner", Decimal("1500")),  # registered owner or renter of the vehicle
        ("intermediary", Decimal("1500")),  # taxi office, travel agency, hotel, platform
    )
    repeat_multipliers: tuple[int, ...] = (1, 2, 4)
    repeat_window_years: int = 2

    def fine_for(self, role: AdminFineRole, earlier_violations: int) -> Decimal:
        """The art. 23A(3) amount for `role` with that many earlier violations in the window."""
        if earlier_violations < 0:
            raise ValueError("earlier_violations cannot be negative")
        multiplier = self.repeat_multipliers[
            min(earlier_violations, len(self.repeat_multipliers) - 1)
        ]
        return dict(self.fines)[role] * multiplier


@dataclass(frozen=True, slots=True)
class TaxRules:
    effective_from: date = SINCE_ALWAYS
    basis: Basis = LegalBasis(Instrument.TAX_COLLECTION_LAW)
    # Art. 4: payable when the tax's own deadline expires (due_on comes from the registry);
    # a due date on a Sunday or public holiday is met on the next day that is neither
    # (Cap. 1 art. 31(γ)). LEGAL_RULES.md: "the bot does not derive it" — it does not; it
    # applies art. 31 to the registry's date (README, "Where the code reads the law").
    # Art. 8(1): one-off 5 % surcharge on the unpaid amount, unless the tax's own law differs
    # (then the registry sends Debt.surcharge_rate).
    surcharge_rate: Decimal = Decimal("0.05")
    # Art. 8(2): a surcharge that is not a whole multiple of five mils is raised to the next
    # one. The mil is gone with the pound; the code raises to the next whole cent, the
    # smallest euro amount (LEGAL_RULES.md does not mention 8(2); README, "Where the code
    # reads the law").
    surcharge_rounds_up: bool = True
    payment_basis: Basis = tax_article("4", "8(1)")
    # Art. 9B: over EUR 3,000, bank accounts may be frozen (EUR 2,000 left untouched).
    bank_freeze_over: Decimal = Decimal("3000")
    bank_freeze_basis: Basis = tax_article("9B")
    # Art. 9Γ: over EUR 3,000, movable property may be forfeited.
    forfeiture_over: Decimal = Decimal("3000")
    forfeiture_basis: Basis = tax_article("9C")
    # Art. 9Δ: over EUR 5,000 and unpaid more than 30 days after becoming payable: a charge
    # on immovable property; it applies even while instalments are paid on time.
    property_charge_over: Decimal = Decimal("5000")
    property_charge_days: int = 30
    property_charge_basis: Basis = tax_article("9D")
    # Objection windows once a measure is taken, each counted from its own event and shown
    # only when the registry reports it: 15 calendar days from the debtor being informed of
    # a freeze (9B(5)); 30 days from the seizure, after which the property is deemed
    # forfeited unless challenged in writing (9Γ(5)); 30 calendar days from the written
    # notice of a charge on immovable property (9Δ(4)).
    freeze_objection_days: int = 15
    freeze_objection_basis: Basis = tax_article("9B(5)")
    forfeiture_objection_days: int = 30
    forfeiture_objection_basis: Basis = tax_article("9C(5)")
    property_charge_objection_days: int = 30
    property_charge_objection_basis: Basis = tax_article("9D(4)")


@dataclass(frozen=True, slots=True)
class CustomsRules:
    effective_from: date = SINCE_ALWAYS
    basis: Basis = LegalBasis(Instrument.CUSTOMS_CODE_94_2004)
    # Art. 94: not paid within 10 days of receiving the notice is an offence.
    offence_days: int = 10
    offence_basis: Basis = customs_article("94")
    # Art. 111: unpaid more than 60 days after payable: goods up to 3x the debt forfeited.
    forfeiture_days: int = 60
    forfeiture_basis: Basis = customs_article("111")
    # Art. 112: a review may be requested within 60 days of the decision (it does not stop
    # enforcement). Art. 111A(1)(a)/111B(1)(a) exclude debts for which the periods of art. 112
    # and of art. 146 of the Constitution (recourse within 75 days of learning of the
    # decision, 146(3)) have not passed, so the bank-freeze and land-charge risks start after
    # the later of the two, both counted from the notice. LEGAL_RULES.md names neither
    # period (README, "Where the code reads the law").
    review_days: int = 60
    recourse_days: int = 75
    bank_freeze_over: Decimal = Decimal("3000")
    bank_freeze_basis: Basis = customs_article("111A")
    property_charge_over: Decimal = Decimal("5000")
    property_charge_basis: Basis = customs_article("111B")
    # Art. 113: court action time-barred 6 years after notification.
    time_bar_years: int = 6
    time_bar_basis: Basis = customs_article("113")
    # Art. 52(1): 10 % surcharge on post-clearance assessments (waived under 52(2): the
    # registry then sends surcharge_rate 0).
    post_clearance_rate: Decimal = Decimal("0.10")
    post_clearance_basis: Basis = customs_article("52(1)")
    # Art. 52(3): the person liable to the 52(1) surcharge (and only they: not an ordinary
    # assessment, nor one whose surcharge 52(2) waived) pays yearly interest on amount +
    # surcharge from the due date, at rates set each year: the law gives no number, so it is
    # a setting; None = no interest computed. LEGAL_RULES.md states the interest without
    # the condition; the seed's 52(3) has it (README, "Where the code reads the law").
    interest_rate: Decimal | None = None
    interest_basis: Basis = customs_article("52(3)")


RuleSet = OutOfCourtFineRules | FineWarrantRules | AdminFineRules | TaxRules | CustomsRules

_FIELD_BY_KIND = {
    DebtKind.OUT_OF_COURT_FINE: "out_of_court_fines",
    DebtKind.FINE_WARRANT: "fine_warrants",
    DebtKind.ADMIN_FINE: "admin_fines",
    DebtKind.TAX: "taxes",
    DebtKind.CUSTOMS: "customs_debts",
}
_FIELD_BY_TYPE = {
    OutOfCourtFineRules: "out_of_court_fines",
    FineWarrantRules: "fine_warrants",
    AdminFineRules: "admin_fines",
    TaxRules: "taxes",
    CustomsRules: "customs_debts",
}


def _sorted(versions: tuple[Any, ...]) -> tuple[Any, ...]:
    ordered = tuple(sorted(versions, key=lambda rules: rules.effective_from))
    dates = [rules.effective_from for rules in ordered]
    if not ordered:
        raise ValueError("a rule book needs at least one version per debt kind")
    if len(set(dates)) != len(dates):
        raise ValueError("two rule versions take effect on the same date")
    return ordered


# eq=False: a rule book is hashed by identity, so caches keyed on it stay cheap.
@dataclass(frozen=True, slots=True, eq=False)
class Rulebook:
    """All rule versions, per debt kind, sorted by the date they take effect."""

    out_of_court_fines: tuple[OutOfCourtFineRules, ...] = (OutOfCourtFineRules(),)
    fine_warrants: tuple[FineWarrantRules, ...] = (FineWarrantRules(),)
    admin_fines: tuple[AdminFineRules, ...] = (AdminFineRules(),)
    taxes: tuple[TaxRules, ...] = (TaxRules(),)
    customs_debts: tuple[CustomsRules, ...] = (CustomsRules(),)
    # Reminders before each threshold, days ahead (LEGAL_RULES.md: lead times are settings,
    # defaults 7 days and 1 day before). One list for every kind and version.
    reminder_lead_days: tuple[int, ...] = (7, 1)
    _starts: dict[str, tuple[date, ...]] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        for name in _FIELD_BY_TYPE.values():
            versions = _sorted(tuple(getattr(self, name)))
            object.__setattr__(self, name, versions)
            self._starts[name] = tuple(rules.effective_from for rules in versions)

    @property
    def reminder_leads(self) -> list[timedelta]:
        """The lead times, longest first (whole days, positive)."""
        return sorted({timedelta(days=d) for d in self.reminder_lead_days if d > 0},
                      reverse=True)

    def _in_force(self, name: str, on: date | None) -> Any:
        versions = getattr(self, name)
        if on is None:  # no clock date: nothing is counted, the newest wording is shown
            return versions[-1]
        index = bisect_right(self._starts[name], on) - 1
        if index < 0:
            raise LookupError(f"no {name} rules in force on {on.isoformat()}")
        return versions[index]

    def out_of_court_fine(self, served_on: date | None) -> OutOfCourtFineRules:
        return self._in_force("out_of_court_fines", served_on)

    def fine_warrant(self, served_on: date | None) -> FineWarrantRules:
        return self._in_force("fine_warrants", served_on)

    def admin_fine(self, served_on: date | None) -> AdminFineRules:
        return self._in_force("admin_fines", served_on)

    def tax(self, due_on: date | None) -> TaxRules:
        return self._in_force("taxes", due_on)

    def customs(self, served_on: date | None) -> CustomsRules:
        return self._in_force("customs_debts", served_on)

    def for_kind(self, kind: DebtKind, on: date | None) -> RuleSet:
        """The version of `kind`'s rules in force on its clock date `on`."""
        return self._in_force(_FIELD_BY_KIND[DebtKind(kind)], on)

    def versions(self, kind: DebtKind) -> tuple[RuleSet, ...]:
        return getattr(self, _FIELD_BY_KIND[DebtKind(kind)])

    def with_version(self, rules: RuleSet) -> Rulebook:
        """A new rule book with `rules` added as the version in force from its date on."""
        name = _FIELD_BY_TYPE[type(rules)]
        changes = {name: (*getattr(self, name), rules)}
        return replace(self, **changes)

    def with_settings(
        self, *, customs_interest_rate: Decimal | None = None,
        warrant_reminder_every_days: int | None = None,
        remind_driver_nomination: bool | None = None,
        closure_days_closed: bool | None = None,
        reminder_lead_days: tuple[int, ...] | None = None,
    ) -> Rulebook:
        """The values the law leaves to settings, applied to every version of their kind.

        Build the result once at start-up: caches are keyed on the rule book's identity, so
        settings that change nothing give back this very rule book.
        """
        changes: dict[str, tuple[Any, ...]] = {}

        def every_version(name: str, **values: Any) -> None:
            versions = getattr(self, name)
            changed = tuple(replace(rules, **values) for rules in versions)
            if changed != versions:
                changes[name] = changed

        if customs_interest_rate is not None:  # art. 52(3): rates set yearly
            every_version("customs_debts", interest_rate=customs_interest_rate)
        if warrant_reminder_every_days is not None:
            every_version("fine_warrants", reminder_every_days=warrant_reminder_every_days)
        if remind_driver_nomination is not None:
            every_version("out_of_court_fines", remind_driver_nomination=remind_driver_nomination)
        if closure_days_closed is not None:  # LEGAL_RULES.md, "Day counting"
            every_version("admin_fines", closure_days_closed=closure_days_closed)
        if reminder_lead_days is not None and tuple(reminder_lead_days) != self.reminder_lead_days:
            changes["reminder_lead_days"] = tuple(reminder_lead_days)
        if not changes:
            return self  # the same rule book, so the caches keyed on it stay shared
        return replace(self, **changes)


# The law as the seeds state it. A change not yet built in is a version in DEBTBOT_RULES_FILE
# (domain.rule_versions; examples/rules-2025-amendment.toml); a confirmed one may become one
# more entry here, e.g.
#   out_of_court_fines=(OutOfCourtFineRules(),
#                       OutOfCourtFineRules(effective_from=date(2025, 6, 1), surcharge_days=90,
#                                           prosecution_days=105, surcharge_basis="...")),
DEFAULT_RULEBOOK = Rulebook()
