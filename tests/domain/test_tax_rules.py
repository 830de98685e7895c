"""Tax debts, Tax Collection Law arts. 4, 8(1), 9B, 9Γ, 9Δ (LEGAL_RULES.md s. 4)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from debtbot.domain.amounts import amount_due
from debtbot.domain.calendar import NICOSIA
from debtbot.domain.debts import Debt, DebtKind
from debtbot.domain.milestones import MilestoneKind, milestones, tax_objection_last_day
from debtbot.domain.rules import DEFAULT_RULEBOOK, TaxRules

DUE = date(2026, 7, 31)


def nicosia(year, month, day, hour=0, minute=0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=NICOSIA).astimezone(UTC)


def tax(amount="1000.00", due_on=DUE, **extra) -> Debt:
    return Debt(kind=DebtKind.TAX, reference="TAX-1", amount=Decimal(amount), served_on=None,
                due_on=due_on, **extra)


def kinds(debt):
    return [m.kind for m in milestones(debt)]


def by_kind(debt):
    return {m.kind: m for m in milestones(debt)}


def test_tax_payable_on_its_due_date_from_the_registry():
    payment = by_kind(tax())[MilestoneKind.PAYMENT_DUE]
    assert payment.last_day == DUE
    assert payment.takes_effect == nicosia(2026, 8, 1)
    assert str(payment.legal_basis) == "Tax Collection Law, art. 4 and 8(1)"
    assert payment.reminder


def test_tax_late_payment_surcharge_5_percent_from_the_day_after_due():
    debt = tax("1234.50")
    before = amount_due(debt, nicosia(2026, 7, 31, 23, 59))
    after = amount_due(debt, nicosia(2026, 8, 1))
    assert before.total == Decimal("1234.50") and before.surcharge == Decimal("0.00")
    assert after.surcharge == Decimal("61.73")  # 61.725 rounded half up
    assert after.total == Decimal("1296.23")
    assert str(after.surcharge_basis) == "Tax Collection Law, art. 4 and 8(1)"
    assert after.payable and not after.prosecution
    assert by_kind(debt)[MilestoneKind.PAYMENT_DUE].amount_after == Decimal("1296.23")


def test_tax_surcharge_rate_from_the_tax_own_law_overrides_5_percent():
    debt = tax("1000", surcharge_rate=Decimal("0.10"))
    assert amount_due(debt, nicosia(2026, 9, 1)).total == Decimal("1100.00")
    no_surcharge = tax("1000", surcharge_rate=Decimal("0"))
    due = amount_due(no_surcharge, nicosia(2026, 9, 1))
    assert due.total == Decimal("1000.00") and due.surcharge_basis is None
    assert by_kind(no_surcharge)[MilestoneKind.PAYMENT_DUE].amount_after is None


def test_tax_bank_freeze_and_forfeiture_risk_only_over_3000():
    assert kinds(tax("3000.00")) == [MilestoneKind.PAYMENT_DUE]
    found = by_kind(tax("3000.01"))
    assert set(found) == {MilestoneKind.PAYMENT_DUE, MilestoneKind.BANK_FREEZE_RISK,
                          MilestoneKind.FORFEITURE}
    assert str(found[MilestoneKind.BANK_FREEZE_RISK].legal_basis) == "Tax Collection Law, art. 9B"
    assert str(found[MilestoneKind.FORFEITURE].legal_basis) == "Tax Collection Law, art. 9C"
    assert found[MilestoneKind.BANK_FREEZE_RISK].takes_effect == nicosia(2026, 8, 1)


def test_tax_property_charge_over_5000_after_30_days_unpaid():
    assert MilestoneKind.PROPERTY_CHARGE not in kinds(tax("5000.00"))
    charge = by_kind(tax("5000.01"))[MilestoneKind.PROPERTY_CHARGE]
    assert charge.last_day == date(2026, 8, 30)
    assert charge.takes_effect == nicosia(2026, 8, 31)
    assert str(charge.legal_basis) == "Tax Collection Law, art. 9D"
    assert charge.reminder


def test_tax_measures_suspended_by_objection_appeal_or_security():
    debt = tax("9000", enforcement_suspended=True)
    assert kinds(debt) == [MilestoneKind.PAYMENT_DUE]


def test_tax_instalments_paid_on_time_suspend_9b_and_9g_but_not_9d():
    debt = tax("9000", instalments_on_time=True)
    assert kinds(debt) == [MilestoneKind.PAYMENT_DUE, MilestoneKind.PROPERTY_CHARGE]


def test_tax_without_due_date_has_no_running_clock():
    debt = tax(due_on=None)
    assert milestones(debt) == ()
    due = amount_due(debt, nicosia(2030, 1, 1))
    assert not due.clock_running and due.total == Decimal("1000.00")


def test_tax_clock_ignores_served_on():
    debt = Debt(kind=DebtKind.TAX, reference="T", amount=Decimal(10), served_on=date(2026, 1, 1),
                due_on=None)
    assert milestones(debt) == ()


def test_tax_rule_version_is_chosen_by_due_date():
    rulebook = DEFAULT_RULEBOOK.with_version(
        TaxRules(effective_from=date(2027, 1, 1), surcharge_rate=Decimal("0.07"))
    )
    old = tax("100", due_on=date(2026, 12, 31))
    new = tax("100", due_on=date(2027, 1, 1))
    assert amount_due(old, nicosia(2027, 6, 1), rulebook=rulebook).total == Decimal("105.00")
    assert amount_due(new, nicosia(2027, 6, 1), rulebook=rulebook).total == Decimal("107.00")


def test_tax_objection_windows_15_days_for_a_freeze_30_for_forfeiture_or_property_charge():
    debt = tax("9000")
    taken = date(2026, 9, 1)
    assert tax_objection_last_day(debt, MilestoneKind.BANK_FREEZE_RISK, taken) == date(2026, 9, 16)
    assert tax_objection_last_day(debt, MilestoneKind.FORFEITURE, taken) == date(2026, 10, 1)
    assert tax_objection_last_day(debt, MilestoneKind.PROPERTY_CHARGE, taken) == date(2026, 10, 1)
