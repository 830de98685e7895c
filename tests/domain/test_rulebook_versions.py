"""Rule sets are data with an effective date; a debt is judged by the version in force on its
clock date (service, or the due date for tax)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from debtbot.domain.debts import DebtKind
from debtbot.domain.rules import (
    DEFAULT_RULEBOOK,
    AdminFineRules,
    CustomsRules,
    OutOfCourtFineRules,
    Rulebook,
    TaxRules,
)

CHANGE = date(2025, 6, 1)


def test_default_rulebook_holds_the_seeds_values():
    assert DEFAULT_RULEBOOK.out_of_court_fine(date(2021, 1, 1)).prosecution_days == 45
    assert DEFAULT_RULEBOOK.admin_fine(date(2024, 5, 1)).payment_days == 5
    assert DEFAULT_RULEBOOK.admin_fine(date(2024, 5, 1)).court_days_after_payment == 30
    assert DEFAULT_RULEBOOK.tax(date(2026, 1, 1)).surcharge_rate == Decimal("0.05")
    customs = DEFAULT_RULEBOOK.customs(date(2026, 1, 1))
    assert (customs.offence_days, customs.forfeiture_days, customs.time_bar_years) == (10, 60, 6)
    assert customs.post_clearance_rate == Decimal("0.10")
    assert customs.interest_rate is None


def test_version_in_force_is_chosen_by_date_of_service():
    longer = OutOfCourtFineRules(effective_from=CHANGE, surcharge_days=90, prosecution_days=105)
    rulebook = DEFAULT_RULEBOOK.with_version(longer)
    assert rulebook.out_of_court_fine(date(2025, 5, 31)).surcharge_days == 30
    assert rulebook.out_of_court_fine(CHANGE) is longer
    assert rulebook.out_of_court_fine(date(2030, 1, 1)) is longer
    assert rulebook.for_kind(DebtKind.OUT_OF_COURT_FINE, CHANGE) is longer
    # Adding a version leaves the original rule book untouched.
    assert DEFAULT_RULEBOOK.out_of_court_fine(CHANGE).surcharge_days == 30


def test_versions_are_kept_sorted_whatever_the_order_given():
    later = AdminFineRules(effective_from=date(2026, 1, 1), payment_days=10)
    rulebook = Rulebook(admin_fines=(later, AdminFineRules()))
    assert rulebook.versions(DebtKind.ADMIN_FINE)[-1] is later
    assert rulebook.admin_fine(date(2025, 12, 31)).payment_days == 5
    assert rulebook.admin_fine(date(2026, 1, 1)).payment_days == 10


def test_two_versions_on_the_same_date_are_refused():
    with pytest.raises(ValueError):
        Rulebook(taxes=(TaxRules(effective_from=CHANGE), TaxRules(effective_from=CHANGE)))


def test_no_version_in_force_before_the_first_effective_date_is_an_error():
    rulebook = Rulebook(customs_debts=(CustomsRules(effective_from=CHANGE),))
    with pytest.raises(LookupError):
        rulebook.customs(date(2025, 5, 31))


def test_no_clock_date_uses_the_newest_version():
    rulebook = DEFAULT_RULEBOOK.with_version(
        OutOfCourtFineRules(effective_from=CHANGE, surcharge_days=90, prosecution_days=105)
    )
    assert rulebook.out_of_court_fine(None).surcharge_days == 90


def test_values_the_law_leaves_to_settings_apply_to_every_version():
    later = CustomsRules(effective_from=CHANGE, offence_days=20)
    rulebook = DEFAULT_RULEBOOK.with_version(later).with_settings(
        customs_interest_rate=Decimal("0.04"), warrant_reminder_every_days=14,
        remind_driver_nomination=True,
    )
    assert rulebook.customs(date(2020, 1, 1)).interest_rate == Decimal("0.04")
    assert rulebook.customs(CHANGE).interest_rate == Decimal("0.04")
    assert rulebook.customs(CHANGE).offence_days == 20
    assert rulebook.fine_warrant(None).reminder_every_days == 14
    assert rulebook.out_of_court_fine(CHANGE).remind_driver_nomination
    assert DEFAULT_RULEBOOK.customs(CHANGE).interest_rate is None
