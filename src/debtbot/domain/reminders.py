"""Which reminders are due: before each legal threshold that the rules mark for a reminder,
by the lead times the settings give (defaults 7 days and 1 day before, LEGAL_RULES.md).

Reminders are a courtesy, not legal service: the registry's dates are the official ones.
Lead times are counted on the Cyprus wall clock, so "7 days before 00:00 on day 31" is 00:00
on day 24 even across a clock change; the planner moves messages out of quiet hours.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from debtbot.domain.calendar import local_date, local_wall_minus
from debtbot.domain.debts import Debt, DebtKind
from debtbot.domain.milestones import Milestone, MilestoneKind, milestones
from debtbot.domain.rules import DEFAULT_RULEBOOK, Rulebook

# Large enough to cross every amount threshold, so served_on_window is a superset.
_PROBE_AMOUNT = Decimal("1000000000.00")


@dataclass(frozen=True, slots=True)
class DueReminder:
    debt: Debt
    milestone: Milestone
    lead: timedelta
    remind_at: datetime  # aware UTC


def remind_at(milestone: Milestone, lead: timedelta) -> datetime:
    """When the reminder `lead` before `milestone` falls due (aware UTC)."""
    return local_wall_minus(milestone.takes_effect, lead)


def due_reminders(
    debts: Iterable[Debt], now: datetime, lead_times: Sequence[timedelta], *,
    rulebook: Rulebook = DEFAULT_RULEBOOK,
) -> list[DueReminder]:
    """Reminders with remind_at <= now < takes_effect, for open debts only.

    Per milestone only the shortest lead already due is returned: a debt ingested on day 29
    gets the 1-day reminder, not the 7-day one as well. The planner dedupes by
    (debt, milestone kind, lead), so running this every few minutes plans each once.
    """
    leads = sorted(set(lead_times), reverse=True)  # longest lead first = earliest remind_at
    due: list[DueReminder] = []
    for debt in debts:
        if debt.is_open:
            due.extend(reminders_due_for(debt, milestones(debt, rulebook=rulebook), now, leads))
    return due


def reminders_due_for(
    debt: Debt, found: Iterable[Milestone], now: datetime, leads: Sequence[timedelta]
) -> list[DueReminder]:
    """Of `debt`'s milestones `found`, the reminders due now: per milestone ahead, the
    shortest of `leads` (longest first) whose moment has come."""
    due: list[DueReminder] = []
    for milestone in found:
        if not milestone.reminder or milestone.takes_effect <= now:
            continue
        chosen: DueReminder | None = None
        for lead in leads:
            moment = remind_at(milestone, lead)
            if moment > now:
                break
            chosen = DueReminder(debt, milestone, lead, moment)
        if chosen is not None:
            due.append(chosen)
    return due


def _probe(kind: DebtKind, day: date) -> Debt:
    return Debt(kind=kind, reference="", amount=_PROBE_AMOUNT, served_on=day, due_on=day)


def _reminder_day(
    kind: DebtKind, milestone_kind: MilestoneKind, lead: timedelta, day: date,
    rulebook: Rulebook,
) -> date | None:
    for milestone in milestones(_probe(kind, day), rulebook=rulebook):
        if milestone.kind is milestone_kind:
            return local_date(remind_at(milestone, lead))
    return None


def served_on_window(
    kind: DebtKind, milestone_kind: MilestoneKind, lead: timedelta, start: date, end: date,
    *, rulebook: Rulebook = DEFAULT_RULEBOOK,
) -> list[tuple[date, date]]:
    """The clock dates (inclusive ranges) whose reminder for `milestone_kind` with `lead`
    falls on the local days start..end, so the planner can filter debts in SQL.

    The clock date is the one `milestones.clock_field` names for the kind. The result is a
    superset: amount thresholds and suspension flags are checked by `due_reminders`.
    Milestones not counted from the clock date (admin-fine representations) give [].

    Each clock date's reminder day is asked of the domain itself, so the ranges follow
    Cap. 1 art. 31 as the milestones do: a period end moved past a Sunday or a holiday
    moves its reminder, several clock dates may share one reminder day and some days have
    none. Within a rule version a later clock date never gives an earlier reminder day, so
    the walk outwards from the typical offset stops at the first day outside start..end.
    """
    kind, milestone_kind = DebtKind(kind), MilestoneKind(milestone_kind)
    versions = rulebook.versions(kind)
    hits: list[int] = []
    for index, version in enumerate(versions):
        low = version.effective_from.toordinal()
        high = (versions[index + 1].effective_from.toordinal() - 1
                if index + 1 < len(versions) else date.max.toordinal())
        probe = date.fromordinal(min(max(start.toordinal(), low), high))
        first = _reminder_day(kind, milestone_kind, lead, probe, rulebook)
        if first is None:
            continue
        offset = first.toordinal() - probe.toordinal()

        def reminded(ordinal: int) -> date | None:
            return _reminder_day(kind, milestone_kind, lead, date.fromordinal(ordinal),
                                 rulebook)

        lo = max(low, start.toordinal() - offset)
        hi = min(high, end.toordinal() - offset)
        # Widen while the edge still reminds inside (or past) the window: art. 31 can move a
        # reminder by several days either way from the probe's offset.
        while lo > low and (edge := reminded(lo)) is not None and edge >= start:
            lo -= 1
        while hi < high and (edge := reminded(hi)) is not None and edge <= end:
            hi += 1
        for ordinal in range(lo, hi + 1):
            day = reminded(ordinal)
            if day is not None and start <= day <= end:
                hits.append(ordinal)
    return _ranges(hits)


def _ranges(ordinals: list[int]) -> list[tuple[date, date]]:
    ranges: list[tuple[date, date]] = []
    for ordinal in sorted(set(ordinals)):
        if ranges and ranges[-1][1].toordinal() + 1 == ordinal:
            ranges[-1] = (ranges[-1][0], date.fromordinal(ordinal))
        else:
            ranges.append((date.fromordinal(ordinal), date.fromordinal(ordinal)))
    return ranges
