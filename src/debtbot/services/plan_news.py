"""News the day it happens (issue #16): a new debt, a changed one, a closed one, a threshold
passed. Each piece of news is an outbox row with a unique key, planned in the transaction
that makes it true, so a crash loses nothing and a re-import sends nothing twice.

- New and changed debts are planned by the ingest (file import, bulk and API upserts) in the
  batch's own transaction. Set-based: the holders the batch touched are joined in SQL to the
  chats linked to them that want news (uow.outbox.news_recipients); only those debts are rendered here.
  An import of debts for nobody's chat plans nothing and renders nothing.
- A file import writes its "new debt" rows as 'held' (keys, no words) and words them when
  the file has been read (render_held_news), or leaves a big file's to the next sweep: the
  words cost more than the rest of the news, and a chat's new debts of the whole file are
  then worded together (a few lines each, one footer; discreet: one teaser).
- Thresholds passed are planned by the reminder sweep (services.plan_reminders): for each
  kind and consequence, the domain's `served_on_window` narrows the debts in SQL to those
  whose consequence took effect on the days the sweep covers, and `milestones(debt)` says
  exactly when. A threshold passed while the bot was down is told once, marked late.

News rows are reminders to the sender (purpose 'reminder'): discreet mode, quiet hours and
the same-day digest (one message per chat for what is due together) apply as to reminders.
A closed debt's news carries no debt_id, so cancelling the debt's reminders leaves it be.
Who hears news: the chat is active, its news switch is on (/reminders), the kind is not
muted, reminders are not paused.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from debtbot.domain.calendar import local_date
from debtbot.domain.debts import Debt, DebtKind, DebtStatus
from debtbot.domain.messages import OutboxPurpose, Priority, check_payload, outbox_row
from debtbot.domain.milestones import MilestoneKind, milestone_kinds, milestones
from debtbot.domain.reminders import served_on_window
from debtbot.domain.rules import Rulebook
from debtbot.i18n import Translator, translator
from debtbot.services import news_text
from debtbot.services.outbox import delivery_time
from debtbot.services.show_debts import payment_url
from debtbot.settings import Settings
from debtbot.store.debts import DebtChange, DebtChanges
from debtbot.store.outbox import HELD, OutboxRepository, Recipient, news_key, reminder_key
from debtbot.store.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

BATCH = 1000
_HELD_PAYLOAD = {"text": "(news of a new debt, to be worded)", "news": True,
                 "milestone": "news.new", "lead_days": 0}
WORD_AT_ONCE = 2000  # held news a finished file import words itself; more: the next sweep
COMPACT_FROM = 3  # new debts for one chat in one batch: from this many, a line or three each
_MOVED = frozenset({"person_id", "company_id"})
# The consequences told on the day they take effect (LEGAL_RULES.md): the surcharge, the
# prosecution, the court, the offence, and the enforcement measures of tax and customs.
THRESHOLDS = (
    MilestoneKind.SURCHARGE, MilestoneKind.PROSECUTION, MilestoneKind.COURT,
    MilestoneKind.OFFENCE, MilestoneKind.FORFEITURE, MilestoneKind.BANK_FREEZE_RISK,
    MilestoneKind.PROPERTY_CHARGE,
)


def _row(
    settings: Settings, now: datetime, *, key: str, chat_id: int, payload: dict[str, Any],
    topic: str, language: str, debt_id: int | None, expires_at: datetime | None = None,
) -> dict[str, Any]:
    payload.update(milestone=topic, lead_days=0, language=language, news=True)
    return outbox_row(
        dedupe_key=key,
        chat_id=chat_id,
        purpose=OutboxPurpose.REMINDER,
        payload=payload,
        not_before=delivery_time(now, deadline=expires_at, start=settings.quiet_hours_start,
                                 end=settings.quiet_hours_end, tz=settings.tz),
        debt_id=debt_id,
        expires_at=expires_at,
    )


def _pay(settings: Settings, debt: Debt) -> str | None:
    return payment_url(settings, kind=str(debt.kind), reference=debt.reference)


async def _insert(outbox: OutboxRepository, rows: list[dict[str, Any]]) -> int:
    inserted = 0
    for start in range(0, len(rows), BATCH):
        inserted += await outbox.add_many(rows[start : start + BATCH])
    return inserted


@dataclass(slots=True)
class _Planner:
    settings: Settings
    now: datetime
    rulebook: Rulebook

    hold: datetime | None = None  # a file import holds its news until it has finished

    def new_debt_payload(self, r: Recipient, *, compact: bool, footer: bool) -> dict[str, Any]:
        t = self.translator(r.language)
        payload = news_text.render_new_debt(
            t, debt_id=r.debt_id, debt=r.debt, now=self.now, pay_url=_pay(self.settings, r.debt),
            discreet=r.discreet, rulebook=self.rulebook, compact=compact, footer=footer,
        )
        payload.update(milestone="news.new", lead_days=0, language=t.language, news=True)
        return payload

    def discreet_digest_payload(self, r: Recipient) -> dict[str, Any]:
        t = self.translator(r.language)
        payload = news_text.render_discreet_digest(t)
        payload.update(milestone="news.new", lead_days=0, language=t.language, news=True)
        return payload

    def new_debt_row(self, r: Recipient, payload: dict[str, Any]) -> dict[str, Any]:
        return self._held(outbox_row(
            dedupe_key=news_key("new", r.debt_id, r.chat_id), chat_id=r.chat_id,
            purpose=OutboxPurpose.REMINDER, payload=payload, not_before=self.release(),
            debt_id=r.debt_id,
        ))

    def held(self, debt_id: int, chat_id: int) -> dict[str, Any]:
        assert self.hold is not None
        return {
            "dedupe_key": news_key("new", debt_id, chat_id), "chat_id": chat_id,
            "purpose": OutboxPurpose.REMINDER.value, "priority": int(Priority.REMINDER),
            "debt_id": debt_id, "broadcast_id": None, "payload": _HELD_PAYLOAD,
            "status": HELD, "not_before": self.hold, "expires_at": None, "attempts": 0,
        }

    def release(self) -> datetime:
        return delivery_time(self.now, deadline=None, start=self.settings.quiet_hours_start,
                             end=self.settings.quiet_hours_end, tz=self.settings.tz)

    def translator(self, language: str) -> Translator:
        return translator(language, timezone=self.settings.tz)

    def _held(self, row: dict[str, Any]) -> dict[str, Any]:
        if self.hold is not None:
            row["not_before"] = self.hold
        return row

    def changed(self, r: Recipient, change: DebtChange, untold: set[tuple[int, int]]) -> list[
        dict[str, Any]
    ]:
        t = translator(r.language, timezone=self.settings.tz)
        day = local_date(self.now, self.settings.tz).isoformat()
        rows = []
        debt = r.debt
        if "status" in change.fields and change.old_open and not debt.is_open:
            if (r.debt_id, r.chat_id) in untold:
                return []  # they never heard of it: a debt opened and closed is no news
            payload = news_text.render_closed(t, debt=debt, status=DebtStatus(debt.status),
                                              discreet=r.discreet)
            rows.append(self._held(_row(self.settings, self.now,
                                        key=news_key(str(debt.status), r.debt_id, r.chat_id),
                                        chat_id=r.chat_id, payload=payload, topic="news.closed",
                                        language=t.language, debt_id=None)))
            return rows
        if not debt.is_open:
            return rows
        if "amount" in change.fields and change.old_amount_cents is not None:
            old = (Decimal(change.old_amount_cents) / 100).quantize(Decimal("0.01"))
            payload = news_text.render_amount_corrected(
                t, debt_id=r.debt_id, debt=debt, old_amount=old, now=self.now,
                pay_url=_pay(self.settings, debt), discreet=r.discreet, rulebook=self.rulebook,
            )
            rows.append(self._held(_row(
                self.settings, self.now,
                key=news_key("amount", r.debt_id, r.chat_id, debt.amount, day),
                chat_id=r.chat_id, payload=payload, topic="news.amount", language=t.language,
                debt_id=r.debt_id,
            )))
        if "served_on" in change.fields and debt.served_on is not None:
            payload = news_text.render_service_changed(
                t, debt_id=r.debt_id, debt=debt, recorded=change.old_served_on is None,
                now=self.now, pay_url=_pay(self.settings, debt), discreet=r.discreet,
                rulebook=self.rulebook,
            )
            rows.append(self._held(_row(
                self.settings, self.now,
                key=news_key("served", r.debt_id, r.chat_id, debt.served_on.isoformat(), day),
                chat_id=r.chat_id, payload=payload, topic="news.served", language=t.language,
                debt_id=r.debt_id,
            )))
        return rows


async def plan_debt_news(
    uow: UnitOfWork, settings: Settings, changes: DebtChanges, *, now: datetime,
    rulebook: Rulebook, hold: datetime | None = None,
) -> int:
    """Plan the news of one ingest batch, in its transaction. Returns the rows queued.

    Call it after the batch is written and before the closed debts' messages are cancelled
    (it needs to see which "new debt" messages never went out). `hold`: not before then (a
    file import releases its news when it has finished, `release_held_news`)."""
    outbox = uow.outbox
    moved = [c.debt_id for c in changes.news if not _MOVED.isdisjoint(c.fields)]
    if moved:
        # A debt moved from one holder to another: nothing queued for the first holder's
        # chats about it may go out (the new holder's chats hear of it as a new debt).
        await outbox.cancel(debt_ids=moved, except_purpose=OutboxPurpose.RECEIPT,
                            reason="debt closed")
    persons = {p for _, p, _ in changes.new_open if p is not None}
    companies = {c for _, _, c in changes.new_open if c is not None}
    for change in changes.news:
        if change.person_id is not None:
            persons.add(change.person_id)
        if change.company_id is not None:
            companies.add(change.company_id)
    if not persons and not companies:
        return 0
    new_keys = {key for key, _, _ in changes.new_open}
    moved_ids = set(moved)
    planner = _Planner(settings, now, rulebook, hold)
    rows: list[dict[str, Any]] = []
    if hold is not None:
        # A file import: the "new debt" rows are written now, under their keys, and worded
        # when the file has been read (render_held_news), so reading the file is not slowed
        # by the words, and a chat's new debts of the whole file are worded together.
        pairs = await outbox.news_pairs(
            person_ids={p for _, p, _ in changes.new_open if p is not None},
            company_ids={c for _, _, c in changes.new_open if c is not None}, now=now,
        )
        rows.extend(planner.held(pair.debt_id, pair.chat_id) for pair in pairs
                    if pair.key in new_keys and pair.open)
        if not changes.news:
            return await _insert(outbox, rows)
        persons = {c.person_id for c in changes.news if c.person_id is not None}
        companies = {c.company_id for c in changes.news if c.company_id is not None}
    recipients = await outbox.news_recipients(
        person_ids=persons, company_ids=companies, now=now
    )
    if not recipients:
        return await _insert(outbox, rows)
    changed = {c.debt_id: c for c in changes.news if c.debt_id not in moved_ids}
    closing = [c.debt_id for c in changed.values() if "status" in c.fields and c.old_open]
    untold = await outbox.untold_new_debts(closing) if closing else set()
    fresh = [r for r in recipients
             if (r.debt_id in moved_ids or r.key in new_keys) and r.debt.is_open]
    if hold is not None:
        rows.extend(planner.held(r.debt_id, r.chat_id) for r in fresh
                    if r.debt_id in moved_ids)  # the new ones are above
    else:
        for r, payload in _new_debt_payloads(planner, fresh):
            if payload is not None:
                rows.append(planner.new_debt_row(r, payload))
    for r in recipients:
        if r.debt_id in moved_ids or r.key in new_keys:
            continue
        if (change := changed.get(r.debt_id)) is not None:
            rows.extend(planner.changed(r, change, untold))
    return await _insert(outbox, rows)


def _new_debt_payloads(
    planner: _Planner, fresh: list[Recipient]
) -> list[tuple[Recipient, dict[str, Any] | None]]:
    """The words of each new debt's news: several for one chat go out as one message, so
    from COMPACT_FROM on each says the essentials and the last carries the footer; a
    discreet chat gets one teaser for them all (None: folded into it)."""
    per_chat = Counter(r.chat_id for r in fresh)
    last = {r.chat_id: r.debt_id for r in fresh}
    teased: set[int] = set()
    found: list[tuple[Recipient, dict[str, Any] | None]] = []
    for r in fresh:
        compact = per_chat[r.chat_id] >= COMPACT_FROM
        if compact and r.discreet:
            payload = None if r.chat_id in teased else planner.discreet_digest_payload(r)
            teased.add(r.chat_id)
        else:
            footer = not compact or last[r.chat_id] == r.debt_id
            payload = planner.new_debt_payload(r, compact=compact, footer=footer)
        found.append((r, payload))
    return found


async def render_held_news(
    uow: UnitOfWork, settings: Settings, *, now: datetime, rulebook: Rulebook,
    limit: int | None = None,
) -> int:
    """Word the "new debt" news that file imports wrote (status held) and let it go: in the
    chat's language and mode as they are now, and only while it is still news (the debt
    open and its holder's, the chat linked and wanting news). Returns the rows released."""
    outbox = uow.outbox
    held = await outbox.held_news(limit=limit)
    if not held:
        return 0
    debt_ids = sorted({debt_id for _, debt_id, _ in held})
    persons, companies = await outbox.holders_of(debt_ids)
    recipients = await outbox.news_recipients(
        person_ids=persons, company_ids=companies, now=now, debt_ids=debt_ids,
    )
    by_pair = {(r.debt_id, r.chat_id): r for r in recipients if r.debt.is_open}
    planner = _Planner(settings, now, rulebook)
    fresh = [by_pair[(debt_id, chat_id)] for _, debt_id, chat_id in held
             if (debt_id, chat_id) in by_pair]
    payloads = {(r.debt_id, r.chat_id): payload
                for r, payload in _new_debt_payloads(planner, fresh)}
    words, stale = [], []
    for row_id, debt_id, chat_id in held:
        payload = payloads.get((debt_id, chat_id))
        if payload is None:
            stale.append(row_id)
        else:
            words.append((row_id, check_payload(payload)))
    await outbox.word_held(words, not_before=planner.release())
    await outbox.cancel(ids=stale, held=True, reason="no longer news, or told in one message")
    return len(words)


async def release_held_news(
    uow: UnitOfWork, settings: Settings, *, holds: list[datetime], now: datetime,
    rulebook: Rulebook, word_at_once: int | None = None,
) -> int:
    """A file import has finished: the news it held goes out now (after quiet hours). Up
    to `word_at_once` "new debt" rows are worded now; more (a registry's first big file,
    say) are left to the next reminder sweep (DEBTBOT_REMINDER_SWEEP_MINUTES), which words
    them and lets them go."""
    word_at_once = WORD_AT_ONCE if word_at_once is None else word_at_once
    if await uow.outbox.held_count(limit=word_at_once + 1) <= word_at_once:
        await render_held_news(uow, settings, now=now, rulebook=rulebook)
    return await uow.outbox.release_held(
        holds=holds,
        release=delivery_time(now, deadline=None, start=settings.quiet_hours_start,
                              end=settings.quiet_hours_end, tz=settings.tz),
    )


async def withhold_new_debt_news(uow: UnitOfWork, keys: Iterable[tuple[str, str]]) -> int:
    """A file named these debts twice (a created and closed debt, say): the second row was
    refused, so the "new debt" news of the first stays unsent."""
    return await uow.outbox.cancel(debt_keys=list(keys), news="new", held=True,
                                   reason="the file named the debt twice")


async def plan_closure_news(
    uow: UnitOfWork, settings: Settings, debt_ids: Iterable[int], *, now: datetime,
    rulebook: Rulebook,
) -> int:
    """Debts closed through the API's cancel: the same news as a closing import row."""
    ids = list(debt_ids)
    if not ids:
        return 0
    outbox = uow.outbox
    persons, companies = await outbox.holders_of(ids)
    changes = DebtChanges(news=[
        DebtChange(debt_id, None, None, frozenset({"status"}), None, None, True)
        for debt_id in ids
    ])
    untold = await outbox.untold_new_debts(ids)
    recipients = await outbox.news_recipients(
        person_ids=persons, company_ids=companies, now=now, debt_ids=ids
    )
    planner = _Planner(settings, now, rulebook)
    by_id = {c.debt_id: c for c in changes.news}
    rows = [row for r in recipients for row in planner.changed(r, by_id[r.debt_id], untold)]
    return await _insert(outbox, rows)


# ----------------------------------------------------------------------------- thresholds


def threshold_milestones(kind: DebtKind, today: date, rulebook: Rulebook) -> list[MilestoneKind]:
    """The consequences of THRESHOLDS that debts of `kind` can reach under any rule version."""
    return milestone_kinds(kind, today, rulebook, lambda milestone: milestone.kind in THRESHOLDS)


def threshold_label(kind: MilestoneKind) -> str:
    return f"passed.{kind.value}"


async def plan_threshold_news(
    uow: UnitOfWork, settings: Settings, *, first_day: date, today: date, now: datetime,
    rulebook: Rulebook,
) -> tuple[int, int]:
    """One message per debt, consequence and chat when the consequence took effect on a day
    in first_day..today (earlier days: told late, once). Returns (planned, queries)."""
    planned = queries = 0
    for kind in DebtKind:
        for milestone_kind in threshold_milestones(kind, today, rulebook):
            ranges = served_on_window(kind, milestone_kind, timedelta(0), first_day, today,
                                      rulebook=rulebook)
            if not ranges:
                continue
            label = threshold_label(milestone_kind)
            found = await uow.outbox.reminder_candidates(
                kind=kind.value, ranges=ranges, milestone=label,
                lead_days=0, now=now, audience="news",
            )
            queries += 1
            rows = []
            for candidate in found:
                for milestone in milestones(candidate.debt, rulebook=rulebook):
                    if milestone.kind is not milestone_kind or milestone.takes_effect > now:
                        continue
                    day = local_date(milestone.takes_effect, settings.tz)
                    if not first_day <= day <= today:
                        continue
                    t = translator(candidate.language, timezone=settings.tz)
                    payload = news_text.render_threshold(
                        t, debt_id=candidate.debt_id, debt=candidate.debt, milestone=milestone,
                        now=now, late=day < today, pay_url=_pay(settings, candidate.debt),
                        discreet=candidate.discreet, rulebook=rulebook,
                    )
                    payload["late"] = day < today
                    rows.append(_row(
                        settings, now,
                        key=reminder_key(candidate.debt_id, label, 0,
                                                        candidate.chat_id),
                        chat_id=candidate.chat_id, payload=payload, topic=label,
                        language=t.language, debt_id=candidate.debt_id,
                    ))
            planned += await _insert(uow.outbox, rows)
    return planned, queries
