"""Customs debts, Customs Code 94(I)/2004 arts. 52, 94, 111-113 (LEGAL_RULES.md s. 5)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from debtbot.domain.amounts import amount_due
from debtbot.domain.calendar import NICOSIA
from debtbot.domain.debts import Debt, DebtKind
from debtbot.domain.milestones import MilestoneKind, milestones
from debtbot.domain.rules import CustomsRules, Rulebook

NOTICE = date(2026, 3, 2)  # notice received; day 10 = 12 March, day 60 = 1 May


def nicosia(year, month, day, hour=0, minute=0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=NICOSIA).astimezone(UTC)


def customs(amount="1000.00", served_on=NOTICE, **extra) -> Debt:
    return Debt(kind=DebtKind.CUSTOMS, reference="CUS-1", amount=Decimal(amount),
                served_on=served_on, **extra)


def by_kind(debt):
    return {m.kind: m for m in milestones(debt)}


def test_customs_offence_if_unpaid_after_day_10_of_the_notice():
    offence = by_kind(customs())[MilestoneKind.OFFENCE]
    assert offence.last_day == date(2026, 3, 12)
    assert offence.takes_effect == nicosia(2026, 3, 13)
    assert str(offence.legal_basis) == "Customs Code 94(I)/2004, art. 94"
    assert offence.reminder and offence.payable_after


def test_customs_forfeiture_risk_after_day_60():
    # Clocks go forward on 29 March 2026, inside the 60 days.
    forfeiture = by_kind(customs())[MilestoneKind.FORFEITURE]
    assert forfeiture.last_day == date(2026, 5, 1)
    assert forfeiture.takes_effect == datetime(2026, 5, 1, 21, 0, tzinfo=UTC)
    assert str(forfeiture.legal_basis) == "Customs Code 94(I)/2004, art. 111"
    assert forfeiture.reminder


def test_customs_bank_freeze_risk_only_over_3000():
    assert MilestoneKind.BANK_FREEZE_RISK not in by_kind(customs("3000"))
    freeze = by_kind(customs("3000.01"))[MilestoneKind.BANK_FREEZE_RISK]
    assert str(freeze.legal_basis) == "Customs Code 94(I)/2004, art. 111A"
    assert freeze.last_day == date(2026, 5, 1)  # after the art. 112 review period


def test_customs_bank_freeze_and_land_charge_wait_for_the_art_112_review_period():
    rulebook = Rulebook(customs_debts=(CustomsRules(review_days=90),))
    found = {m.kind: m for m in milestones(customs("9000"), rulebook=rulebook)}
    assert found[MilestoneKind.BANK_FREEZE_RISK].last_day == date(2026, 5, 31)
    assert found[MilestoneKind.PROPERTY_CHARGE].last_day == date(2026, 5, 31)
    assert found[MilestoneKind.FORFEITURE].last_day == date(2026, 5, 1)


def test_customs_property_charge_only_over_5000():
    assert MilestoneKind.PROPERTY_CHARGE not in by_kind(customs("5000"))
    charge = by_kind(customs("5000.01"))[MilestoneKind.PROPERTY_CHARGE]
    assert str(charge.legal_basis) == "Customs Code 94(I)/2004, art. 111B"


def test_customs_measures_suspended_by_pending_review_or_security():
    found = by_kind(customs("9000", enforcement_suspended=True))
    assert MilestoneKind.BANK_FREEZE_RISK not in found
    assert MilestoneKind.PROPERTY_CHARGE not in found
    assert MilestoneKind.FORFEITURE in found


def test_customs_time_bar_6_years_after_notification():
    bar = by_kind(customs())[MilestoneKind.TIME_BAR]
    assert bar.last_day == date(2032, 3, 2)
    assert bar.takes_effect == nicosia(2032, 3, 3)
    assert str(bar.legal_basis) == "Customs Code 94(I)/2004, art. 113"
    assert not bar.reminder
    leap = by_kind(customs(served_on=date(2024, 2, 29)))[MilestoneKind.TIME_BAR]
    assert leap.last_day == date(2030, 2, 28)


def test_customs_post_clearance_surcharge_10_percent():
    due = amount_due(customs("1234.55", post_clearance=True), nicosia(2026, 3, 3))
    assert due.surcharge == Decimal("123.46")  # 123.455 rounded half up
    assert due.total == Decimal("1358.01")
    assert str(due.surcharge_basis) == "Customs Code 94(I)/2004, art. 52(1)"


def test_customs_post_clearance_surcharge_waived_for_voluntary_disclosure():
    debt = customs("1000", post_clearance=True, surcharge_rate=Decimal("0"))
    due = amount_due(debt, nicosia(2026, 3, 3))
    assert due.total == Decimal("1000.00") and due.surcharge_basis is None


def test_customs_ordinary_assessment_has_no_surcharge():
    due = amount_due(customs("1000"), nicosia(2026, 6, 1))
    assert due.total == Decimal("1000.00")
    assert due.payable and not due.prosecution and due.clock_running


def test_customs_interest_rate_is_a_setting_and_off_by_default():
    debt = customs("1000", post_clearance=True)
    assert amount_due(debt, nicosia(2027, 3, 12)).interest == Decimal("0.00")
    rulebook = Rulebook(customs_debts=(CustomsRules(interest_rate=Decimal("0.0365")),))
    # From the end of the art. 94 period (12 March 2026) to 12 March 2027: 365 days.
    due = amount_due(debt, nicosia(2027, 3, 12, 12, 0), rulebook=rulebook)
    assert due.interest == Decimal("40.15")  # 1100.00 x 3.65 %
    assert due.total == Decimal("1140.15")
    assert str(due.interest_basis) == "Customs Code 94(I)/2004, art. 52(3)"
    assert amount_due(debt, nicosia(2026, 3, 12, 23, 59), rulebook=rulebook).interest == 0


def test_customs_without_notice_date_has_no_running_clock():
    debt = customs(served_on=None)
    assert milestones(debt) == ()
    assert not amount_due(debt, nicosia(2026, 6, 1)).clock_running
