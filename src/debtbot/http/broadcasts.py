"""Broadcasts from staff systems: create (scope `notices`), approve by a SECOND token
(a second supervisor), cancel, and read progress (scope `read`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from debtbot.http.base import STAFF_ERRORS, Body, Call, Instant, Operation, Reply, staff_error
from debtbot.http.debts import DebtKindName
from debtbot.http.notices import InlineTemplate, TemplateName, Values, actor, template_of
from debtbot.services import broadcasts
from debtbot.services.staff import StaffError

MilestoneName = Literal[
    "payable_from", "driver_nomination", "representations", "payment_due", "surcharge",
    "prosecution", "court", "offence", "forfeiture", "bank_freeze_risk", "property_charge",
    "time_bar", "freeze_objection", "forfeiture_objection", "property_charge_objection",
]


class SegmentIn(Body):
    """all; debt_kind (+ debt_kind); overdue; past_threshold (+ milestone)."""

    kind: Literal["all", "debt_kind", "overdue", "past_threshold"]
    debt_kind: DebtKindName | None = None
    milestone: MilestoneName | None = None


class BroadcastIn(Body):
    segment: SegmentIn
    template: TemplateName | InlineTemplate
    values: Values = Field(default_factory=dict)
    send_at: Instant | None = None
    test_mode: bool = False
    submit: bool = True


class SegmentOut(Reply):
    kind: str
    debt_kind: str | None = None
    milestone: str | None = None


class BroadcastOut(Reply):
    id: int
    kind: str
    status: str
    segment: SegmentOut | None
    template: str
    values: dict[str, str]
    send_at: datetime | None
    test_mode: bool
    created_by: str
    approved_by: str | None
    created_at: datetime | None
    approved_at: datetime | None
    expected: int | None


class ProgressOut(Reply):
    broadcast_id: int
    status: str
    total: int
    sent: int
    failed: int
    blocked: int
    cancelled: int
    remaining: int


class BroadcastState(Reply):
    broadcast: BroadcastOut
    progress: ProgressOut


def _segment(segment: Any) -> SegmentOut | None:
    if segment is None:
        return None
    data = segment.to_dict() if hasattr(segment, "to_dict") else dict(segment)
    return SegmentOut(
        kind=str(data.get("kind")), debt_kind=data.get("debt_kind"),
        milestone=data.get("milestone"),
    )


def _view(view: broadcasts.BroadcastView) -> BroadcastOut:
    return BroadcastOut(
        id=view.id, kind=str(view.kind), status=str(view.status),
        segment=_segment(view.segment), template=view.template, values=dict(view.values),
        send_at=view.send_at, test_mode=view.test_mode, created_by=view.created_by,
        approved_by=view.approved_by, created_at=view.created_at,
        approved_at=view.approved_at, expected=view.expected,
    )


def _progress(progress: broadcasts.BroadcastProgress) -> ProgressOut:
    return ProgressOut(
        broadcast_id=progress.broadcast_id, status=str(progress.status), total=progress.total,
        sent=progress.sent, failed=progress.failed, blocked=progress.blocked,
        cancelled=progress.cancelled, remaining=progress.remaining,
    )


async def create(call: Call) -> BroadcastOut:
    """Create a broadcast awaiting a second supervisor's approval (or a draft)."""
    body: BroadcastIn = call.body
    try:
        segment = broadcasts.Segment.from_dict(body.segment.model_dump(exclude_none=True))
        view = await broadcasts.create_broadcast(
            call.deps, actor=actor(call), segment=segment, template=template_of(body.template),
            values=dict(body.values), send_at=body.send_at, test_mode=body.test_mode,
            submit=body.submit,
        )
    except StaffError as exc:
        raise staff_error(exc) from None
    return _view(view)


async def approve(call: Call) -> BroadcastOut:
    """Approve (not by the token that created it); sending starts at send_at."""
    try:
        view = await broadcasts.approve_broadcast(
            call.deps, actor=actor(call), broadcast_id=call.params["broadcast_id"]
        )
    except StaffError as exc:
        raise staff_error(exc) from None
    return _view(view)


async def cancel(call: Call) -> ProgressOut:
    """Stop it: what has not gone out stays unsent."""
    try:
        progress = await broadcasts.cancel_broadcast(
            call.deps, actor=actor(call), broadcast_id=call.params["broadcast_id"]
        )
    except StaffError as exc:
        raise staff_error(exc) from None
    return _progress(progress)


async def read(call: Call) -> BroadcastState:
    """The broadcast and how far it has got."""
    broadcast_id = call.params["broadcast_id"]
    try:
        view = await broadcasts.get_broadcast(call.deps, broadcast_id=broadcast_id)
        progress = await broadcasts.broadcast_progress(call.deps, broadcast_id=broadcast_id)
    except StaffError as exc:
        raise staff_error(exc) from None
    return BroadcastState(broadcast=_view(view), progress=_progress(progress))


OPERATIONS = [
    Operation(
        "POST", "/api/broadcasts", "createBroadcast", "Create a broadcast", "broadcasts",
        create, BroadcastOut, scope="notices", request=BroadcastIn, status=201,
        errors=STAFF_ERRORS,
    ),
    Operation(
        "GET", "/api/broadcasts/{broadcast_id}", "getBroadcast", "A broadcast and its progress",
        "broadcasts", read, BroadcastState, scope="read", errors=STAFF_ERRORS,
    ),
    Operation(
        "POST", "/api/broadcasts/{broadcast_id}/approve", "approveBroadcast",
        "Approve a broadcast (a second supervisor: not the creating token)", "broadcasts",
        approve, BroadcastOut, scope="notices", errors=STAFF_ERRORS,
    ),
    Operation(
        "POST", "/api/broadcasts/{broadcast_id}/cancel", "cancelBroadcast",
        "Cancel a broadcast", "broadcasts", cancel, ProgressOut, scope="notices",
        errors=STAFF_ERRORS,
    ),
]
