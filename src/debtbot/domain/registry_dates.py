"""The registry's dates win: when a registry sends its own first day of the surcharge
(`surcharge_on`) or of prosecution (`prosecution_on`) for an out-of-court fine, those are the
dates the citizen is shown and reminded by, in place of the rulebook's (LEGAL_RULES.md: "the
official dates are the registry's"). Where they differ from what the rulebook computes, the
difference is reported (`differences`) for the audit log and the metrics.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta

from debtbot.domain.amounts import AmountDue, amount_due
from debtbot.domain.calendar import local_date, start_of_day
from debtbot.domain.debts import Debt
from debtbot.domain.milestones import Milestone, MilestoneKind, milestones
from debtbot.domain.money import ZERO, to_cents
from debtbot.domain.reminders import DueReminder, due_reminders, reminders_due_for
from debtbot.domain.rules import DEFAULT_RULEBOOK, Rulebook


def _overrides(debt: Debt) -> dict[MilestoneKind, date]:
    found = {}
    if debt.surcharge_on is not None:
        found[MilestoneKind.SURCHARGE] = debt.surcharge_on
    if debt.prosecution_on is not None:
        found[MilestoneKind.PROSECUTION] = debt.prosecution_on
    return found


def registry_milestones(
    debt: Debt, *, rulebook: Rulebook = DEFAULT_RULEBOOK
) -> tuple[Milestone, ...]:
    """milestones(debt), with the registry's dates in place of the rulebook's where given."""
    found = milestones(debt, rulebook=rulebook)
    overrides = _overrides(debt)
    if not overrides:
        return found
    moved = [
        replace(milestone, last_day=date.fromordinal(day.toordinal() - 1),
                takes_effect=start_of_day(day))
        if (day := overrides.get(milestone.kind)) is not None else milestone
        for milestone in found
    ]
    return tuple(sorted(moved, key=lambda milestone: milestone.takes_effect))


def registry_next_milestone(
    debt: Debt, now: datetime, *, rulebook: Rulebook = DEFAULT_RULEBOOK
) -> Milestone | None:
    """The first milestone (registry dates winning) that has not taken effect at `now`."""
    return next(
        (m for m in registry_milestones(debt, rulebook=rulebook) if m.takes_effect > now), None
    )


def registry_amount_due(
    debt: Debt, now: datetime, *, rulebook: Rulebook = DEFAULT_RULEBOOK
) -> AmountDue:
    """amount_due(debt, now), with the registry's surcharge and prosecution dates winning."""
    due = amount_due(debt, now, rulebook=rulebook)
    if not _overrides(debt):
        return due
    by_kind = {m.kind: m for m in registry_milestones(debt, rulebook=rulebook)}
    surcharge = by_kind.get(MilestoneKind.SURCHARGE)
    prosecution = by_kind.get(MilestoneKind.PROSECUTION)
    opening = by_kind.get(MilestoneKind.PAYABLE_FROM)
    base = to_cents(debt.amount)
    surcharged = surcharge is not None and now >= surcharge.takes_effect
    prosecuted = prosecution is not None and now >= prosecution.takes_effect
    extra = (surcharge.amount_after or base) - base if surcharged and surcharge else ZERO
    opened = opening is None or now >= opening.takes_effect
    return AmountDue(
        base=base, surcharge=extra, total=base + extra,
        surcharge_basis=surcharge.legal_basis if surcharged and surcharge else None,
        payable=opened and not prosecuted,
        payable_from=None if opened or opening is None else opening.takes_effect,
        prosecution=prosecuted, clock_running=due.clock_running,
    )


def differences(
    debt: Debt, *, rulebook: Rulebook = DEFAULT_RULEBOOK
) -> dict[str, tuple[date, date]]:
    """{"surcharge_on": (registry's, rulebook's), ...} for each registry date that differs."""
    overrides = _overrides(debt)
    if not overrides:
        return {}
    names = {MilestoneKind.SURCHARGE: "surcharge_on", MilestoneKind.PROSECUTION: "prosecution_on"}
    found = {}
    for milestone in milestones(debt, rulebook=rulebook):
        given = overrides.get(milestone.kind)
        computed = local_date(milestone.takes_effect)
        if given is not None and given != computed:
            found[names[milestone.kind]] = (given, computed)
    return found


# The column that holds the registry's date for a milestone.
REGISTRY_COLUMNS = {MilestoneKind.SURCHARGE: "surcharge_on",
                    MilestoneKind.PROSECUTION: "prosecution_on"}


def registry_window(lead: timedelta, start: date, end: date) -> tuple[date, date]:
    """The registry dates (first day of the consequence) whose reminder `lead` before falls on
    the local days start..end: lead times count on the wall clock, so the reminder falls
    `lead` days before that day (one day of slack each side; `registry_due_reminders` checks
    exactly)."""
    days = lead.days
    return (date.fromordinal(start.toordinal() + days - 1),
            date.fromordinal(end.toordinal() + days + 1))


def registry_due_reminders(
    debts: Iterable[Debt], now: datetime, lead_times: Sequence[timedelta], *,
    rulebook: Rulebook = DEFAULT_RULEBOOK,
) -> list[DueReminder]:
    """due_reminders, with the registry's dates winning (the same rules otherwise)."""
    plain = [debt for debt in debts if not _overrides(debt)]
    due = due_reminders(plain, now, lead_times, rulebook=rulebook)
    leads = sorted(set(lead_times), reverse=True)
    for debt in debts:
        if _overrides(debt) and debt.is_open:
            found = registry_milestones(debt, rulebook=rulebook)
            due.extend(reminders_due_for(debt, found, now, leads))
    return due
