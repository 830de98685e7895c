"""DEBTBOT_RULES_FILE as an operator meets it: `debtbot rules show` prints the law in force,
and a file the rule book cannot take stops `debtbot rules show` and `debtbot run` with one
line naming the file, the version and the field."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from debtbot.cli import app
from debtbot.rulebook import load_rulebook
from debtbot.settings import Settings

EXAMPLE = Path(__file__).parents[1] / "examples" / "rules-2025-amendment.toml"

GOOD = """
[[version]]
kind = "out_of_court_fine"
effective_from = 2026-11-01
surcharge_days = 90
prosecution_days = 105
basis = "Law 99(I)/2026"
"""


@pytest.fixture
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    for name in ("DEBTBOT_TELEGRAM_TOKEN", "DEBTBOT_RULES_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DEBTBOT_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'r.sqlite3'}")
    monkeypatch.setenv("DEBTBOT_HASH_KEY", "rules-test-key")
    return tmp_path


def with_rules(monkeypatch: pytest.MonkeyPatch, folder: Path, text: str) -> Path:
    path = folder / "rules.toml"
    path.write_text(text, encoding="utf-8")
    monkeypatch.setenv("DEBTBOT_RULES_FILE", str(path))
    return path


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, list(args))


def test_rules_show_prints_each_kinds_versions_with_dates_and_bases(environment, monkeypatch):
    path = with_rules(monkeypatch, environment, GOOD)

    result = invoke("rules", "show")

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    start = lines.index("out_of_court_fine")
    assert lines[start:start + 13] == [
        "out_of_court_fine",
        "  debts served before 2026-11-01 (built in)",
        "    basis: Regulations 2021, form Type E",
        "    payable_after_hours = 72  [Regulations 2021, form Type E, note 1]",
        "    driver_nomination_days = 15  [Regulations 2021, form Type E, note 9]",
        "    remind_driver_nomination = false",
        "    surcharge_days = 30  [Regulations 2021, form Type E, note 3]",
        "    surcharge_rate = 0.5  [Regulations 2021, form Type E, note 3]",
        "    prosecution_days = 45  [Regulations 2021, form Type E, note 4]",
        f"  debts served from 2026-11-01 ({path})",
        "    basis: Law 99(I)/2026",
        "    surcharge_days = 90",
        "    prosecution_days = 105",
    ]
    assert "  debts due on any date (built in)" in lines  # tax counts from its due date
    assert "    time_bar_years = 6  [Customs Code 94(I)/2004, art. 113]" in lines
    assert lines[-1] == (
        "From settings: reminder lead days 7, 1 (DEBTBOT_REMINDER_LEAD_DAYS); fine warrants "
        "reminded every 30 days (DEBTBOT_WARRANT_REMINDER_EVERY_DAYS); office closure days "
        "closed (DEBTBOT_CLOSURE_DAYS_CLOSED); customs interest not computed "
        "(DEBTBOT_CUSTOMS_INTEREST_RATE)."
    )


def test_rules_show_without_a_file_is_the_built_in_law_and_the_settings(environment, monkeypatch):
    monkeypatch.setenv("DEBTBOT_WARRANT_REMINDER_EVERY_DAYS", "14")
    monkeypatch.setenv("DEBTBOT_REMINDER_LEAD_DAYS", "10,3")
    monkeypatch.setenv("DEBTBOT_CUSTOMS_INTEREST_RATE", "0.04")

    result = invoke("rules", "show")

    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == "Rules in force: built in, and from no DEBTBOT_RULES_FILE."
    assert "  debts served on any date (built in)" in result.stdout
    assert "reminder lead days 10, 3" in result.stdout
    assert "fine warrants reminded every 14 days" in result.stdout
    assert "customs interest 0.04 a year" in result.stdout


def test_rules_show_gives_the_example_files_basis_in_each_language(environment, monkeypatch):
    monkeypatch.setenv("DEBTBOT_RULES_FILE", str(EXAMPLE))

    result = invoke("rules", "show")

    assert result.exit_code == 0
    assert "    surcharge_days = 90\n    prosecution_days = 105\n" in result.stdout
    assert "           el: Τροποποίηση του 2025" in result.stdout
    assert "           tr: Mahkeme dışı" in result.stdout


BAD = {
    "missing file": (None, "{path}: no such file (DEBTBOT_RULES_FILE)"),
    "syntax error": (
        GOOD.replace("surcharge_days = 90", "surcharge_days 90"),
        "{path}: not valid TOML: Expected '=' after a key in a key/value pair (at line 5, "
        "column 16)",
    ),
    "unknown kind": (
        GOOD.replace('"out_of_court_fine"', '"parking_fine"'),
        "{path}: version 1: kind: 'parking_fine' is not a kind of debt (one of "
        "out_of_court_fine, fine_warrant, admin_fine, tax, customs)",
    ),
    "unknown field": (
        GOOD + "late_fee = 10\n",
        "{path}: version 1 (out_of_court_fine from 2026-11-01): late_fee: unknown field for "
        "out_of_court_fine (known: ",
    ),
    "not a date": (
        GOOD.replace("2026-11-01", '"1 November 2026"'),
        "{path}: version 1 (out_of_court_fine): effective_from: '1 November 2026' is not a "
        "date (YYYY-MM-DD, e.g. 2025-06-01)",
    ),
    "duplicate version": (
        GOOD + GOOD.replace("90", "60"),
        "{path}: version 2 (out_of_court_fine from 2026-11-01): effective_from: version 1 takes "
        "effect on the same day; a day has one version of a kind",
    ),
    "negative period": (
        GOOD.replace("surcharge_days = 90", "surcharge_days = -90"),
        "{path}: version 1 (out_of_court_fine from 2026-11-01): surcharge_days: -90 is negative",
    ),
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_rules_file_stops_rules_show_with_one_line(environment, monkeypatch, case):
    text, expected = BAD[case]
    path = environment / "rules.toml"
    if text is None:
        monkeypatch.setenv("DEBTBOT_RULES_FILE", str(path))
    else:
        with_rules(monkeypatch, environment, text)

    result = invoke("rules", "show")

    assert result.exit_code == 1
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith(expected.format(path=path))
    assert "Traceback" not in result.output


@pytest.mark.parametrize("case", ["missing file", "negative period"])
def test_a_bad_rules_file_stops_run_before_anything_starts(environment, monkeypatch, case):
    text, expected = BAD[case]
    path = environment / "rules.toml"
    if text is None:
        monkeypatch.setenv("DEBTBOT_RULES_FILE", str(path))
    else:
        with_rules(monkeypatch, environment, text)
    monkeypatch.setenv("DEBTBOT_TELEGRAM_TOKEN", "123:test")

    result = invoke("run")

    assert result.exit_code == 1
    assert result.stderr.splitlines() == [expected.format(path=path)]
    assert not (environment / "r.sqlite3").exists()  # nothing started, not even the database


def test_the_settings_that_are_rules_reach_the_rule_book(tmp_path: Path):
    """The bug of issue #11: Rulebook.with_settings was called only in tests."""
    path = tmp_path / "rules.toml"
    path.write_text(GOOD, encoding="utf-8")
    settings = Settings(warrant_reminder_every_days=14, reminder_lead_days=[10, 3],
                        closure_days_closed=False, customs_interest_rate="0.04",
                        rules_file=path, _env_file=None)

    rulebook = load_rulebook(settings)

    assert rulebook.fine_warrant(None).reminder_every_days == 14
    assert [lead.days for lead in rulebook.reminder_leads] == [10, 3]
    assert rulebook.admin_fine(None).closure_days_closed is False
    assert rulebook.customs(None).interest_rate == Decimal("0.04")
    assert [v.surcharge_days for v in rulebook.out_of_court_fines] == [30, 90]


def test_default_settings_and_no_file_keep_the_one_built_in_rule_book(environment):
    from debtbot.domain.rules import DEFAULT_RULEBOOK

    assert load_rulebook(Settings(_env_file=None)) is DEFAULT_RULEBOOK  # caches stay shared
