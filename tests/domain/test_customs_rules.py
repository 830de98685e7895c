"""Customs debts, Customs Code 94(I)/2004 arts. 52, 94, 111-113 (LEGAL_RULES.md s. 5), with
periods counted by the Interpretation Law (Cap. 1), art. 31."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from debtbot.domain.amounts import amount_due
from debtbot.domain.calendar import NICOSIA
from debtbot.domain.debts import Debt, DebtKind
from debtbot.domain.milestones import MilestoneKind, milestones
from debtbot.domain.rules import CustomsRules, Rulebook

# Notice received; day 10 = 12 March, day 60 = Friday 1 May (Labour Day, so Saturday 2 May),
# day 75 = Saturday 16 May.
NOTICE = date(2026, 3, 2)


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
    # Clocks go forward on 29 March 2026, inside the 60 days. Day 60 is Labour Day (a public
    # holiday): Cap. 1 art. 31(β) runs the period to Saturday 2 May.
    forfeiture = by_kind(customs())[MilestoneKind.FORFEITURE]
    assert forfeiture.last_day == date(2026, 5, 2)
    assert forfeiture.takes_effect == datetime(2026, 5, 2, 21, 0, tzinfo=UTC)
    assert str(forfeiture.legal_basis) == "Customs Code 94(I)/2004, art. 111"
    assert forfeiture.reminder


def test_customs_bank_freeze_risk_only_over_3000():
    assert MilestoneKind.BANK_FREEZE_RISK not in by_kind(customs("3000"))
    freeze = by_kind(customs("3000.01"))[MilestoneKind.BANK_FREEZE_RISK]
    assert str(freeze.legal_basis) == "Customs Code 94(I)/2004, art. 111A"
    assert freeze.last_day == date(2026, 5, 16)  # after the art. 146 recourse period


def test_customs_bank_freeze_and_land_charge_from_the_end_of_the_art_146_period():
    # 111A(1)(a), 111B(1)(a): not before the 60-day review period (art. 112) and the 75-day
    # recourse period (Constitution art. 146(3)) have passed: the later one, day 75.
    found = by_kind(customs("9000"))
    for kind in (MilestoneKind.BANK_FREEZE_RISK, MilestoneKind.PROPERTY_CHARGE):
        assert found[kind].last_day == date(2026, 5, 16)
        assert found[kind].takes_effect == nicosia(2026, 5, 17)
        assert found[kind].takes_effect > found[MilestoneKind.FORFEITURE].takes_effect
    # Notice on 1 April 2026: day 75 is Monday 15 June, unmoved; on 17 March: day 75 is
    # Sunday 31 May, and Monday 1 June is Pentecost Monday: Tuesday 2 June.
    assert by_kind(customs("9000", served_on=date(2026, 3, 17)))[
        MilestoneKind.BANK_FREEZE_RISK].last_day == date(2026, 6, 2)


def test_customs_bank_freeze_and_land_charge_wait_for_the_art_112_review_period():
    rulebook = Rulebook(customs_debts=(CustomsRules(review_days=90),))
    found = {m.kind: m for m in milestones(customs("9000"), rulebook=rulebook)}
    # Day 90 is Sunday 31 May, Monday 1 June a holiday: the review period runs to 2 June.
    assert found[MilestoneKind.BANK_FREEZE_RISK].last_day == date(2026, 6, 2)
    assert found[MilestoneKind.PROPERTY_CHARGE].last_day == date(2026, 6, 2)
    assert found[MilestoneKind.FORFEITURE].last_day == date(2026, 5, 2)


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


def test_customs_interest_only_with_the_52_1_surcharge():
    rulebook = Rulebook(customs_debts=(CustomsRules(interest_rate=Decimal("0.0365")),))
    late = nicosia(2027, 3, 12, 12, 0)
    # An ordinary assessment carries no 52(1) surcharge, so 52(3) charges it no interest.
    ordinary = amount_due(customs("1000"), late, rulebook=rulebook)
    assert ordinary.interest == Decimal("0.00") and ordinary.total == Decimal("1000.00")
    assert ordinary.interest_basis is None
    # Nor one whose surcharge 52(2) waived (voluntary disclosure).
    waived = customs("1000", post_clearance=True, surcharge_rate=Decimal("0"))
    assert amount_due(waived, late, rulebook=rulebook).interest == Decimal("0.00")
    # The post-clearance assessment with its surcharge does.
    surcharged = customs("1000", post_clearance=True)
    assert amount_due(surcharged, late, rulebook=rulebook).interest > 0


def test_customs_offence_day_10_on_a_sunday_moves_to_monday_art_31():
    # Notice on 7 May 2026: day 10 is Sunday 17 May; an offence only from Tuesday 19 May.
    debt = customs(served_on=date(2026, 5, 7))
    offence = by_kind(debt)[MilestoneKind.OFFENCE]
    assert offence.last_day == date(2026, 5, 18)
    assert offence.takes_effect == nicosia(2026, 5, 19)


def test_customs_forfeiture_day_60_on_a_sunday_moves_to_monday_art_31():
    # Notice on 8 September 2026: day 60 is Saturday 7 November, unmoved; on 9 September:
    # day 60 is Sunday 8 November: Monday 9 November.
    assert by_kind(customs(served_on=date(2026, 9, 8)))[
        MilestoneKind.FORFEITURE].last_day == date(2026, 11, 7)
    assert by_kind(customs(served_on=date(2026, 9, 9)))[
        MilestoneKind.FORFEITURE].last_day == date(2026, 11, 9)


def test_customs_time_bar_on_a_sunday_moves_to_monday_art_31():
    # Notified 6 June 2026: six years later is Sunday 6 June 2032.
    bar = by_kind(customs(served_on=date(2026, 6, 6)))[MilestoneKind.TIME_BAR]
    assert bar.last_day == date(2032, 6, 7)


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
