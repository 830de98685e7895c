"""The rule book in force, built once at start (app, cli, shell) into `Deps.rulebook`: the law
as built in (domain.rules), the versions DEBTBOT_RULES_FILE adds (domain.rule_versions), and
the values the law leaves to settings, applied to every version of their kind.
"""

from __future__ import annotations

import tomllib
from dataclasses import fields
from pathlib import Path

from debtbot.domain.debts import DebtKind
from debtbot.domain.legal import Basis
from debtbot.domain.rule_versions import (
    SETTINGS_NOT_RULES,
    RuleVersionError,
    basis_field,
    file_name,
    versions_from_document,
)
from debtbot.domain.rules import DEFAULT_RULEBOOK, SINCE_ALWAYS, Rulebook, RuleSet
from debtbot.settings import Settings


class RulesFileError(Exception):
    """DEBTBOT_RULES_FILE cannot be used; the message is the one line to show."""


def with_settings(rulebook: Rulebook, settings: Settings) -> Rulebook:
    """`rulebook` with the values the law leaves to settings (the same object when the
    settings are the defaults, so caches keyed on it stay shared)."""
    return rulebook.with_settings(
        warrant_reminder_every_days=settings.warrant_reminder_every_days,
        closure_days_closed=settings.closure_days_closed,
        reminder_lead_days=tuple(settings.reminder_lead_days),
        customs_interest_rate=settings.customs_interest_rate,
    )


def load_rulebook(settings: Settings) -> Rulebook:
    """The built-in law, the versions of DEBTBOT_RULES_FILE if set, and the settings' values.

    Raises RulesFileError (missing file, bad TOML, a version the rule book cannot take).
    """
    rulebook = DEFAULT_RULEBOOK
    path = settings.rules_file
    if path is not None:
        for rules in read_rules_file(path, base=rulebook):
            rulebook = rulebook.with_version(rules)
    return with_settings(rulebook, settings)


def read_rules_file(path: Path, *, base: Rulebook = DEFAULT_RULEBOOK) -> tuple[RuleSet, ...]:
    try:
        with path.open("rb") as file:
            document = tomllib.load(file)
    except FileNotFoundError:
        raise RulesFileError(f"{path}: no such file (DEBTBOT_RULES_FILE)") from None
    except OSError as error:
        raise RulesFileError(f"{path}: cannot be read: {error.strerror or error}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise RulesFileError(f"{path}: not valid TOML: {error}") from None
    try:
        return versions_from_document(document, base=base)
    except RuleVersionError as error:
        raise RulesFileError(f"{path}: {error}") from None


# ---------------------------------------------------------------------------- rules show

_CLOCK = {DebtKind.TAX: "due"}  # the other kinds count from service


def describe(rulebook: Rulebook, settings: Settings) -> list[str]:
    """The versions in force per kind, with their dates, values and legal bases, for
    `debtbot rules show`: each version lists what it changes from the one before."""
    built_in = {kind: {v.effective_from for v in DEFAULT_RULEBOOK.versions(kind)}
                for kind in DebtKind}
    lines = []
    source = str(settings.rules_file) if settings.rules_file else "no DEBTBOT_RULES_FILE"
    lines.append(f"Rules in force: built in, and from {source}.")
    for kind in DebtKind:
        lines.append("")
        lines.append(kind.value)
        versions = rulebook.versions(kind)
        previous: RuleSet | None = None
        for index, rules in enumerate(versions):
            origin = ("built in" if rules.effective_from in built_in[kind]
                      else str(settings.rules_file))
            lines.append(f"  {_span(kind, rules, versions[index + 1:index + 2])} ({origin})")
            lines.extend(_cited("    basis: ", rules.basis))
            for name, value, basis in _values(rules, previous):
                cited = f"  [{basis}]" if basis is not None and basis != rules.basis else ""
                lines.append(f"    {name} = {value}{cited}")
            previous = rules
    lines.append("")
    lines.append("From settings: reminder lead days "
                 + ", ".join(str(d) for d in rulebook.reminder_lead_days)
                 + " (DEBTBOT_REMINDER_LEAD_DAYS); fine warrants reminded every "
                 f"{rulebook.fine_warrant(None).reminder_every_days} days "
                 "(DEBTBOT_WARRANT_REMINDER_EVERY_DAYS); office closure days "
                 + ("closed" if rulebook.admin_fine(None).closure_days_closed else "open")
                 + " (DEBTBOT_CLOSURE_DAYS_CLOSED); customs interest "
                 + _rate(rulebook.customs(None).interest_rate)
                 + " (DEBTBOT_CUSTOMS_INTEREST_RATE).")
    return lines


def _span(kind: DebtKind, rules: RuleSet, later: tuple[RuleSet, ...]) -> str:
    clock = _CLOCK.get(kind, "served")
    start = ("" if rules.effective_from == SINCE_ALWAYS
             else f" from {rules.effective_from.isoformat()}")
    end = f" before {later[0].effective_from.isoformat()}" if later else ""
    return f"debts {clock}{start}{end}" if start or end else f"debts {clock} on any date"


def _values(rules: RuleSet, previous: RuleSet | None) -> list[tuple[str, str, Basis | None]]:
    found = []
    for item in fields(rules):  # type: ignore[arg-type]
        name = item.name
        if name in ("effective_from", "basis") or name.endswith("_basis"):
            continue
        if name in SETTINGS_NOT_RULES:
            continue  # shown once, under "From settings"
        value = getattr(rules, name)
        if previous is not None and value == getattr(previous, name):
            continue
        cites = basis_field(type(rules), name)
        found.append((file_name(name), _shown(value), getattr(rules, cites) if cites else None))
    return found


def _shown(value: object) -> str:
    if hasattr(value, "total_seconds"):
        return str(int(value.total_seconds() // 3600))  # type: ignore[attr-defined]
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        if value and isinstance(value[0], tuple):
            return "{ " + ", ".join(f"{k} = {v}" for k, v in value) + " }"
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


def _rate(rate: object) -> str:
    return "not computed" if rate is None else f"{rate} a year"


def _cited(label: str, basis: Basis) -> list[str]:
    """A basis, and its Greek and Turkish texts where a rules file gives them."""
    lines = [f"{label}{basis}"]
    for language in ("el", "tr"):
        text = getattr(basis, language, "")
        if text and text != str(basis):
            lines.append(" " * len(label) + f"{language}: {text}")
    return lines
