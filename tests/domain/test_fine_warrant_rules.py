"""Fine warrants: no statutory countdown (police announcement, LEGAL_RULES.md s. 2)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from debtbot.domain.amounts import amount_due
from debtbot.domain.debts import Debt, DebtKind
from debtbot.domain.milestones import milestones, next_milestone
from debtbot.domain.rules import DEFAULT_RULEBOOK, FineWarrantRules, Rulebook

NOW = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)


def warrant(served_on=date(2026, 1, 10)) -> Debt:
    return Debt(kind=DebtKind.FINE_WARRANT, reference="W-1", amount=Decimal("300"),
                served_on=served_on)


def test_fine_warrant_has_no_statutory_countdown():
    assert milestones(warrant()) == ()
    assert next_milestone(warrant(), NOW) is None
    due = amount_due(warrant(), NOW)
    assert not due.clock_running
    assert due.payable and not due.prosecution
    assert due.total == Decimal("300.00") and due.surcharge == Decimal("0.00")


def test_fine_warrant_without_date_is_payable_and_never_surcharged():
    due = amount_due(warrant(served_on=None), NOW)
    assert due.payable and due.total == Decimal("300.00")


def test_fine_warrant_reminders_are_periodic_every_30_days_by_default():
    assert DEFAULT_RULEBOOK.fine_warrant(date(2026, 1, 10)).reminder_every_days == 30
    assert DEFAULT_RULEBOOK.fine_warrant(None).reminder_every_days == 30


def test_fine_warrant_reminder_period_is_a_rule_set_value():
    rulebook = Rulebook(fine_warrants=(FineWarrantRules(reminder_every_days=14),))
    assert rulebook.fine_warrant(date(2026, 1, 10)).reminder_every_days == 14
