"""Rule versions from a rules file (DEBTBOT_RULES_FILE), as data: a change in the law that is
not built in yet, added at start without a release.

The file is TOML (read by the caller; this module only sees the parsed tables). Each
`[[version]]` table adds one version of one kind's rules:

    [[version]]
    kind = "out_of_court_fine"      # out_of_court_fine, fine_warrant, admin_fine, tax, customs
    effective_from = 2025-06-01     # a TOML date
    surcharge_days = 90             # only what changes; the rest is the built-in law's
    prosecution_days = 105
    basis = { el = "…", en = "…", tr = "…" }   # or basis = "text" (required)

`effective_from` is compared with the debt's clock date, as every version is: the date of
service for out-of-court fines (the day the notice was received, Type E note 11), fine
warrants, admin fines (the date of the act) and customs (the notice received); the due date
for tax (art. 4). A version applies to the debts whose clock date is on or after it, until
a later version; the built-in law (domain.rules) stays in force before it.

A version may change the periods, amounts and rates of `domain.rules` for its kind, by the
same names (`payable_after_hours` for the hours after which a fine can be paid, `fines` as a
table of role = amount, `repeat_multipliers` as a list). Each consequence whose number it
changes cites the version's `basis`, unless the version names one for it (`surcharge_basis
= "…"`). The values the law leaves to settings (the warrant reminder period, office closure
days, the customs interest rate) are not rule versions and are refused here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields, replace
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from debtbot.domain.debts import DebtKind
from debtbot.domain.legal import Basis, CitationText
from debtbot.domain.rules import (
    AdminFineRules,
    CustomsRules,
    FineWarrantRules,
    OutOfCourtFineRules,
    Rulebook,
    RuleSet,
    TaxRules,
)

RULES_BY_KIND: dict[DebtKind, type[RuleSet]] = {
    DebtKind.OUT_OF_COURT_FINE: OutOfCourtFineRules,
    DebtKind.FINE_WARRANT: FineWarrantRules,
    DebtKind.ADMIN_FINE: AdminFineRules,
    DebtKind.TAX: TaxRules,
    DebtKind.CUSTOMS: CustomsRules,
}

# What the law leaves to settings is not a rule version (domain.rules.Rulebook.with_settings).
SETTINGS_NOT_RULES = {
    "reminder_every_days": "DEBTBOT_WARRANT_REMINDER_EVERY_DAYS",
    "closure_days_closed": "DEBTBOT_CLOSURE_DAYS_CLOSED",
    "interest_rate": "DEBTBOT_CUSTOMS_INTEREST_RATE, the yearly rate of art. 52(3)",
}
# Names in the file that differ from the field's: hours read better than a duration.
_FILE_NAMES = {"payable_after": "payable_after_hours"}
_LANGUAGES = ("el", "en", "tr")


class RuleVersionError(ValueError):
    """A version the rule book cannot take; the message is one line naming the version and
    the field."""


def file_name(field_name: str) -> str:
    """The name a rules file gives `field_name` of a rule set."""
    return _FILE_NAMES.get(field_name, field_name)


def changeable_fields(kind: DebtKind) -> dict[str, str]:
    """{name in the file: field name} of what a version of `kind` may change."""
    found = {}
    for item in fields(RULES_BY_KIND[kind]):
        if item.name in ("effective_from", "basis") or item.name in SETTINGS_NOT_RULES:
            continue
        found[file_name(item.name)] = item.name
    return found


# Where a value's citation is not found by its name's stem.
_CITED_BY = {(TaxRules, "surcharge_rate"): "payment_basis"}


def basis_field(rules: type[RuleSet], name: str) -> str | None:
    """The `*_basis` field that cites the consequence `name` sets (`surcharge_days` →
    `surcharge_basis`), by the longest matching stem; None when no consequence is cited."""
    if (rules, name) in _CITED_BY:
        return _CITED_BY[rules, name]
    stems = [item.name[: -len("_basis")] for item in fields(rules)
             if item.name.endswith("_basis")]
    matching = [stem for stem in stems if name == stem or name.startswith(stem + "_")]
    return max(matching, key=len) + "_basis" if matching else None


def versions_from_document(
    document: Mapping[str, Any], *, base: Rulebook
) -> tuple[RuleSet, ...]:
    """The `[[version]]` tables of a rules file as rule versions to add to `base`.

    Raises RuleVersionError on the first problem: an unknown kind or field, a date that is
    not one, a negative period, or two versions of a kind taking effect on the same day.
    """
    unknown = sorted(set(document) - {"version"})
    if unknown:
        raise RuleVersionError(
            f"unknown key {unknown[0]!r}: a rules file holds [[version]] tables only"
        )
    tables = document.get("version", [])
    if not isinstance(tables, list):
        raise RuleVersionError("'version' must be [[version]] tables")
    versions: list[RuleSet] = []
    taken: dict[tuple[DebtKind, date], int] = {}
    for number, table in enumerate(tables, start=1):
        kind, rules = _version(number, table)
        where = _Where(number, kind, rules.effective_from)
        if (kind, rules.effective_from) in taken:
            raise where.error("effective_from", f"version {taken[kind, rules.effective_from]} "
                              "takes effect on the same day; a day has one version of a kind")
        if rules.effective_from in {v.effective_from for v in base.versions(kind)}:
            raise where.error("effective_from", "a built-in version takes effect on that day")
        taken[kind, rules.effective_from] = number
        versions.append(rules)
    return tuple(versions)


class _Where:
    def __init__(self, number: int, kind: str | None = None, on: date | None = None) -> None:
        self.label = f"version {number}"
        if kind is not None:
            self.label += f" ({kind}" + (f" from {on.isoformat()})" if on else ")")

    def error(self, name: str, problem: str) -> RuleVersionError:
        return RuleVersionError(f"{self.label}: {name}: {problem}")


def _version(number: int, table: Any) -> tuple[DebtKind, RuleSet]:
    where = _Where(number)
    if not isinstance(table, Mapping):
        raise RuleVersionError(f"{where.label}: must be a [[version]] table")
    if "kind" not in table:
        raise where.error("kind", f"missing (one of {', '.join(k.value for k in DebtKind)})")
    try:
        kind = DebtKind(table["kind"])
    except ValueError:
        raise where.error("kind", f"{table['kind']!r} is not a kind of debt (one of "
                          f"{', '.join(k.value for k in DebtKind)})") from None
    where = _Where(number, kind)
    if "effective_from" not in table:
        raise where.error("effective_from", "missing (the first date of service it applies to)")
    effective_from = _date(where, table["effective_from"])
    where = _Where(number, kind, effective_from)
    if "basis" not in table:
        raise where.error("basis", "missing: every version cites its legal basis")
    basis = _basis(where, "basis", table["basis"])
    rules_type = RULES_BY_KIND[kind]
    changeable = changeable_fields(kind)
    defaults = rules_type()
    values: dict[str, Any] = {"effective_from": effective_from, "basis": basis}
    cited: dict[str, Basis] = {}
    for key, value in table.items():
        if key in ("kind", "effective_from", "basis"):
            continue
        name = changeable.get(key)
        if name is None:
            if key in SETTINGS_NOT_RULES:
                raise where.error(key, f"is a setting, not a rule version "
                                  f"({SETTINGS_NOT_RULES[key]})")
            raise where.error(key, f"unknown field for {kind} (known: "
                              f"{', '.join(sorted(changeable))})")
        if name.endswith("_basis"):
            cited[name] = _basis(where, key, value)
            continue
        values[name] = _value(where, key, value, getattr(defaults, name))
    for name in list(values):
        cites = basis_field(rules_type, name)
        if cites is not None and cites not in cited and name not in ("effective_from", "basis"):
            cited[cites] = basis
    rules = replace(defaults, **values, **cited)
    _check(where, rules)
    return kind, rules


def _date(where: _Where, value: Any) -> date:
    if isinstance(value, datetime):  # a TOML date-time: which day would be a guess
        raise where.error("effective_from", f"{value.isoformat()} is a time; give a date, "
                          "e.g. 2025-06-01")
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise where.error("effective_from", f"{value!r} is not a date (YYYY-MM-DD, e.g. 2025-06-01)")


def _basis(where: _Where, name: str, value: Any) -> Basis:
    if isinstance(value, str) and value.strip():
        return value.strip()
    if isinstance(value, Mapping):
        unknown = sorted(set(value) - set(_LANGUAGES))
        if unknown:
            raise where.error(name, f"unknown language {unknown[0]!r} (el, en, tr)")
        if not all(isinstance(text, str) for text in value.values()):
            raise where.error(name, "each language's text must be a string")
        texts = {language: text.strip() for language, text in value.items()}
        if texts.get("el") or texts.get("en"):
            return CitationText(**texts)
        raise where.error(name, "needs its Greek (el) or English (en) text")
    raise where.error(name, "must be the citation's text, or a table of it in el, en, tr")


def _value(where: _Where, key: str, value: Any, default: Any) -> Any:
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise where.error(key, f"{value!r} is not true or false")
        return value
    if isinstance(default, timedelta):  # payable_after_hours
        return timedelta(hours=_count(where, key, value, "hours"))
    if isinstance(default, int):
        return _count(where, key, value, "days" if key.endswith("days") else "years")
    if isinstance(default, Decimal):
        return _amount(where, key, value)
    if key == "fines":
        if not isinstance(value, Mapping):
            raise where.error(key, "must be a table of role = amount")
        roles = dict(default)
        unknown = sorted(set(value) - set(roles))
        if unknown:
            raise where.error(key, f"unknown role {unknown[0]!r} ({', '.join(roles)})")
        roles.update({role: _amount(where, f"{key}.{role}", v) for role, v in value.items()})
        return tuple(roles.items())
    if key == "repeat_multipliers":
        if not isinstance(value, list) or not value:
            raise where.error(key, "must be a list of whole numbers, e.g. [1, 2, 4]")
        multipliers = tuple(_count(where, key, v, "") for v in value)
        if min(multipliers) < 1:
            raise where.error(key, "a multiplier is at least 1")
        return multipliers
    raise where.error(key, "cannot be set from a rules file")  # a field added without a reader


def _count(where: _Where, key: str, value: Any, unit: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise where.error(key, f"{value!r} is not a whole number" + (f" of {unit}" if unit else ""))
    if value < 0:
        raise where.error(key, f"{value} is negative")
    return value


def _amount(where: _Where, key: str, value: Any) -> Decimal:
    # Through str, so that a TOML float 0.1 is the decimal 0.1 it was written as.
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise where.error(key, f"{value!r} is not a number")
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise where.error(key, f"{value!r} is not a number") from None
    if not amount.is_finite() or amount < 0:
        raise where.error(key, f"{value} is negative" if amount < 0 else f"{value!r} is not a number")
    return amount


def _check(where: _Where, rules: RuleSet) -> None:
    # Note 3's "15 more days" follow the surcharge: prosecution cannot come first.
    if isinstance(rules, OutOfCourtFineRules) and rules.prosecution_days < rules.surcharge_days:
        raise where.error("prosecution_days", f"{rules.prosecution_days} comes before "
                          f"surcharge_days {rules.surcharge_days}")
