"""Tax debts, Tax Collection Law arts. 4, 8(1)-(2), 9B, 9Γ, 9Δ (LEGAL_RULES.md s. 4), with
periods counted by the Interpretation Law (Cap. 1), art. 31."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from debtbot.domain.amounts import amount_due
from debtbot.domain.calendar import NICOSIA
from debtbot.domain.debts import Debt, DebtKind
from debtbot.domain.milestones import MilestoneKind, milestones
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
    assert after.surcharge == Decimal("61.73")  # 61.725 raised to the next cent (8(2))
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
    charge = by_kind(tax("5000.01", due_on=date(2026, 7, 30)))[MilestoneKind.PROPERTY_CHARGE]
    assert charge.last_day == date(2026, 8, 29)  # day 30, a Saturday: not moved
    assert charge.takes_effect == nicosia(2026, 8, 30)
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


def test_tax_surcharge_rounded_up_to_the_cent_art_8_2():
    # 5 % of 100.01 is 5.0005: half up would give 5.00, art. 8(2) raises it to 5.01.
    debt = tax("100.01")
    after = amount_due(debt, nicosia(2026, 8, 1))
    assert after.surcharge == Decimal("5.01") and after.total == Decimal("105.02")
    assert by_kind(debt)[MilestoneKind.PAYMENT_DUE].amount_after == Decimal("105.02")
    # A whole number of cents stays as it is.
    assert amount_due(tax("100.00"), nicosia(2026, 8, 1)).surcharge == Decimal("5.00")
    # A rate from the tax's own law is raised the same way.
    own = tax("33.33", surcharge_rate=Decimal("0.10"))
    assert amount_due(own, nicosia(2026, 8, 1)).surcharge == Decimal("3.34")


def test_tax_due_date_on_a_sunday_is_met_on_monday_art_31_gamma():
    # 2 August 2026 is a Sunday: paying on Monday 3 August is in time, no surcharge.
    debt = tax("1000", due_on=date(2026, 8, 2))
    payment = by_kind(debt)[MilestoneKind.PAYMENT_DUE]
    assert payment.last_day == date(2026, 8, 3)
    assert payment.takes_effect == nicosia(2026, 8, 4)
    assert amount_due(debt, nicosia(2026, 8, 3, 23, 59)).surcharge == Decimal("0.00")
    assert amount_due(debt, nicosia(2026, 8, 4)).surcharge == Decimal("50.00")


def test_tax_due_date_on_a_public_holiday_is_met_on_the_next_open_day_art_31_gamma():
    # 1 October 2026 (Thursday) is Independence Day: in time on Friday 2 October; the bank
    # freeze and forfeiture risks start after it too.
    found = by_kind(tax("4000", due_on=date(2026, 10, 1)))
    assert found[MilestoneKind.PAYMENT_DUE].last_day == date(2026, 10, 2)
    assert found[MilestoneKind.BANK_FREEZE_RISK].takes_effect == nicosia(2026, 10, 3)
    assert found[MilestoneKind.FORFEITURE].takes_effect == nicosia(2026, 10, 3)


def test_tax_property_charge_30_day_period_ending_on_a_sunday_moves_to_monday():
    # Due 31 July 2026: day 30 is Sunday 30 August, so the charge may come from 1 September.
    charge = by_kind(tax("5000.01"))[MilestoneKind.PROPERTY_CHARGE]
    assert charge.last_day == date(2026, 8, 31)
    assert charge.takes_effect == nicosia(2026, 9, 1)


def test_tax_objection_windows_not_shown_unless_the_registry_reports_the_measure():
    assert not {MilestoneKind.FREEZE_OBJECTION, MilestoneKind.FORFEITURE_OBJECTION,
                MilestoneKind.PROPERTY_CHARGE_OBJECTION} & set(kinds(tax("9000")))


def test_tax_freeze_objection_15_days_from_the_debtor_being_informed_9b_5():
    # Informed on Tuesday 1 September 2026: day 15 is Wednesday 16 September.
    debt = tax("9000", freeze_notified_on=date(2026, 9, 1))
    window = by_kind(debt)[MilestoneKind.FREEZE_OBJECTION]
    assert window.last_day == date(2026, 9, 16)
    assert window.takes_effect == nicosia(2026, 9, 17)
    assert str(window.legal_basis) == "Tax Collection Law, art. 9B(5)"
    # Informed on Monday 14 September: day 15 is Tuesday 29 September, unmoved; informed on
    # Wednesday 16 September: day 15 is Thursday 1 October, Independence Day: 2 October.
    assert by_kind(tax("9000", freeze_notified_on=date(2026, 9, 16)))[
        MilestoneKind.FREEZE_OBJECTION].last_day == date(2026, 10, 2)


def test_tax_forfeiture_objection_30_days_from_the_seizure_9g_5():
    # Seized on Tuesday 1 September 2026: day 30 is 1 October, a public holiday: 2 October.
    debt = tax("9000", seized_on=date(2026, 9, 1), freeze_notified_on=None)
    window = by_kind(debt)[MilestoneKind.FORFEITURE_OBJECTION]
    assert window.last_day == date(2026, 10, 2)
    assert str(window.legal_basis) == "Tax Collection Law, art. 9C(5)"
    assert MilestoneKind.FREEZE_OBJECTION not in kinds(debt)


def test_tax_property_charge_objection_30_days_from_the_notice_9d_4():
    # Notice received Friday 6 November 2026: day 30 is Sunday 6 December: Monday 7th.
    debt = tax("9000", charge_notified_on=date(2026, 11, 6))
    window = by_kind(debt)[MilestoneKind.PROPERTY_CHARGE_OBJECTION]
    assert window.last_day == date(2026, 12, 7)
    assert window.takes_effect == nicosia(2026, 12, 8)
    assert str(window.legal_basis) == "Tax Collection Law, art. 9D(4)"
    assert not window.reminder


def test_tax_objection_windows_counted_from_their_own_events_not_the_due_date():
    debt = tax("9000", freeze_notified_on=date(2026, 9, 1), seized_on=date(2026, 9, 8),
               charge_notified_on=date(2026, 11, 6))
    found = by_kind(debt)
    assert found[MilestoneKind.FREEZE_OBJECTION].last_day == date(2026, 9, 16)
    assert found[MilestoneKind.FORFEITURE_OBJECTION].last_day == date(2026, 10, 8)
    assert found[MilestoneKind.PROPERTY_CHARGE_OBJECTION].last_day == date(2026, 12, 7)
