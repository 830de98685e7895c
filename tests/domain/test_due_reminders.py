"""Reminders before the thresholds the rules mark (LEGAL_RULES.md: leads 7 days and 1 day)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from debtbot.domain.calendar import NICOSIA, local_date, start_of_day
from debtbot.domain.debts import Debt, DebtKind, DebtStatus
from debtbot.domain.milestones import MilestoneKind, milestones
from debtbot.domain.reminders import due_reminders, remind_at, served_on_window
from debtbot.domain.rules import DEFAULT_RULEBOOK, OutOfCourtFineRules

LEADS = (timedelta(days=7), timedelta(days=1))
SERVED = date(2026, 5, 4)  # day 31 = 4 June, day 46 = 19 June


def nicosia(year, month, day, hour=0, minute=0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=NICOSIA).astimezone(UTC)


def debt(kind=DebtKind.OUT_OF_COURT_FINE, served_on=SERVED, amount="100", **extra) -> Debt:
    return Debt(kind=kind, reference="R-1", amount=Decimal(amount), served_on=served_on,
                **extra)


def due(debts, now, **kwargs):
    return [(r.milestone.kind, r.lead) for r in due_reminders(debts, now, LEADS, **kwargs)]


def test_out_of_court_fine_reminded_7_days_before_the_surcharge():
    assert due([debt()], nicosia(2026, 5, 27, 23, 59)) == []
    reminders = due_reminders([debt()], nicosia(2026, 5, 28, 0, 0), LEADS)
    assert [(r.milestone.kind, r.lead) for r in reminders] == [
        (MilestoneKind.SURCHARGE, timedelta(days=7))
    ]
    assert reminders[0].remind_at == nicosia(2026, 5, 28)


def test_out_of_court_fine_reminded_1_day_before_the_surcharge_and_only_once():
    # On day 30 both leads have passed: only the latest (1 day) is offered.
    assert due([debt()], nicosia(2026, 6, 3, 10, 0)) == [
        (MilestoneKind.SURCHARGE, timedelta(days=1))
    ]


def test_out_of_court_fine_reminded_before_prosecution():
    assert due([debt()], nicosia(2026, 6, 12, 9, 0)) == [
        (MilestoneKind.PROSECUTION, timedelta(days=7))
    ]
    assert due([debt()], nicosia(2026, 6, 18, 9, 0)) == [
        (MilestoneKind.PROSECUTION, timedelta(days=1))
    ]


def test_no_reminder_once_the_threshold_has_passed():
    assert due([debt()], nicosia(2026, 6, 19, 0, 0)) == []


def test_no_reminder_for_paid_cancelled_or_unserved_debts():
    now = nicosia(2026, 6, 3, 10, 0)
    assert due([debt(status=DebtStatus.PAID)], now) == []
    assert due([debt(status=DebtStatus.CANCELLED)], now) == []
    assert due([debt(served_on=None)], now) == []
    assert due([debt(kind=DebtKind.FINE_WARRANT)], now) == []


def test_driver_nomination_reminder_only_when_the_rule_set_asks():
    now = nicosia(2026, 5, 19, 12, 0)  # day 15, the last day to name the driver
    assert due([debt()], now) == []
    rulebook = DEFAULT_RULEBOOK.with_version(
        OutOfCourtFineRules(effective_from=date(2026, 1, 1), remind_driver_nomination=True)
    )
    assert due([debt()], now, rulebook=rulebook) == [
        (MilestoneKind.DRIVER_NOMINATION, timedelta(days=1))
    ]


def test_admin_fine_reminded_before_payment_and_before_court():
    fine = debt(DebtKind.ADMIN_FINE, served_on=date(2026, 4, 20), amount="1500")
    assert due([fine], nicosia(2026, 4, 25, 8, 0)) == [
        (MilestoneKind.PAYMENT_DUE, timedelta(days=1))
    ]
    assert due([fine], nicosia(2026, 5, 19, 8, 0)) == [(MilestoneKind.COURT, timedelta(days=7))]


def test_tax_over_5000_reminded_before_day_30_after_due():
    tax = debt(DebtKind.TAX, served_on=None, amount="6000", due_on=date(2026, 7, 31))
    assert due([tax], nicosia(2026, 7, 31, 8, 0)) == [
        (MilestoneKind.PAYMENT_DUE, timedelta(days=1))
    ]
    assert due([tax], nicosia(2026, 8, 29, 8, 0)) == [
        (MilestoneKind.PROPERTY_CHARGE, timedelta(days=7))
    ]
    small = debt(DebtKind.TAX, served_on=None, amount="4000", due_on=date(2026, 7, 31))
    assert due([small], nicosia(2026, 8, 29, 8, 0)) == []


def test_customs_reminded_before_day_10_and_day_60():
    customs = debt(DebtKind.CUSTOMS, served_on=date(2026, 3, 2), amount="9000")
    assert due([customs], nicosia(2026, 3, 12, 8, 0)) == [
        (MilestoneKind.OFFENCE, timedelta(days=1))
    ]
    # Day 60 is Labour Day, 1 May: the period runs to Saturday 2 May (Cap. 1 art. 31), so
    # the 7-day reminder comes on 26 April.
    assert due([customs], nicosia(2026, 4, 25, 8, 0)) == []
    assert due([customs], nicosia(2026, 4, 26, 8, 0)) == [
        (MilestoneKind.FORFEITURE, timedelta(days=7))
    ]


def test_reminder_lead_counts_wall_clock_days_across_the_clock_change():
    # Served 5 March 2026: surcharge at 00:00 on 5 April (summer time); 7 days before is
    # 00:00 on 29 March, the day the clocks go forward.
    fine = debt(served_on=date(2026, 3, 5))
    reminders = due_reminders([fine], nicosia(2026, 3, 29, 0, 0), LEADS)
    assert [r.remind_at for r in reminders] == [start_of_day(date(2026, 3, 29))]


@pytest.mark.parametrize(
    ("kind", "milestone_kind"),
    [
        (DebtKind.OUT_OF_COURT_FINE, MilestoneKind.SURCHARGE),
        (DebtKind.OUT_OF_COURT_FINE, MilestoneKind.PROSECUTION),
        (DebtKind.ADMIN_FINE, MilestoneKind.PAYMENT_DUE),
        (DebtKind.ADMIN_FINE, MilestoneKind.COURT),
        (DebtKind.TAX, MilestoneKind.PAYMENT_DUE),
        (DebtKind.TAX, MilestoneKind.PROPERTY_CHARGE),
        (DebtKind.CUSTOMS, MilestoneKind.OFFENCE),
        (DebtKind.CUSTOMS, MilestoneKind.FORFEITURE),
    ],
)
@pytest.mark.parametrize("lead", LEADS)
@pytest.mark.parametrize(
    ("start", "end"),
    [
        (date(2026, 3, 27), date(2026, 3, 30)),  # around the clock change
        (date(2026, 4, 8), date(2026, 4, 16)),  # Orthodox Easter week
        (date(2026, 12, 20), date(2026, 12, 31)),  # Christmas on a Friday
        (date(2026, 5, 28), date(2026, 6, 3)),  # Sunday 31 May, Pentecost Monday 1 June
        (date(2026, 6, 21), date(2026, 6, 21)),  # one Sunday
        (date(2026, 4, 13), date(2026, 4, 13)),  # one Easter Monday
    ],
)
def test_served_on_window_matches_the_reminders_it_selects(
    kind, milestone_kind, lead, start, end
):
    windows = served_on_window(kind, milestone_kind, lead, start, end)
    selected = {
        date.fromordinal(ordinal)
        for low, high in windows
        for ordinal in range(low.toordinal(), high.toordinal() + 1)
    }
    expected = set()
    for offset in range(-100, 20):  # every reminder here falls within 60 days of day 0
        day0 = start + timedelta(days=offset)
        probe = debt(kind, served_on=day0, due_on=day0, amount="9000")
        for milestone in milestones(probe):
            reminded_on = local_date(remind_at(milestone, lead))
            if milestone.kind is milestone_kind and start <= reminded_on <= end:
                expected.add(day0)
    assert selected == expected
    assert len(windows) <= 1


def test_served_on_window_for_out_of_court_fines_is_shifted_by_31_minus_lead_days():
    windows = served_on_window(DebtKind.OUT_OF_COURT_FINE, MilestoneKind.SURCHARGE,
                               timedelta(days=7), date(2026, 6, 1), date(2026, 6, 7))
    assert windows == [(date(2026, 5, 8), date(2026, 5, 14))]


def test_served_on_window_follows_period_ends_moved_by_art_31():
    # Surcharge 1 day before: the period of a fine served 1 May 2026 ends on 2 June (Sunday
    # 31 May, Pentecost Monday), one served 2 May too; both are reminded on 2 June.
    windows = served_on_window(DebtKind.OUT_OF_COURT_FINE, MilestoneKind.SURCHARGE,
                               timedelta(days=1), date(2026, 6, 2), date(2026, 6, 2))
    assert windows == [(date(2026, 5, 1), date(2026, 5, 3))]
    # No fine is reminded on Monday 1 June: its period would have to end on a holiday.
    assert served_on_window(DebtKind.OUT_OF_COURT_FINE, MilestoneKind.SURCHARGE,
                            timedelta(days=1), date(2026, 5, 31), date(2026, 5, 31)) == []


def test_prosecution_reminder_planned_by_the_moved_date():
    # Served 7 May 2026: day 45 is Sunday 21 June, prosecution from Tuesday 23 June; the
    # 1-day reminder comes on Monday 22 June, not on the Saturday.
    fine = debt(served_on=date(2026, 5, 7))
    assert due([fine], nicosia(2026, 6, 21, 9, 0)) == [
        (MilestoneKind.PROSECUTION, timedelta(days=7))
    ]
    assert due([fine], nicosia(2026, 6, 22, 9, 0)) == [
        (MilestoneKind.PROSECUTION, timedelta(days=1))
    ]
    assert due([fine], nicosia(2026, 6, 22, 23, 59)) == [
        (MilestoneKind.PROSECUTION, timedelta(days=1))
    ]


def test_served_on_window_follows_rule_versions():
    rulebook = DEFAULT_RULEBOOK.with_version(
        OutOfCourtFineRules(effective_from=date(2026, 5, 10), surcharge_days=90,
                            prosecution_days=105)
    )
    windows = served_on_window(DebtKind.OUT_OF_COURT_FINE, MilestoneKind.SURCHARGE,
                               timedelta(days=1), date(2026, 6, 1), date(2026, 6, 30),
                               rulebook=rulebook)
    # Served up to 9 May: old 30 days (reminder on day 30); from 10 May: day 90 is August.
    # Served 1 May: day 30 is Sunday 31 May, then Pentecost Monday: reminded on 2 June.
    assert windows == [(date(2026, 5, 1), date(2026, 5, 9))]


def test_served_on_window_for_representations_is_empty():
    assert served_on_window(DebtKind.ADMIN_FINE, MilestoneKind.REPRESENTATIONS,
                            timedelta(days=1), date(2026, 6, 1), date(2026, 6, 30)) == []
