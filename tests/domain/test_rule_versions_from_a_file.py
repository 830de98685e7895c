"""A rules file's [[version]] tables become rule versions, each citing its basis; anything
the rule book cannot take is refused with one line naming the version and the field."""

from __future__ import annotations

import tomllib
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from debtbot.domain.debts import Debt, DebtKind
from debtbot.domain.legal import CitationText, regulations_note
from debtbot.domain.milestones import MilestoneKind, milestones
from debtbot.domain.rule_versions import RuleVersionError, versions_from_document
from debtbot.domain.rules import DEFAULT_RULEBOOK, OutOfCourtFineRules

EXAMPLE = Path(__file__).parents[2] / "examples" / "rules-2025-amendment.toml"


def versions(text: str):  # type: ignore[no-untyped-def]
    return versions_from_document(tomllib.loads(text), base=DEFAULT_RULEBOOK)


def refused(text: str) -> str:
    with pytest.raises(RuleVersionError) as error:
        versions(text)
    message = str(error.value)
    assert "\n" not in message
    return message


LONGER = """
[[version]]
kind = "out_of_court_fine"
effective_from = 2025-06-01
surcharge_days = 90
prosecution_days = 105
basis = { el = "Νόμος 2025", en = "Law of 2025", tr = "2025 Yasası" }
"""


def test_a_version_changes_only_what_it_names_and_cites_its_basis_for_it():
    [rules] = versions(LONGER)

    assert isinstance(rules, OutOfCourtFineRules)
    assert rules.effective_from == date(2025, 6, 1)
    assert (rules.surcharge_days, rules.prosecution_days) == (90, 105)
    assert rules.surcharge_rate == Decimal("0.5")  # unchanged: the built-in law's
    basis = CitationText(el="Νόμος 2025", en="Law of 2025", tr="2025 Yasası")
    assert rules.basis == basis
    assert rules.surcharge_basis == basis and rules.prosecution_basis == basis
    assert rules.payable_basis == regulations_note("1")  # what it did not change keeps note 1


def test_a_citation_is_read_in_the_readers_language():
    [rules] = versions(LONGER)

    assert rules.basis.in_language("tr") == "2025 Yasası"  # type: ignore[union-attr]
    assert str(rules.basis) == "Law of 2025"


def test_the_file_version_judges_fines_served_from_its_date_and_not_before():
    rulebook = DEFAULT_RULEBOOK
    for rules in versions(LONGER):
        rulebook = rulebook.with_version(rules)

    def surcharge_last_day(served: date) -> date:
        debt = Debt(DebtKind.OUT_OF_COURT_FINE, "R", Decimal("100"), served)
        found = milestones(debt, rulebook=rulebook)
        return next(m.last_day for m in found if m.kind is MilestoneKind.SURCHARGE)

    assert surcharge_last_day(date(2025, 5, 31)) == date(2025, 6, 30)  # day 30, as before
    assert surcharge_last_day(date(2025, 6, 3)) == date(2025, 9, 1)  # day 90


def test_a_rate_written_as_a_toml_float_is_the_decimal_written():
    [rules] = versions('[[version]]\nkind = "tax"\neffective_from = 2027-01-01\n'
                       'surcharge_rate = 0.07\nbasis = "Tax Collection (Amendment) Law 2026"\n')

    assert rules.surcharge_rate == Decimal("0.07")
    assert rules.payment_basis == "Tax Collection (Amendment) Law 2026"


def test_an_admin_fine_tariff_and_hours_before_payment_can_change():
    [fine, admin] = versions(
        '[[version]]\nkind = "out_of_court_fine"\neffective_from = 2027-01-01\n'
        'payable_after_hours = 24\nbasis = "Regulations 2026"\n'
        '[[version]]\nkind = "admin_fine"\neffective_from = 2027-01-01\n'
        'fines = { driver = 1000 }\nrepeat_multipliers = [1, 3]\nbasis = "Law 1(I)/2027"\n'
    )

    assert fine.payable_after.total_seconds() == 24 * 3600  # type: ignore[union-attr]
    assert admin.fine_for("driver", 1) == Decimal("3000")  # type: ignore[union-attr]
    assert admin.fine_for("owner", 0) == Decimal("1500")  # type: ignore[union-attr]


def test_the_example_file_holds_the_reported_2025_periods():
    [rules] = versions_from_document(tomllib.loads(EXAMPLE.read_text("utf-8")),
                                     base=DEFAULT_RULEBOOK)

    assert (rules.surcharge_days, rules.prosecution_days) == (90, 105)  # type: ignore[union-attr]
    assert {"el", "en", "tr"} <= {k for k in ("el", "en", "tr") if getattr(rules.basis, k)}


def test_an_unknown_kind_is_refused():
    assert refused('[[version]]\nkind = "parking"\neffective_from = 2025-06-01\nbasis = "x"\n') == (
        "version 1: kind: 'parking' is not a kind of debt (one of out_of_court_fine, "
        "fine_warrant, admin_fine, tax, customs)"
    )


def test_an_unknown_field_is_refused_by_name():
    message = refused(LONGER.replace("surcharge_days = 90", "surcharge_dayz = 90"))

    assert message.startswith(
        "version 1 (out_of_court_fine from 2025-06-01): surcharge_dayz: unknown field for "
        "out_of_court_fine (known: "
    )


def test_a_setting_is_not_a_rule_version():
    assert refused(
        '[[version]]\nkind = "fine_warrant"\neffective_from = 2025-06-01\nbasis = "x"\n'
        "reminder_every_days = 14\n"
    ) == ("version 1 (fine_warrant from 2025-06-01): reminder_every_days: is a setting, not a "
          "rule version (DEBTBOT_WARRANT_REMINDER_EVERY_DAYS)")


@pytest.mark.parametrize(("value", "problem"), [
    ('"soon"', "'soon' is not a date (YYYY-MM-DD, e.g. 2025-06-01)"),
    ("2025-06-01T00:00:00", "2025-06-01T00:00:00 is a time; give a date, e.g. 2025-06-01"),
    ("20250601", "20250601 is not a date (YYYY-MM-DD, e.g. 2025-06-01)"),
])
def test_effective_from_must_be_a_date(value: str, problem: str):
    text = LONGER.replace("effective_from = 2025-06-01", f"effective_from = {value}")

    assert refused(text) == f"version 1 (out_of_court_fine): effective_from: {problem}"


def test_effective_from_may_be_written_as_a_quoted_date():
    [rules] = versions(LONGER.replace("= 2025-06-01", '= "2025-06-01"'))

    assert rules.effective_from == date(2025, 6, 1)


def test_two_versions_of_a_kind_on_the_same_day_are_refused():
    message = refused(LONGER + LONGER.replace("90", "60"))

    assert message == (
        "version 2 (out_of_court_fine from 2025-06-01): effective_from: version 1 takes effect "
        "on the same day; a day has one version of a kind"
    )


def test_a_version_on_the_day_of_a_built_in_one_is_refused():
    message = refused(LONGER.replace("2025-06-01", "0001-01-01"))

    assert message.endswith("effective_from: a built-in version takes effect on that day")


def test_versions_of_different_kinds_may_share_a_day():
    tax = '[[version]]\nkind = "tax"\neffective_from = 2025-06-01\nbasis = "x"\n'

    assert len(versions(LONGER + tax)) == 2


@pytest.mark.parametrize(("field", "value", "problem"), [
    ("surcharge_days", "-1", "-1 is negative"),
    ("surcharge_rate", "-0.5", "-0.5 is negative"),
    ("surcharge_days", '"90"', "'90' is not a whole number of days"),
    ("surcharge_days", "90.5", "90.5 is not a whole number of days"),
    ("remind_driver_nomination", "1", "1 is not true or false"),
])
def test_periods_and_amounts_must_be_whole_or_non_negative(field: str, value: str, problem: str):
    text = LONGER.replace("surcharge_days = 90\n", f"{field} = {value}\n")

    assert refused(text) == f"version 1 (out_of_court_fine from 2025-06-01): {field}: {problem}"


def test_prosecution_cannot_come_before_the_surcharge():
    assert refused(LONGER.replace("prosecution_days = 105", "prosecution_days = 60")) == (
        "version 1 (out_of_court_fine from 2025-06-01): prosecution_days: 60 comes before "
        "surcharge_days 90"
    )


def test_every_version_cites_its_basis():
    text = "\n".join(line for line in LONGER.splitlines() if not line.startswith("basis"))

    assert refused(text) == ("version 1 (out_of_court_fine from 2025-06-01): basis: missing: "
                             "every version cites its legal basis")


def test_a_basis_in_an_unknown_language_is_refused():
    message = refused(LONGER.replace('tr = "2025 Yasası"', 'de = "Gesetz"'))

    assert message.endswith("basis: unknown language 'de' (el, en, tr)")


def test_anything_but_version_tables_is_refused():
    with pytest.raises(RuleVersionError, match="unknown key 'versions'"):
        versions_from_document({"versions": []}, base=DEFAULT_RULEBOOK)


def test_an_empty_file_adds_nothing():
    assert versions("") == ()


def test_a_date_time_is_not_taken_for_its_day():
    with pytest.raises(RuleVersionError):
        versions_from_document(
            {"version": [{"kind": "tax", "effective_from": datetime(2025, 6, 1), "basis": "x"}]},
            base=DEFAULT_RULEBOOK,
        )
