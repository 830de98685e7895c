"""Administrative fines, Law 47(I)/2024 art. 23A (LEGAL_RULES.md s. 3), with periods counted by
the Interpretation Law (Cap. 1), art. 31."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from debtbot.domain.amounts import amount_due
from debtbot.domain.calendar import NICOSIA
from debtbot.domain.debts import Debt, DebtKind
from debtbot.domain.milestones import MilestoneKind, milestones
from debtbot.domain.rules import DEFAULT_RULEBOOK

ACT = date(2026, 4, 20)  # date of the act imposing the fine (Annex II)


def nicosia(year, month, day, hour=0, minute=0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=NICOSIA).astimezone(UTC)


def admin_fine(served_on=ACT, finding_notice_on=None, amount="1500") -> Debt:
    return Debt(kind=DebtKind.ADMIN_FINE, reference="RTD-1", amount=Decimal(amount),
                served_on=served_on, finding_notice_on=finding_notice_on)


def by_kind(debt):
    return {m.kind: m for m in milestones(debt)}


def test_admin_fine_payment_due_within_5_days_of_the_act():
    payment = by_kind(admin_fine())[MilestoneKind.PAYMENT_DUE]
    assert payment.last_day == date(2026, 4, 25)
    assert payment.takes_effect == nicosia(2026, 4, 26)
    assert str(payment.legal_basis) == "Law 47(I)/2024, art. 23A(6)"
    assert payment.reminder and payment.payable_after
    assert payment.amount_after is None  # the law adds no surcharge


def test_admin_fine_court_30_days_after_the_payment_deadline():
    court = by_kind(admin_fine())[MilestoneKind.COURT]
    assert court.last_day == date(2026, 5, 25)
    assert court.takes_effect == nicosia(2026, 5, 26)
    assert str(court.legal_basis) == "Law 47(I)/2024, art. 23A(10)"
    assert court.reminder


def test_admin_fine_amount_comes_from_the_registry_unchanged():
    for moment in (nicosia(2026, 4, 21), nicosia(2026, 4, 30), nicosia(2026, 6, 30)):
        due = amount_due(admin_fine(amount="3000"), moment)
        assert due.total == Decimal("3000.00") and due.surcharge == Decimal("0.00")
        assert due.payable and not due.prosecution and due.clock_running


def test_admin_fine_representations_within_5_working_days_across_orthodox_easter():
    # Finding notice Wednesday 8 April 2026: Good Friday 10th, Easter Monday 13th and Easter
    # Tuesday 14th (the offices' closure day) skipped.
    debt = admin_fine(finding_notice_on=date(2026, 4, 8))
    representations = by_kind(debt)[MilestoneKind.REPRESENTATIONS]
    assert representations.last_day == date(2026, 4, 20)
    assert representations.takes_effect == nicosia(2026, 4, 21)
    assert str(representations.legal_basis) == "Law 47(I)/2024, art. 23A(4), Annex II"
    assert not representations.reminder
    assert [m.kind for m in milestones(debt)] == [
        MilestoneKind.REPRESENTATIONS, MilestoneKind.PAYMENT_DUE, MilestoneKind.COURT,
    ]


def test_admin_fine_representations_closure_days_open_by_the_setting():
    rulebook = DEFAULT_RULEBOOK.with_settings(closure_days_closed=False)
    debt = admin_fine(finding_notice_on=date(2026, 4, 8))
    found = {m.kind: m for m in milestones(debt, rulebook=rulebook)}
    assert found[MilestoneKind.REPRESENTATIONS].last_day == date(2026, 4, 17)


def test_admin_fine_representations_christmas_eve_is_not_an_office_working_day():
    # Finding notice Friday 18 December 2026: 21, 22, 23 December, then 24 (closed), 25 and
    # 26 (holidays), 28 and 29 December.
    debt = admin_fine(served_on=None, finding_notice_on=date(2026, 12, 18))
    assert by_kind(debt)[MilestoneKind.REPRESENTATIONS].last_day == date(2026, 12, 29)


def test_admin_fine_payment_5_days_skip_a_sunday_inside_them_art_31_delta():
    # Act on Wednesday 6 May 2026: 7, 8, 9 May, Sunday 10 not counted, 11, 12 May.
    debt = admin_fine(served_on=date(2026, 5, 6))
    payment = by_kind(debt)[MilestoneKind.PAYMENT_DUE]
    assert payment.last_day == date(2026, 5, 12)
    assert payment.takes_effect == nicosia(2026, 5, 13)
    # The court date moves with it: 30 days after 12 May is Thursday 11 June.
    court = by_kind(debt)[MilestoneKind.COURT]
    assert court.last_day == date(2026, 6, 11)
    assert court.takes_effect == nicosia(2026, 6, 12)


def test_admin_fine_payment_5_days_across_orthodox_easter_art_31_delta():
    # Act on Wednesday 8 April 2026: 9, (Good Friday), 11, (Easter Sunday, Easter Monday),
    # 14, 15, 16 April. Easter Tuesday is not a public holiday and 23A(6) says days, not
    # working days: it counts.
    debt = admin_fine(served_on=date(2026, 4, 8))
    payment = by_kind(debt)[MilestoneKind.PAYMENT_DUE]
    assert payment.last_day == date(2026, 4, 16)
    court = by_kind(debt)[MilestoneKind.COURT]
    assert court.last_day == date(2026, 5, 16)  # day 30 after 16 April, a Saturday


def test_admin_fine_court_30_day_period_ending_on_a_holiday_moves_art_31():
    # Act on Monday 24 August 2026: paid by Saturday 29 August; day 30 after it is
    # Monday 28 September, unmoved. Act on Thursday 27 August: paid by Wednesday 2 September
    # (Sunday 30 August not counted); day 30 is Friday 2 October. Act on Tuesday 25 August:
    # paid by Monday 31 August; day 30 is Wednesday 30 September. Act on Wednesday 26 August:
    # paid by Tuesday 1 September; day 30 is Thursday 1 October, Independence Day: Friday 2nd.
    assert by_kind(admin_fine(served_on=date(2026, 8, 24)))[
        MilestoneKind.COURT].last_day == date(2026, 9, 28)
    court = by_kind(admin_fine(served_on=date(2026, 8, 26)))[MilestoneKind.COURT]
    assert court.last_day == date(2026, 10, 2)


def test_admin_fine_representations_before_the_act_runs_its_own_clock():
    debt = admin_fine(served_on=None, finding_notice_on=date(2026, 11, 20))  # a Friday
    assert [m.kind for m in milestones(debt)] == [MilestoneKind.REPRESENTATIONS]
    assert milestones(debt)[0].last_day == date(2026, 11, 27)


def test_admin_fine_without_act_date_has_no_running_clock():
    debt = admin_fine(served_on=None)
    assert milestones(debt) == ()
    assert not amount_due(debt, nicosia(2026, 6, 1)).clock_running


def test_admin_fine_amounts_by_role_doubled_then_quadrupled_within_two_years():
    rules = DEFAULT_RULEBOOK.admin_fine(ACT)
    assert rules.fine_for("driver", 0) == Decimal("750")
    assert rules.fine_for("owner", 0) == Decimal("1500")
    assert rules.fine_for("intermediary", 0) == Decimal("1500")
    assert rules.fine_for("driver", 1) == Decimal("1500")
    assert rules.fine_for("driver", 2) == Decimal("3000")
    assert rules.fine_for("owner", 5) == Decimal("6000")
    assert rules.repeat_window_years == 2
