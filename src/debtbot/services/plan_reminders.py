"""The reminder planner: one outbox row per (debt, threshold, lead time, chat), planned once.

How the work splits between the database and Python:

1. Set-based, in SQL. For each (debt kind, milestone, lead time) the domain's
   `served_on_window` turns "reminders due on local days D1..D2" into ranges of clock dates
   (date of service, or due date for tax), asking the domain about each date, so the ranges
   follow period ends that Cap. 1 art. 31 moves past Sundays and public holidays. One UNION ALL query per triple selects the open
   debts in those ranges, joined through chat_links to the chats that may be told (active,
   reminders on, kind not muted, not snoozed), minus the reminders already in the outbox (an
   anti-join on the unique key). Over millions of debts a repeated sweep returns no rows.
2. Per row, in Python, bounded by what is new: each candidate is checked against the domain
   (`due_reminders`: amount thresholds, suspensions, which lead is the one due now) and
   rendered in the chat's language (amounts, dates), then inserted in batches with
   INSERT … ON CONFLICT DO NOTHING, so even two planners racing cannot duplicate a row.

Windows: a reminder with lead L is the one due while its day is at most (L - next shorter
lead) days behind, so after downtime the most recent reminder still goes out as long as its
threshold is ahead (`due_reminders` semantics). Reminders whose threshold passed while the
bot was down (their day lies between the previous sweep and today) are written as 'dropped'
rows and counted in the audit log: the drop is recorded, nothing is sent.

Fine warrants have no statutory countdown: a reminder every `reminder_every_days` of the
rule version in force on the date of service (a setting, DEBTBOT_WARRANT_REMINDER_EVERY_DAYS),
until the warrant is settled or withdrawn.

The rule book, lead times included, is the one built at start (`deps.rulebook`).

On PostgreSQL a transaction-scoped advisory lock makes a second planner skip the sweep; on
SQLite the sweep's first statement takes the write lock.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from debtbot.domain.calendar import local_date, start_of_day
from debtbot.domain.debts import DebtKind
from debtbot.domain.messages import DeliveryStatus, OutboxPurpose, outbox_row
from debtbot.domain.milestones import MilestoneKind, milestone_kinds
from debtbot.domain.registry_dates import (
    REGISTRY_COLUMNS,
    registry_due_reminders,
    registry_milestones,
    registry_window,
)
from debtbot.domain.reminders import remind_at, served_on_window
from debtbot.domain.rules import Rulebook
from debtbot.i18n import translator
from debtbot.services.deps import Deps
from debtbot.services.outbox import delivery_time
from debtbot.services.plan_news import plan_threshold_news, render_held_news
from debtbot.services.reminder_text import render_milestone_reminder, render_warrant_reminder
from debtbot.services.show_debts import payment_url
from debtbot.settings import Settings
from debtbot.store.outbox import Candidate, OutboxRepository, reminder_key
from debtbot.store.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

BATCH = 1000
WARRANT = "warrant"
_WARRANT_YEARS = 20  # how far back a warrant's date of service may lie


@dataclass(slots=True)
class PlanReport:
    planned: int = 0
    dropped: int = 0
    candidates: int = 0
    queries: int = 0
    news: int = 0  # thresholds passed, told (issue #16)
    skipped: bool = False  # another planner held the lock
    seconds: float = 0.0
    by_kind: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True, slots=True)
class _Plan:
    """One (kind, milestone, lead) query and the days its reminders fall on."""

    kind: DebtKind
    milestone: MilestoneKind
    lead: timedelta
    start: date
    end: date


def reminder_milestones(kind: DebtKind, today: date, rulebook: Rulebook) -> list[MilestoneKind]:
    """The milestones of `kind` that any rule version reminds before."""
    return milestone_kinds(kind, today, rulebook, lambda milestone: milestone.reminder)


def _due_plans(today: date, leads: list[timedelta], rulebook: Rulebook) -> list[_Plan]:
    plans = []
    for kind in DebtKind:
        for milestone in reminder_milestones(kind, today, rulebook):
            for index, lead in enumerate(leads):
                shorter = leads[index + 1] if index + 1 < len(leads) else timedelta(0)
                span = max(1, (lead - shorter).days)
                plans.append(_Plan(kind, milestone, lead, today - timedelta(days=span - 1), today))
    return plans


def _missed_plans(
    first: date, last: date, leads: list[timedelta], rulebook: Rulebook
) -> list[_Plan]:
    return [
        _Plan(kind, milestone, lead, first, last)
        for kind in DebtKind
        for milestone in reminder_milestones(kind, last, rulebook)
        for lead in leads
    ]


async def _candidates(
    outbox: OutboxRepository, plan: _Plan, now: datetime, rulebook: Rulebook, *,
    skip_planned: bool = True,
) -> list[Candidate]:
    ranges = served_on_window(plan.kind, plan.milestone, plan.lead, plan.start, plan.end,
                              rulebook=rulebook)
    registry: dict[str, Any] = {}
    if plan.kind is DebtKind.OUT_OF_COURT_FINE and plan.milestone in REGISTRY_COLUMNS:
        # The registry's dates win (issue #12): debts that carry one are found by it.
        registry = {"registry_column": REGISTRY_COLUMNS[plan.milestone],
                    "registry_range": registry_window(plan.lead, plan.start, plan.end)}
    if not ranges and not registry:
        return []
    return await outbox.reminder_candidates(
        kind=plan.kind.value, ranges=ranges,
        milestone=plan.milestone.value, lead_days=plan.lead.days, now=now,
        skip_planned=skip_planned, **registry,
    )


def _milestone_row(
    settings: Settings, candidate: Candidate, plan: _Plan, milestone: Any, moment: datetime,
    now: datetime, rulebook: Rulebook,
) -> dict[str, Any]:
    t = translator(candidate.language, timezone=settings.tz)
    payload = render_milestone_reminder(
        t,
        debt_id=candidate.debt_id,
        debt=candidate.debt,
        milestone=milestone,
        now=now,
        pay_url=payment_url(settings, kind=plan.kind.value, reference=candidate.debt.reference),
        discreet=candidate.discreet,
        rulebook=rulebook,
    )
    payload.update(milestone=plan.milestone.value, lead_days=plan.lead.days,
                   language=t.language)
    return outbox_row(
        dedupe_key=reminder_key(candidate.debt_id, plan.milestone.value, plan.lead.days,
                                candidate.chat_id),
        chat_id=candidate.chat_id,
        purpose=OutboxPurpose.REMINDER,
        payload=payload,
        not_before=delivery_time(
            moment, deadline=milestone.takes_effect, start=settings.quiet_hours_start,
            end=settings.quiet_hours_end, tz=settings.tz,
        ),
        debt_id=candidate.debt_id,
        expires_at=milestone.takes_effect,
    )


def _dropped_row(candidate: Candidate, plan: _Plan, milestone: Any, moment: datetime) -> dict:
    return outbox_row(
        dedupe_key=reminder_key(candidate.debt_id, plan.milestone.value, plan.lead.days,
                                candidate.chat_id),
        chat_id=candidate.chat_id,
        purpose=OutboxPurpose.REMINDER,
        payload={"text": "(not sent: the threshold passed before the reminder could go out)",
                 "milestone": plan.milestone.value, "lead_days": plan.lead.days},
        not_before=moment,
        debt_id=candidate.debt_id,
        expires_at=milestone.takes_effect,
        status=DeliveryStatus.DROPPED.value,
    )


async def _insert(outbox: OutboxRepository, rows: list[dict[str, Any]]) -> int:
    inserted = 0
    for start in range(0, len(rows), BATCH):
        inserted += await outbox.add_many(rows[start : start + BATCH])
    return inserted


async def _plan_due(
    outbox: OutboxRepository, settings: Settings, plans: Iterable[_Plan], leads: list[timedelta],
    now: datetime, rulebook: Rulebook, report: PlanReport,
) -> None:
    for plan in plans:
        found = await _candidates(outbox, plan, now, rulebook)
        report.queries += 1
        report.candidates += len(found)
        rows = []
        for candidate in found:
            for due in registry_due_reminders([candidate.debt], now, leads, rulebook=rulebook):
                if due.milestone.kind is plan.milestone and due.lead == plan.lead:
                    rows.append(_milestone_row(settings, candidate, plan, due.milestone,
                                               due.remind_at, now, rulebook))
            if len(rows) >= BATCH:
                await _count(report, plan, await _insert(outbox, rows))
                rows = []
        await _count(report, plan, await _insert(outbox, rows))


async def _count(report: PlanReport, plan: _Plan, inserted: int) -> None:
    report.planned += inserted
    if inserted:
        report.by_kind[plan.kind.value] += inserted


async def _record_missed(
    uow: UnitOfWork, plans: Iterable[_Plan], now: datetime, rulebook: Rulebook,
    report: PlanReport,
) -> None:
    rows = []
    for plan in plans:
        found = await _candidates(uow.outbox, plan, now, rulebook)
        report.queries += 1
        for candidate in found:
            for milestone in registry_milestones(candidate.debt, rulebook=rulebook):
                if milestone.kind is not plan.milestone or not milestone.reminder:
                    continue
                moment = remind_at(milestone, plan.lead)
                if milestone.takes_effect <= now and plan.start <= local_date(moment) <= plan.end:
                    rows.append(_dropped_row(candidate, plan, milestone, moment))
    dropped = await _insert(uow.outbox, rows)
    report.dropped += dropped
    if dropped:
        await uow.audit.record(
            actor="planner", action="reminders.dropped", count=dropped,
            details={"reason": "threshold passed while the planner was not running"},
        )


def _warrant_dates(day: date, rulebook: Rulebook) -> list[date]:
    """The dates of service whose warrants are reminded on `day`: every `reminder_every_days`
    of the version in force on that date of service."""
    versions = rulebook.fine_warrants
    dates = []
    for index, rules in enumerate(versions):
        every = rules.reminder_every_days
        if every <= 0:
            continue
        until = versions[index + 1].effective_from if index + 1 < len(versions) else date.max
        for k in range(1, _WARRANT_YEARS * 366 // every + 1):
            served = day - timedelta(days=every * k)
            if rules.effective_from <= served < until:
                dates.append(served)
    return dates


async def _plan_warrants(
    outbox: OutboxRepository, settings: Settings, days: Iterable[date], now: datetime,
    report: PlanReport, rulebook: Rulebook, *, dry_run: bool = False,
) -> list[Candidate]:
    seen: list[Candidate] = []
    for day in days:
        label = f"{WARRANT}-{day.isoformat()}"
        dates = _warrant_dates(day, rulebook)
        if not dates:
            continue
        found = await outbox.reminder_candidates(
            kind=DebtKind.FINE_WARRANT.value,
            dates=dates, milestone=label, lead_days=0, now=now,
            skip_planned=not dry_run,
        )
        report.queries += 1
        report.candidates += len(found)
        if dry_run:
            seen.extend(found)
            continue
        rows = []
        for candidate in found:
            t = translator(candidate.language, timezone=settings.tz)
            payload = render_warrant_reminder(
                t, debt_id=candidate.debt_id, debt=candidate.debt, now=now,
                pay_url=payment_url(settings, kind=DebtKind.FINE_WARRANT.value,
                                    reference=candidate.debt.reference),
                discreet=candidate.discreet, rulebook=rulebook,
            )
            payload.update(milestone=WARRANT, lead_days=0, language=t.language)
            every = rulebook.fine_warrant(candidate.debt.served_on).reminder_every_days
            expires = start_of_day(day + timedelta(days=every), settings.tz)
            rows.append(outbox_row(
                dedupe_key=reminder_key(candidate.debt_id, label, 0, candidate.chat_id),
                chat_id=candidate.chat_id,
                purpose=OutboxPurpose.REMINDER,
                payload=payload,
                not_before=delivery_time(
                    start_of_day(day, settings.tz), deadline=expires,
                    start=settings.quiet_hours_start, end=settings.quiet_hours_end,
                    tz=settings.tz,
                ),
                debt_id=candidate.debt_id,
                expires_at=expires,
            ))
        inserted = await _insert(outbox, rows)
        report.planned += inserted
        report.by_kind[DebtKind.FINE_WARRANT.value] += inserted
    return seen


async def plan_reminders(deps: Deps, *, now: datetime | None = None) -> PlanReport:
    """One sweep: plan every reminder due now that is not planned yet; record the missed."""
    started = time.perf_counter()
    settings = deps.settings
    rulebook = deps.rulebook
    now = now or deps.clock()
    today = local_date(now, settings.tz)
    leads = rulebook.reminder_leads
    report = PlanReport()
    async with deps.uow() as uow:
        if not await uow.outbox.lock_planner():
            report.skipped = True
            return report
        previous = await uow.outbox.begin_sweep(now=now)
        first_day = today
        if previous is not None:
            first_day = max(local_date(previous, settings.tz),
                            today - timedelta(days=settings.reminder_catch_up_days))
            first_day = min(first_day, today)
        if first_day < today:
            await _record_missed(
                uow, _missed_plans(first_day, today - timedelta(days=1), leads, rulebook),
                now, rulebook, report,
            )
        await _plan_due(uow.outbox, settings, _due_plans(today, leads, rulebook), leads, now,
                        rulebook, report)
        days = [first_day + timedelta(days=n) for n in range((today - first_day).days + 1)]
        await _plan_warrants(uow.outbox, settings, days, now, report, rulebook)
        news, queries = await plan_threshold_news(
            uow, settings, first_day=first_day, today=today, now=now, rulebook=rulebook
        )
        report.news += news
        report.queries += queries
        # The "new debt" news a big file import left to be worded (services.plan_news).
        report.news += await render_held_news(uow, settings, now=now, rulebook=rulebook)
        await uow.outbox.end_sweep(now=now)
    report.seconds = time.perf_counter() - started
    log.info(
        "reminder sweep: %d planned, %d dropped, %d thresholds told, %d candidates, "
        "%d queries in %.2f s",
        report.planned, report.dropped, report.news, report.candidates, report.queries,
        report.seconds,
    )
    return report


# ----------------------------------------------------------------------------- preview


@dataclass(frozen=True, slots=True)
class PreviewLine:
    kind: str
    language: str
    milestone: str
    count: int


async def preview_reminders(deps: Deps, *, day: date) -> list[PreviewLine]:
    """What the planner would send on local day `day`, per kind, language and milestone,
    with today's data and preferences, without writing anything."""
    settings = deps.settings
    rulebook = deps.rulebook
    leads = rulebook.reminder_leads
    # The moment the day's reminders go out: when quiet hours end (reminders fall at 00:00).
    at = delivery_time(start_of_day(day, settings.tz), deadline=None,
                       start=settings.quiet_hours_start, end=settings.quiet_hours_end,
                       tz=settings.tz)
    counts: Counter[tuple[str, str, str]] = Counter()
    report = PlanReport()

    async def count(uow: UnitOfWork) -> None:
        counts.clear()  # read() may run this again, on a new connection
        for plan in _missed_plans(day, day, leads, rulebook):
            for candidate in await _candidates(uow.outbox, plan, at, rulebook,
                                               skip_planned=False):
                for milestone in registry_milestones(candidate.debt, rulebook=rulebook):
                    if milestone.kind is not plan.milestone or not milestone.reminder:
                        continue
                    moment = remind_at(milestone, plan.lead)
                    if local_date(moment, settings.tz) == day and milestone.takes_effect > at:
                        counts[(plan.kind.value, candidate.language, plan.milestone.value)] += 1
        for candidate in await _plan_warrants(uow.outbox, settings, [day], at, report, rulebook,
                                              dry_run=True):
            counts[(DebtKind.FINE_WARRANT.value, candidate.language, WARRANT)] += 1

    await deps.read(count)
    return [
        PreviewLine(kind, language, milestone, count)
        for (kind, language, milestone), count in sorted(counts.items())
    ]
