"""Broadcasts to a segment of verified chats, and bulk notice lists from a CSV upload.

Life of a broadcast: create (draft, or straight to awaiting_approval) → a SECOND supervisor
approves (the creator cannot; test mode excepted) → at its send time the planner queues one
outbox row per recipient chat, in batches, with set-based INSERT … SELECT (purpose BROADCAST,
Priority.BROADCAST: the one sender drains them after replies, receipts, reminders and
notices; key "broadcast:<id>:<chat_id>") → done when no row is left pending, or cancelled
part-way (pending rows become cancelled; rows already sent stay sent).

Text: a notice template snapshot (el/en/tr, Greek fallback flagged) filled with ONE set of
values for everyone (e.g. {deadline}); a broadcast has no per-recipient placeholders, so
each language is rendered once. Per-recipient values come by CSV (below).
Test mode: the recipients are the active staff flagged `receives_tests` (the allow-list),
each receiving all three language versions; no second approval is needed.

API (exact signatures; the Telegram, HTTP and scheduler adapters code against these):

    class SegmentKind(StrEnum): ALL = "all", DEBT_KIND = "debt_kind", OVERDUE = "overdue",
        PAST_THRESHOLD = "past_threshold"
    @dataclass(frozen=True) Segment(kind: SegmentKind, debt_kind: str | None = None,
        milestone: str | None = None)
        all: every active chat with a verified identity; debt_kind: … holding an open debt of
        that DebtKind value; overdue: … holding an open debt whose payment deadline has passed
        (a payment_due or surcharge milestone in the past); past_threshold: … holding an open
        debt past the given MilestoneKind value (e.g. "surcharge", "prosecution").
        Segment.from_dict(d) / .to_dict(); Invalid(code="bad_segment").
    class BroadcastStatus(StrEnum): DRAFT, AWAITING_APPROVAL, APPROVED, SENDING, DONE,
        CANCELLED  (values lower-case: "draft", "awaiting_approval", …)

    @dataclass(frozen=True) BroadcastView(id: int, kind: "segment"|"csv", status, segment:
        Segment | None, template: str, values: dict[str, str], send_at: datetime | None,
        test_mode: bool, created_by: str, approved_by: str | None, created_at: datetime,
        approved_at: datetime | None, expected: int | None)
    @dataclass(frozen=True) BroadcastPreview(broadcast_id: int | None, count: int,
        previews: list[NoticePreview] (always el, en, tr), missing_translations: list[str])
    @dataclass(frozen=True) BroadcastProgress(broadcast_id: int, status: str, total: int,
        sent: int, failed: int, blocked: int, cancelled: int, remaining: int)
        total = expected recipients (dry-run count at approval, or queued rows if more);
        remaining = pending + sending + not yet queued.

    async def dry_run(deps, *, segment: Segment) -> int         how many chats it reaches now
    async def create_broadcast(deps, *, actor: Actor, segment: Segment, template: str |
        NoticeTemplate, values: dict[str, str] | None = None, send_at: datetime | None = None,
        test_mode: bool = False, submit: bool = True) -> BroadcastView
        supervisor+; snapshots the template; status awaiting_approval (draft if not submit);
        Invalid(code="missing_values") if a placeholder has no value; audited.
    async def submit_broadcast(deps, *, actor, broadcast_id) -> BroadcastView  draft → awaiting
    async def preview_broadcast(deps, *, broadcast_id: int) -> BroadcastPreview
    async def preview_segment(deps, *, segment, template, values=None) -> BroadcastPreview
    async def approve_broadcast(deps, *, actor: Actor, broadcast_id: int,
        progress_chat_id: int | None = None, progress_message_id: int | None = None)
        -> BroadcastView
        supervisor+, not the creator (NotAllowed(code="same_supervisor")), only from
        awaiting_approval (Conflict(code="bad_state")); if send_at is due the first batch is
        queued before it returns (status sending). Audited with the expected count.
    async def cancel_broadcast(deps, *, actor: Actor, broadcast_id: int) -> BroadcastProgress
        supervisor+; from any state but done/cancelled; pending rows cancelled; audited.
    async def broadcast_progress(deps, *, broadcast_id: int) -> BroadcastProgress   NotFound
    async def get_broadcast(deps, *, broadcast_id: int) -> BroadcastView             NotFound
    async def list_broadcasts(deps, *, status: str | None = None, limit: int = 50)
        -> list[BroadcastView]  newest first

    Progress message (the Telegram message that updates itself):
    async def set_progress_message(deps, *, broadcast_id, chat_id, message_id,
        language: str = "en") -> None
    @dataclass(frozen=True) ProgressUpdate(broadcast_id, chat_id, message_id, language,
        progress: BroadcastProgress)
    async def progress_updates_due(deps) -> list[ProgressUpdate]
        broadcasts with a progress message whose counts changed since last shown.
    async def mark_progress_shown(deps, *, broadcast_id, progress) -> None

    Scheduler job (the lead wires it, every few seconds):
    async def run_broadcasts(deps, *, batch_size: int = 5000, max_batches: int = 20) -> int
        starts approved broadcasts whose send_at has come, queues further batches, marks
        finished ones done; returns rows queued.

    CSV notice lists (one row per recipient; recipient columns chat_id, or id_type+id_number,
    or reference[+source]; every other column is a placeholder value, e.g. name, amount,
    deadline). Checked row by row; nothing is sent unless every row passes.
    @dataclass(frozen=True) CsvProblem(line: int, column: str, problem: str)   line 1 = header
    @dataclass(frozen=True) CsvCheck(rows: int, chats: int, problems: list[CsvProblem],
        missing_translations: list[str], previews: list[NoticePreview]) with .ok
    async def check_notice_csv(deps, *, actor: Actor, template: str | NoticeTemplate,
        csv_text: str) -> CsvCheck                          operator+; writes nothing
    async def send_notice_csv(deps, *, actor: Actor, template, csv_text: str,
        send_at: datetime | None = None) -> tuple[BroadcastView, CsvCheck]
        supervisor+; Invalid(code="csv_problems") (with .problems) if any row fails; else a
        broadcast of kind "csv" (status sending; progress and cancel work as above) with one
        NOTICE row per chat. Audited "notice_csv.send".
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from debtbot.domain.amounts import amount_due
from debtbot.domain.debts import Debt, DebtKind
from debtbot.domain.identifiers import IdType, identifier_hash, normalise_identifier
from debtbot.domain.messages import DeliveryStatus, OutboxPurpose, Priority
from debtbot.domain.milestones import MilestoneKind, milestones, next_milestone
from debtbot.domain.rules import Rulebook
from debtbot.i18n import LANGUAGES, translator
from debtbot.services import notices
from debtbot.services.deps import Deps
from debtbot.services.notices import NoticePreview, NoticeTemplate, RecipientQuery
from debtbot.services.staff import Actor, Conflict, Invalid, NotAllowed, NotFound, Role, require
from debtbot.store.broadcasts import BroadcastRecord, ChatSelection, RecipientChat
from debtbot.store.unit_of_work import UnitOfWork

BATCH_SIZE = 5000
MAX_CSV_ROWS = 50_000
MAX_CSV_CHARS = 10_000_000
# Past these, a debt is overdue: its payment deadline (admin fines, tax), the 30-day surcharge
# (out-of-court fines), the customs offence threshold. A fine warrant is overdue by nature.
OVERDUE_MILESTONES = frozenset(
    {MilestoneKind.PAYMENT_DUE, MilestoneKind.SURCHARGE, MilestoneKind.OFFENCE}
)
RECIPIENT_COLUMNS = ("chat_id", "id_type", "id_number", "id_hash", "source")


class SegmentKind(StrEnum):
    ALL = "all"
    DEBT_KIND = "debt_kind"
    OVERDUE = "overdue"
    PAST_THRESHOLD = "past_threshold"


class BroadcastStatus(StrEnum):
    DRAFT = "draft"
    AWAITING_APPROVAL = "awaiting_approval"
    APPROVED = "approved"
    SENDING = "sending"
    DONE = "done"
    CANCELLED = "cancelled"
    REJECTED = "rejected"


FINISHED = frozenset({BroadcastStatus.DONE.value, BroadcastStatus.CANCELLED.value,
                      BroadcastStatus.REJECTED.value})
# Filled in for each recipient of a segment broadcast, from the registry.
RECIPIENT_VALUES = ("name", "total_due", "next_deadline")


@dataclass(frozen=True, slots=True)
class Segment:
    kind: SegmentKind
    debt_kind: str | None = None
    milestone: str | None = None

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "kind", SegmentKind(self.kind))
            if self.debt_kind:
                object.__setattr__(self, "debt_kind", DebtKind(self.debt_kind).value)
            if self.milestone:
                object.__setattr__(self, "milestone", MilestoneKind(self.milestone).value)
        except ValueError as exc:
            raise Invalid(f"bad segment: {exc}", code="bad_segment") from exc
        if self.kind is SegmentKind.DEBT_KIND and not self.debt_kind:
            raise Invalid("a debt_kind segment needs debt_kind", code="bad_segment")
        if self.kind is SegmentKind.PAST_THRESHOLD and not self.milestone:
            raise Invalid("a past_threshold segment needs milestone", code="bad_segment")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Segment:
        if not isinstance(data, dict):
            raise Invalid("segment must be an object", code="bad_segment")
        return cls(
            kind=data.get("kind"),  # type: ignore[arg-type]
            debt_kind=data.get("debt_kind") or None,
            milestone=data.get("milestone") or None,
        )

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "debt_kind": self.debt_kind, "milestone": self.milestone}

    @property
    def needs_clock(self) -> bool:
        return self.kind in (SegmentKind.OVERDUE, SegmentKind.PAST_THRESHOLD)


@dataclass(frozen=True, slots=True)
class BroadcastView:
    id: int
    kind: str
    status: str
    segment: Segment | None
    template: str
    values: dict[str, str]
    send_at: datetime | None
    test_mode: bool
    created_by: str
    approved_by: str | None
    created_at: datetime | None
    approved_at: datetime | None
    expected: int | None
    template_version: int | None = None
    bodies: dict[str, str] = field(default_factory=dict)
    rejected_by: str | None = None
    reject_reason: str | None = None
    cancelled_by: str | None = None

    @property
    def per_recipient(self) -> list[str]:
        """The placeholders filled in for each recipient ({name}, {total_due}, …)."""
        if self.kind != "segment":
            return []
        used = notices.template_placeholders(self.bodies)
        return [name for name in RECIPIENT_VALUES if name in used]


@dataclass(frozen=True, slots=True)
class BroadcastPreview:
    broadcast_id: int | None
    count: int
    previews: list[NoticePreview]
    missing_translations: list[str]


@dataclass(frozen=True, slots=True)
class BroadcastProgress:
    broadcast_id: int
    status: str
    total: int
    sent: int
    failed: int
    blocked: int
    cancelled: int
    remaining: int


@dataclass(frozen=True, slots=True)
class ProgressUpdate:
    broadcast_id: int
    chat_id: int
    message_id: int
    language: str
    progress: BroadcastProgress


@dataclass(frozen=True, slots=True)
class CsvProblem:
    line: int
    column: str
    problem: str


@dataclass(frozen=True, slots=True)
class CsvCheck:
    rows: int
    chats: int
    problems: list[CsvProblem] = field(default_factory=list)
    unreachable: list[int] = field(default_factory=list)  # lines whose person has no chat
    missing_translations: list[str] = field(default_factory=list)
    previews: list[NoticePreview] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and self.rows > 0


class CsvProblems(Invalid):
    def __init__(self, check: CsvCheck) -> None:
        super().__init__(f"{len(check.problems)} row problem(s)", code="csv_problems")
        self.check = check
        self.problems = check.problems


# --- views -----------------------------------------------------------------------------------


def _view(row: BroadcastRecord) -> BroadcastView:
    segment = Segment.from_dict(row.segment) if row.kind == "segment" and row.segment else None
    return BroadcastView(
        id=row.id,
        kind=row.kind,
        status=row.status,
        segment=segment,
        template=row.template,
        values={k: str(v) for k, v in (row.values or {}).items()},
        send_at=row.send_at,
        test_mode=row.test_mode,
        created_by=row.created_by,
        approved_by=row.approved_by,
        created_at=row.created_at,
        approved_at=row.approved_at,
        expected=row.expected,
        template_version=row.template_version,
        bodies=dict(row.bodies or {}),
        rejected_by=row.rejected_by,
        reject_reason=row.reject_reason,
        cancelled_by=row.cancelled_by,
    )


def _stored_values(values: dict[str, Any]) -> dict[str, str]:
    return {
        key: (value.isoformat() if isinstance(value, date) else str(value))
        for key, value in values.items()
    }


def _payloads(
    deps: Deps, bodies: dict[str, str], values: dict[str, Any], reveal_key: str
) -> dict[tuple[str, bool], dict[str, Any]]:
    """One payload per (language, discreet): each is rendered once for every recipient."""
    checked = notices.check_values(values)
    payloads = {}
    for lang in LANGUAGES:
        t = translator(lang, timezone=deps.settings.tz)
        text, _fallback = notices.text_for(bodies, lang, checked, deps)
        for discreet in (False, True):
            payloads[(lang, discreet)] = notices.notice_payload(
                t, text, discreet=discreet, reveal_key=reveal_key
            )
    return payloads


async def _load(
    uow: UnitOfWork, broadcast_id: int, *, for_update: bool = False
) -> BroadcastRecord:
    row = await uow.broadcasts.get(broadcast_id, for_update=for_update)
    if row is None:
        raise NotFound("no such broadcast", code="no_broadcast")
    return row


# --- segments --------------------------------------------------------------------------------


def _debt_in_segment(segment: Segment, debt: Debt, now: datetime, rulebook: Rulebook) -> bool:
    if segment.debt_kind and debt.kind != segment.debt_kind:
        return False
    if segment.kind is SegmentKind.OVERDUE:
        if debt.kind is DebtKind.FINE_WARRANT:
            return True
        return any(
            m.kind in OVERDUE_MILESTONES and m.takes_effect <= now
            for m in milestones(debt, rulebook=rulebook)
        )
    return any(m.kind == segment.milestone and m.takes_effect <= now
               for m in milestones(debt, rulebook=rulebook))


async def _filter_by_clock(
    uow: UnitOfWork, segment: Segment, ids: list[int], now: datetime, rulebook: Rulebook
) -> list[int]:
    keep: set[int] = set()
    for chat_id, debt in await uow.broadcasts.open_debts_of_chats(ids):
        if chat_id not in keep and _debt_in_segment(segment, debt, now, rulebook):
            keep.add(chat_id)
    return [chat_id for chat_id in ids if chat_id in keep]


async def _count(uow: UnitOfWork, segment: Segment, now: datetime, rulebook: Rulebook) -> int:
    kind, debt_kind = segment.kind.value, segment.debt_kind
    if not segment.needs_clock:
        return await uow.broadcasts.count_chats(kind, debt_kind)
    total, after = 0, None
    while True:
        ids = await uow.broadcasts.chat_ids(kind, debt_kind, after=after, limit=BATCH_SIZE)
        if not ids:
            return total
        total += len(await _filter_by_clock(uow, segment, ids, now, rulebook))
        after = ids[-1]


async def dry_run(deps: Deps, *, segment: Segment) -> int:
    """How many chats the segment reaches now."""
    async with deps.uow() as uow:
        return await _count(uow, segment, deps.clock(), deps.rulebook)


# --- lifecycle -------------------------------------------------------------------------------


async def create_broadcast(
    deps: Deps,
    *,
    actor: Actor,
    segment: Segment,
    template: str | NoticeTemplate,
    values: dict[str, str] | None = None,
    send_at: datetime | None = None,
    test_mode: bool = False,
    submit: bool = True,
) -> BroadcastView:
    """A new broadcast, waiting for a second supervisor's approval (or a draft)."""
    require(actor, Role.SUPERVISOR)
    found = await notices.resolve_template(deps, template)
    checked = notices.check_values(values)
    missing = [
        n for n in notices.template_placeholders(found.bodies)
        if n not in checked and (test_mode or n not in RECIPIENT_VALUES)
    ]
    if missing:
        raise Invalid("no value for: " + ", ".join(missing), code="missing_values")
    if send_at is not None and send_at.tzinfo is None:
        raise Invalid("send_at must carry a time zone", code="bad_send_at")
    if send_at is not None and send_at <= deps.clock():
        raise Invalid("the send time is in the past", code="past_send_at")
    status = BroadcastStatus.AWAITING_APPROVAL if submit else BroadcastStatus.DRAFT
    async with deps.uow() as uow:
        row = await uow.broadcasts.add(
            kind="segment",
            segment=segment.to_dict(),
            template=found.name,
            template_version=found.version,
            bodies=dict(found.bodies),
            values=_stored_values(checked),
            status=status.value,
            test_mode=test_mode,
            created_by=actor.label,
            send_at=send_at,
            planning_done=False,
        )
        await uow.audit.record(
            actor=actor.label,
            action="broadcast.create",
            subject=f"broadcast:{row.id}",
            details={"segment": segment.to_dict(), "template": found.name,
                     "version": found.version, "test_mode": test_mode},
        )
        if submit and not test_mode:
            await _tell_supervisors(deps, uow, row)
        return _view(row)


async def submit_broadcast(deps: Deps, *, actor: Actor, broadcast_id: int) -> BroadcastView:
    require(actor, Role.SUPERVISOR)
    async with deps.uow() as uow:
        row = await _load(uow, broadcast_id, for_update=True)
        if row.status != BroadcastStatus.DRAFT.value:
            raise Conflict("only a draft can be submitted", code="bad_state")
        row = await uow.broadcasts.change(row.id, status=BroadcastStatus.AWAITING_APPROVAL.value)
        await uow.audit.record(
            actor=actor.label, action="broadcast.submit", subject=f"broadcast:{row.id}"
        )
        if not row.test_mode:
            await _tell_supervisors(deps, uow, row)
        return _view(row)


async def get_broadcast(deps: Deps, *, broadcast_id: int) -> BroadcastView:
    return _view(await deps.read(lambda uow: _load(uow, broadcast_id)))


async def list_broadcasts(
    deps: Deps, *, status: str | None = None, limit: int = 50
) -> list[BroadcastView]:
    rows = await deps.read(
        lambda uow: uow.broadcasts.listed(status=status, limit=max(1, min(limit, 500)))
    )
    return [_view(row) for row in rows]


def _preview(
    deps: Deps, bodies: dict[str, str], values: dict[str, Any], count: int, broadcast_id: int | None
) -> BroadcastPreview:
    checked = notices.check_values(values)
    return BroadcastPreview(
        broadcast_id=broadcast_id,
        count=count,
        previews=notices.previews_for(bodies, checked, LANGUAGES, deps),
        missing_translations=notices.missing_translations(bodies),
    )


async def preview_segment(
    deps: Deps,
    *,
    segment: Segment,
    template: str | NoticeTemplate,
    values: dict[str, str] | None = None,
) -> BroadcastPreview:
    """The three language versions and the dry-run count, before anything is created."""
    found = await notices.resolve_template(deps, template)
    count = await dry_run(deps, segment=segment)
    shown: dict[str, Any] = dict(values or {})
    if _per_recipient(found.bodies):
        shown = {**_stored_values(await sample_recipient_values(deps, segment=segment)), **shown}
    return _preview(deps, found.bodies, shown, count, None)


async def preview_broadcast(deps: Deps, *, broadcast_id: int) -> BroadcastPreview:
    """The three language versions and how many chats it would reach now."""
    async with deps.uow() as uow:
        row = await _load(uow, broadcast_id)
        if row.test_mode:
            count = len(await uow.staff.test_recipients()) * len(LANGUAGES)
        elif row.kind == "segment":
            count = await _count(uow, Segment.from_dict(row.segment), deps.clock(), deps.rulebook)
        else:
            count = row.expected or 0
    shown: dict[str, Any] = dict(row.values or {})
    if row.kind == "segment" and not row.test_mode and _per_recipient(row.bodies):
        sample = await sample_recipient_values(deps, segment=Segment.from_dict(row.segment))
        shown = {**_stored_values(sample), **shown}
    return _preview(deps, row.bodies, shown, count, row.id)


async def approve_broadcast(
    deps: Deps,
    *,
    actor: Actor,
    broadcast_id: int,
    progress_chat_id: int | None = None,
    progress_message_id: int | None = None,
) -> BroadcastView:
    """A second supervisor approves; if its time has come the first batch is queued now."""
    require(actor, Role.SUPERVISOR)
    now = deps.clock()
    async with deps.uow() as uow:
        row = await _load(uow, broadcast_id, for_update=True)
        if row.status != BroadcastStatus.AWAITING_APPROVAL.value:
            raise Conflict(f"the broadcast is {row.status}", code="bad_state")
        if row.created_by == actor.label and not row.test_mode:
            raise NotAllowed(
                "a second supervisor must approve it", code="same_supervisor"
            )
        if row.kind == "csv":
            return await _approve_list(deps, uow, row, actor, now)
        if row.test_mode:
            expected = len(await uow.staff.test_recipients()) * len(LANGUAGES)
        else:
            expected = await _count(uow, Segment.from_dict(row.segment), now, deps.rulebook)
        progress: dict[str, Any] = {}
        if progress_chat_id is not None and progress_message_id is not None:
            progress = {"progress_chat_id": progress_chat_id,
                        "progress_message_id": progress_message_id}
        row = await uow.broadcasts.change(
            row.id, status=BroadcastStatus.APPROVED.value, approved_by=actor.label,
            approved_at=now, expected=expected, **progress,
        )
        await uow.audit.record(
            actor=actor.label,
            action="broadcast.approve",
            subject=f"broadcast:{row.id}",
            count=expected,
            details={"test_mode": row.test_mode},
        )
    if row.send_at is None or row.send_at <= now:
        await _plan_once(deps, broadcast_id, batch_size=BATCH_SIZE)
    return await get_broadcast(deps, broadcast_id=broadcast_id)


async def reject_broadcast(
    deps: Deps, *, actor: Actor, broadcast_id: int, reason: str
) -> BroadcastView:
    """A second supervisor says no, with a reason; nothing goes out."""
    require(actor, Role.SUPERVISOR)
    reason = (reason or "").strip()
    if not reason:
        raise Invalid("say why it is rejected", code="no_reason")
    if len(reason) > 1000:
        raise Invalid("the reason is longer than 1000 characters", code="bad_reason")
    now = deps.clock()
    async with deps.uow() as uow:
        row = await _load(uow, broadcast_id, for_update=True)
        if row.status != BroadcastStatus.AWAITING_APPROVAL.value:
            raise Conflict(f"the broadcast is {row.status}", code="bad_state")
        if row.created_by == actor.label:
            raise NotAllowed("a second supervisor must decide", code="same_supervisor")
        row = await uow.broadcasts.change(
            row.id, status=BroadcastStatus.REJECTED.value, rejected_by=actor.label,
            reject_reason=reason, finished_at=now,
        )
        await uow.audit.record(
            actor=actor.label, action="broadcast.reject", subject=f"broadcast:{row.id}",
            details={"kind": row.kind},
        )
        return _view(row)


async def cancel_broadcast(deps: Deps, *, actor: Actor, broadcast_id: int) -> BroadcastProgress:
    """Stop a broadcast part-way: what has not gone out yet never will."""
    require(actor, Role.SUPERVISOR)
    now = deps.clock()
    async with deps.uow() as uow:
        row = await _load(uow, broadcast_id, for_update=True)
        if row.status in FINISHED:
            raise Conflict(f"the broadcast is already {row.status}", code="bad_state")
        await uow.broadcasts.change(
            row.id, status=BroadcastStatus.CANCELLED.value, cancelled_by=actor.label,
            finished_at=now,
        )
        cancelled = await uow.outbox.cancel(broadcast_id=row.id, reason="broadcast cancelled")
        await uow.audit.record(
            actor=actor.label,
            action="broadcast.cancel",
            subject=f"broadcast:{row.id}",
            count=cancelled,
        )
    return await broadcast_progress(deps, broadcast_id=broadcast_id)


def _progress(row: BroadcastRecord, counts: dict[str, int]) -> BroadcastProgress:
    sent = counts.get(DeliveryStatus.SENT.value, 0)
    failed = counts.get(DeliveryStatus.FAILED.value, 0)
    blocked = counts.get(DeliveryStatus.BLOCKED.value, 0)
    cancelled = counts.get(DeliveryStatus.CANCELLED.value, 0) + counts.get(
        DeliveryStatus.DROPPED.value, 0
    )
    in_flight = counts.get(DeliveryStatus.PENDING.value, 0) + counts.get(
        DeliveryStatus.SENDING.value, 0
    )
    queued = sum(counts.values())
    not_queued = 0
    if not row.planning_done and row.status not in FINISHED:
        not_queued = max((row.expected or 0) - queued, 0)
    remaining = in_flight + not_queued
    return BroadcastProgress(
        broadcast_id=row.id,
        status=row.status,
        total=sent + failed + blocked + cancelled + remaining,
        sent=sent,
        failed=failed,
        blocked=blocked,
        cancelled=cancelled,
        remaining=remaining,
    )


async def broadcast_progress(deps: Deps, *, broadcast_id: int) -> BroadcastProgress:
    """Sent, failed, blocked, cancelled and remaining, from the outbox rows."""
    async with deps.uow() as uow:
        row = await _load(uow, broadcast_id)
        return _progress(row, await uow.broadcasts.delivery_counts(row.id))


# --- planning (the scheduler job) ------------------------------------------------------------


async def _plan_once(deps: Deps, broadcast_id: int, *, batch_size: int) -> int:
    """Queue the next batch of one broadcast in a unit of work of its own."""
    now = deps.clock()
    async with deps.uow() as uow:
        row = await _load(uow, broadcast_id, for_update=True)
        if row.status not in (BroadcastStatus.APPROVED.value, BroadcastStatus.SENDING.value):
            return 0
        if row.planning_done:
            return 0
        if row.status == BroadcastStatus.APPROVED.value and row.send_at and row.send_at > now:
            return 0
        sending = BroadcastStatus.SENDING.value
        payloads = _payloads(deps, row.bodies, row.values, f"broadcast:{row.id}")
        if row.test_mode:
            queued = 0
            for chat_id, _language in await uow.staff.test_recipients():
                for lang in LANGUAGES:
                    queued += int(await uow.outbox.enqueue(
                        dedupe_key=f"broadcast:{row.id}:{chat_id}:{lang}",
                        chat_id=chat_id,
                        purpose=OutboxPurpose.BROADCAST,
                        payload=payloads[(lang, False)],
                        not_before=now,
                        priority=int(Priority.BROADCAST),
                        broadcast_id=row.id,
                    ))
            await uow.broadcasts.change(row.id, status=sending, planning_done=True)
            return queued
        segment = Segment.from_dict(row.segment)
        kind, debt_kind = segment.kind.value, segment.debt_kind
        after = row.planned_through
        if _per_recipient(row.bodies):
            return await _plan_per_recipient(deps, uow, row, segment, batch_size=batch_size,
                                             now=now)
        common: dict[str, Any] = {
            "broadcast_id": row.id,
            "key_prefix": f"broadcast:{row.id}:",
            "payloads": payloads,
            "default_key": ("en", False),
            "purpose": OutboxPurpose.BROADCAST.value,
            "priority": int(Priority.BROADCAST),
            "not_before": now,
        }
        if segment.needs_clock:
            ids = await uow.broadcasts.chat_ids(kind, debt_kind, after=after, limit=batch_size)
            if not ids:
                await uow.broadcasts.change(row.id, status=sending, planning_done=True)
                return 0
            chosen = await _filter_by_clock(uow, segment, ids, now, deps.rulebook)
            queued = (
                await uow.outbox.queue_for_chats(ChatSelection(kind, ids=tuple(chosen)),
                                                 **common)
                if chosen
                else 0
            )
            await uow.broadcasts.change(row.id, status=sending, planned_through=ids[-1])
            return queued
        end = await uow.broadcasts.batch_end(kind, debt_kind, after=after, limit=batch_size)
        if end is None:
            await uow.broadcasts.change(row.id, status=sending, planning_done=True)
            return 0
        queued = await uow.outbox.queue_for_chats(
            ChatSelection(kind, debt_kind, after=after, through=end), **common
        )
        await uow.broadcasts.change(row.id, status=sending, planned_through=end)
        return queued


async def _finish_done(deps: Deps) -> None:
    now = deps.clock()
    async with deps.uow() as uow:
        for broadcast_id in await uow.broadcasts.sending_ids():
            if await uow.broadcasts.open_rows(broadcast_id) == 0:
                row = await _load(uow, broadcast_id, for_update=True)
                if row.status == BroadcastStatus.SENDING.value:
                    await uow.broadcasts.change(row.id, status=BroadcastStatus.DONE.value,
                                                finished_at=now)


async def run_broadcasts(
    deps: Deps, *, batch_size: int = BATCH_SIZE, max_batches: int = 20
) -> int:
    """The scheduler job: start due broadcasts, queue further batches, mark finished ones."""
    queued = 0
    now = deps.clock()
    due = await deps.read(lambda uow: uow.broadcasts.due_for_planning(now=now))
    for broadcast_id in due:
        for _ in range(max_batches):
            before = await _planning_state(deps, broadcast_id)
            queued += await _plan_once(deps, broadcast_id, batch_size=batch_size)
            if await _planning_state(deps, broadcast_id) == before:
                break
    await _finish_done(deps)
    return queued


async def _planning_state(deps: Deps, broadcast_id: int) -> tuple[str, bool, int | None]:
    row = await deps.read(lambda uow: _load(uow, broadcast_id))
    return row.status, row.planning_done, row.planned_through


# --- the self-updating progress message ------------------------------------------------------


async def set_progress_message(
    deps: Deps, *, broadcast_id: int, chat_id: int, message_id: int, language: str = "en"
) -> None:
    async with deps.uow() as uow:
        row = await _load(uow, broadcast_id, for_update=True)
        await uow.broadcasts.change(
            row.id, progress_chat_id=chat_id, progress_message_id=message_id,
            progress_language=language if language in LANGUAGES else "en", progress_shown={},
        )


def _shown_key(progress: BroadcastProgress) -> dict[str, Any]:
    return {
        "status": progress.status,
        "sent": progress.sent,
        "failed": progress.failed,
        "blocked": progress.blocked,
        "cancelled": progress.cancelled,
        "remaining": progress.remaining,
    }


async def progress_updates_due(deps: Deps) -> list[ProgressUpdate]:
    """Progress messages whose counts changed since they were last shown."""
    updates = []
    async with deps.uow() as uow:
        finished_since = deps.clock() - timedelta(hours=1)
        for row in await uow.broadcasts.with_progress_message(finished_since=finished_since):
            progress = _progress(row, await uow.broadcasts.delivery_counts(row.id))
            if (row.progress_shown or {}) == _shown_key(progress):
                continue
            updates.append(
                ProgressUpdate(
                    broadcast_id=row.id,
                    chat_id=int(row.progress_chat_id or 0),
                    message_id=int(row.progress_message_id or 0),
                    language=row.progress_language or "en",
                    progress=progress,
                )
            )
    return updates


async def mark_progress_shown(deps: Deps, *, broadcast_id: int, progress: BroadcastProgress) -> None:
    async with deps.uow() as uow:
        row = await _load(uow, broadcast_id, for_update=True)
        await uow.broadcasts.change(row.id, progress_shown=_shown_key(progress))


# --- CSV notice lists ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _CsvRow:
    line: int
    chats: list[RecipientChat]
    values: dict[str, Any]


def decode_csv(data: bytes) -> str:
    """A CSV file's text: UTF-8 (with or without a byte order mark), else Windows-1253 (what
    older Greek Excel writes)."""
    if len(data) > MAX_CSV_CHARS:
        raise Invalid("the file is too large", code="csv_too_large")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise Invalid("the file is UTF-16: save it as CSV UTF-8", code="csv_unreadable")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            return data.decode("cp1253")
        except UnicodeDecodeError as exc:
            raise Invalid("the file is neither UTF-8 nor Windows-1253 text",
                          code="csv_unreadable") from exc


def _delimiter(text: str) -> str:
    """`,` or `;` (Excel in a Greek locale writes `;`): whichever splits the header line."""
    header = text.split("\n", 1)[0]
    return ";" if header.count(";") > header.count(",") else ","


def _read_csv(csv_text: str) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    if len(csv_text) > MAX_CSV_CHARS:
        raise Invalid("the file is too large", code="csv_too_large")
    text = csv_text.lstrip("\ufeff")
    reader = csv.reader(io.StringIO(text), delimiter=_delimiter(text), strict=True)
    try:
        header = [column.strip().lower() for column in next(reader)]
    except StopIteration as exc:
        raise Invalid("the file is empty", code="csv_empty") from exc
    except csv.Error as exc:
        raise Invalid(f"not a CSV file: {exc}", code="csv_unreadable") from exc
    if len(set(header)) != len(header) or any(not column for column in header):
        raise Invalid("the header has empty or repeated column names", code="csv_header")
    if not ({"chat_id"} <= set(header) or {"id_type", "id_number"} <= set(header)
            or {"id_type", "id_hash"} <= set(header) or "reference" in header):
        raise Invalid(
            "the header needs chat_id, or id_type and id_number, or reference",
            code="csv_header",
        )
    rows = []
    try:
        for number, cells in enumerate(reader, start=2):
            if not any(cell.strip() for cell in cells):
                continue
            if len(rows) >= MAX_CSV_ROWS:
                raise Invalid(f"more than {MAX_CSV_ROWS} rows", code="csv_too_large")
            padded = cells + [""] * (len(header) - len(cells))
            row = dict(zip(header, (cell.strip() for cell in padded), strict=False))
            if len(cells) > len(header):
                row["\x00extra"] = "1"
            rows.append((number, row))
    except csv.Error as exc:
        raise Invalid(f"not a CSV file: {exc}", code="csv_unreadable") from exc
    return header, rows


def _query_for(row: dict[str, str]) -> RecipientQuery:
    if row.get("chat_id"):
        try:
            chat_id = int(row["chat_id"])
        except ValueError as exc:
            raise Invalid("chat_id is not a number", code="bad_recipient") from exc
        if not 1 <= chat_id <= 2**53:
            raise Invalid("chat_id is out of range", code="bad_recipient")
        return RecipientQuery(chat_id=chat_id)
    if row.get("id_hash"):
        return RecipientQuery(id_type=row.get("id_type"), id_hash=row["id_hash"])
    if row.get("id_number") or row.get("id_type"):
        return RecipientQuery(id_type=row.get("id_type"), id_number=row.get("id_number"))
    if row.get("reference"):
        return RecipientQuery(reference=row["reference"], source=row.get("source") or None)
    raise Invalid("no recipient in this row", code="bad_recipient")


async def _check_csv(
    deps: Deps, uow: UnitOfWork, template: NoticeTemplate, csv_text: str
) -> tuple[CsvCheck, list[_CsvRow]]:
    _header, rows = _read_csv(csv_text)
    needed = notices.template_placeholders(template.bodies)
    problems: list[CsvProblem] = []
    unreachable: list[int] = []
    good: list[_CsvRow] = []
    seen: dict[str, int] = {}
    languages: set[str] = set()
    for line, row in rows:
        if row.pop("\x00extra", None):
            problems.append(CsvProblem(line, "", "more cells than the header has columns"))
            continue
        given = {k: v for k, v in row.items() if k not in RECIPIENT_COLUMNS and v}
        try:
            checked = notices.check_values(given)
        except Invalid as exc:
            column = {"bad_amount": "amount", "bad_deadline": "deadline"}.get(exc.code, "")
            problems.append(CsvProblem(line, column, exc.detail))
            continue
        try:
            resolved = await notices.resolve_recipient(deps, uow, _query_for(row))
        except (Invalid, NotFound) as exc:
            column = "chat_id" if row.get("chat_id") else (
                "id_number" if row.get("id_number") or row.get("id_type") else "reference"
            )
            problems.append(CsvProblem(line, column, exc.detail))
            continue
        if resolved.subject in seen:
            problems.append(
                CsvProblem(line, "", f"the same recipient as line {seen[resolved.subject]}")
            )
            continue
        seen[resolved.subject] = line
        merged = notices.merge_values(resolved.values, checked)
        missing = [name for name in needed if name not in merged]
        if missing:
            problems.append(CsvProblem(line, missing[0], "no value for " + ", ".join(missing)))
            continue
        if not resolved.chats:
            unreachable.append(line)
        languages.update(c.language if c.language in LANGUAGES else "en" for c in resolved.chats)
        good.append(_CsvRow(line, resolved.chats, merged))
    first_values = good[0].values if good else {}
    check = CsvCheck(
        rows=len(rows),
        chats=sum(len(row.chats) for row in good),
        problems=problems,
        unreachable=unreachable,
        missing_translations=notices.missing_translations(template.bodies, languages or LANGUAGES),
        previews=notices.previews_for(template.bodies, first_values, LANGUAGES, deps),
    )
    return check, good


async def check_notice_csv(
    deps: Deps, *, actor: Actor, template: str | NoticeTemplate, csv_text: str
) -> CsvCheck:
    """Check every row (recipient found, values well-formed, nothing missing); sends nothing."""
    require(actor, Role.OPERATOR)
    found = await notices.resolve_template(deps, template)
    async with deps.uow() as uow:
        check, _rows = await _check_csv(deps, uow, found, csv_text)
    return check


async def send_notice_csv(
    deps: Deps,
    *,
    actor: Actor,
    template: str | NoticeTemplate,
    csv_text: str,
    send_at: datetime | None = None,
) -> tuple[BroadcastView, CsvCheck]:
    """Ask for a checked notice list to be sent: all rows or none, once a SECOND supervisor
    approves it (approve_broadcast), exactly as a broadcast."""
    require(actor, Role.SUPERVISOR)
    found = await notices.resolve_template(deps, template)
    now = deps.clock()
    if send_at is not None and (send_at.tzinfo is None or send_at <= now):
        raise Invalid("the send time is in the past", code="past_send_at")
    async with deps.uow() as uow:
        check, _rows = await _check_csv(deps, uow, found, csv_text)
        if not check.ok:
            raise CsvProblems(check)
        row = await uow.broadcasts.add(
            kind="csv",
            segment={},
            template=found.name,
            template_version=found.version,
            bodies=dict(found.bodies),
            values={},
            status=BroadcastStatus.AWAITING_APPROVAL.value,
            test_mode=False,
            created_by=actor.label,
            send_at=send_at,
            expected=check.chats,
            planning_done=False,
            source_csv=_without_identity_numbers(deps, csv_text),
        )
        await uow.audit.record(
            actor=actor.label,
            action="notice_csv.submit",
            subject=f"broadcast:{row.id}",
            count=check.chats,
            details={"template": found.name, "version": found.version, "rows": check.rows,
                     "unreachable": len(check.unreachable)},
        )
        await _tell_supervisors(deps, uow, row)
        return _view(row), check


def _without_identity_numbers(deps: Deps, csv_text: str) -> str:
    """The list as kept until it is approved: each identity number replaced by its keyed
    hash (column `id_hash`), never stored in plain text. Rows keep their line numbers."""
    header, rows = _read_csv(csv_text)
    if "id_number" not in header:
        return csv_text
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["id_hash" if column == "id_number" else column for column in header])
    line = 2
    for number, row in rows:
        for _ in range(number - line):
            writer.writerow([])
        cells = []
        for column in header:
            value = row.get(column, "")
            if column == "id_number" and value:
                value = identifier_hash(
                    normalise_identifier(IdType(row.get("id_type", "")), value),
                    deps.settings.hash_key,
                )
            cells.append(value)
        writer.writerow(cells)
        line = number + 1
    return out.getvalue()


async def list_check(deps: Deps, *, broadcast_id: int) -> CsvCheck:
    """A notice list's check, run again now (what the approver sees)."""
    async with deps.uow() as uow:
        row = await _load(uow, broadcast_id)
        if row.kind != "csv" or not row.source_csv:
            raise NotFound("no such notice list", code="no_broadcast")
        template = NoticeTemplate(row.template, dict(row.bodies), row.template_version)
        check, _rows = await _check_csv(deps, uow, template, row.source_csv)
    return check


async def _approve_list(
    deps: Deps, uow: UnitOfWork, row: BroadcastRecord, actor: Actor, now: datetime
) -> BroadcastView:
    """Queue an approved notice list, checked again: if a row no longer passes, nothing."""
    template = NoticeTemplate(row.template, dict(row.bodies), row.template_version)
    check, rows = await _check_csv(deps, uow, template, row.source_csv or "")
    if not check.ok:
        raise CsvProblems(check)
    not_before = row.send_at if row.send_at is not None and row.send_at > now else now
    translators = {lang: translator(lang, timezone=deps.settings.tz) for lang in LANGUAGES}
    queued = 0
    for item in rows:
        for chat in item.chats:
            lang = chat.language if chat.language in LANGUAGES else "en"
            queued += int(
                await uow.outbox.enqueue(
                    dedupe_key=f"csv:{row.id}:{item.line}:{chat.chat_id}",
                    chat_id=chat.chat_id,
                    purpose=OutboxPurpose.NOTICE,
                    payload=notices.notice_payload(
                        translators[lang],
                        notices.text_for(row.bodies, lang, item.values, deps)[0],
                        discreet=chat.discreet,
                        reveal_key=f"csv:{row.id}:{item.line}",
                    ),
                    not_before=not_before,
                    priority=int(Priority.NOTICE),
                    broadcast_id=row.id,
                )
            )
    row = await uow.broadcasts.change(
        row.id, status=BroadcastStatus.SENDING.value, approved_by=actor.label, approved_at=now,
        expected=queued, planning_done=True,
    )
    await uow.audit.record(
        actor=actor.label,
        action="notice_csv.approve",
        subject=f"broadcast:{row.id}",
        count=queued,
        details={"template": row.template, "rows": check.rows, "created_by": row.created_by},
    )
    return _view(row)


# --- telling supervisors that something waits -------------------------------------------------


async def _tell_supervisors(deps: Deps, uow: UnitOfWork, row: BroadcastRecord) -> int:
    """A Telegram message to every other active supervisor and admin: something waits for
    their approval, with the console link."""
    link = f"{deps.settings.public_url.rstrip('/')}/console/broadcasts/{row.id}"
    queued = 0
    for member in await uow.staff.members(include_inactive=False):
        if member.role not in ("supervisor", "admin"):
            continue
        if f"staff:{member.telegram_user_id}" == row.created_by:
            continue
        t = translator(member.language, timezone=deps.settings.tz)
        if row.kind == "csv":
            text = t.gettext(
                "Notice list #%(id)d (%(n)d chats) waits for a second supervisor's approval: "
                "%(link)s"
            ) % {"id": row.id, "n": row.expected or 0, "link": link}
        else:
            text = t.gettext(
                "Broadcast #%(id)d waits for a second supervisor's approval: %(link)s"
            ) % {"id": row.id, "link": link}
        queued += int(await uow.outbox.enqueue(
            dedupe_key=f"approval:{row.id}:{member.telegram_user_id}",
            chat_id=member.telegram_user_id,
            purpose=OutboxPurpose.NOTICE,
            payload={"text": text, "buttons": [], "disable_notification": False},
            not_before=deps.clock(),
            priority=int(Priority.NOTICE),
        ))
    return queued


# --- per-recipient values ({name}, {total_due}, {next_deadline}) ------------------------------


def _per_recipient(bodies: dict[str, str]) -> bool:
    used = notices.template_placeholders(bodies)
    return any(name in used for name in RECIPIENT_VALUES)


def recipient_values(
    names: list[str], debts: list[Debt], now: datetime, rulebook: Rulebook
) -> dict[str, Any]:
    """{name}: the chat's first verified identity; {total_due}: what its open debts come to
    now; {next_deadline}: the last day before the nearest legal threshold among them."""
    values: dict[str, Any] = {}
    if names:
        values["name"] = names[0]
    total = Decimal("0")
    deadlines = []
    for debt in debts:
        total += amount_due(debt, now, rulebook=rulebook).total
        upcoming = next_milestone(debt, now, rulebook=rulebook)
        if upcoming is not None:
            deadlines.append(upcoming.last_day)
    values["total_due"] = total
    if deadlines:
        values["next_deadline"] = min(deadlines)
    return values


async def _plan_per_recipient(
    deps: Deps, uow: UnitOfWork, row: BroadcastRecord, segment: Segment, *,
    batch_size: int, now: datetime,
) -> int:
    """One batch of a broadcast whose text differs per recipient: rendered chat by chat."""
    sending = BroadcastStatus.SENDING.value
    ids = await uow.broadcasts.chat_ids(segment.kind.value, segment.debt_kind,
                                        after=row.planned_through, limit=batch_size)
    if not ids:
        await uow.broadcasts.change(row.id, status=sending, planning_done=True)
        return 0
    chosen = (await _filter_by_clock(uow, segment, ids, now, deps.rulebook)
              if segment.needs_clock else ids)
    facts = await uow.broadcasts.recipient_facts(chosen)
    given = notices.check_values(row.values)
    queued = 0
    for chat_id in chosen:
        chat = facts[chat_id]
        lang = chat.language if chat.language in LANGUAGES else "en"
        values = {**recipient_values(chat.names, chat.debts, now, deps.rulebook), **given}
        text, _fallback = notices.text_for(row.bodies, lang, values, deps)
        queued += int(await uow.outbox.enqueue(
            dedupe_key=f"broadcast:{row.id}:{chat_id}",
            chat_id=chat_id,
            purpose=OutboxPurpose.BROADCAST,
            payload=notices.notice_payload(
                translator(lang, timezone=deps.settings.tz), text, discreet=chat.discreet,
                reveal_key=f"broadcast:{row.id}",
            ),
            not_before=now,
            priority=int(Priority.BROADCAST),
            broadcast_id=row.id,
        ))
    await uow.broadcasts.change(row.id, status=sending, planned_through=ids[-1])
    return queued


async def sample_recipient_values(deps: Deps, *, segment: Segment) -> dict[str, Any]:
    """The per-recipient values of the segment's first recipient (for previews)."""
    now = deps.clock()
    async with deps.uow() as uow:
        ids = await uow.broadcasts.chat_ids(segment.kind.value, segment.debt_kind, after=None,
                                            limit=50)
        if segment.needs_clock:
            ids = await _filter_by_clock(uow, segment, ids, now, deps.rulebook)
        if not ids:
            return {}
        facts = await uow.broadcasts.recipient_facts(ids[:1])
    chat = facts[ids[0]]
    return recipient_values(chat.names, chat.debts, now, deps.rulebook)
