"""The registries' side: upsert and cancel debts in batches (scope `ingest`).

The fields are the import file's columns (services.ingest_debts), typed. A batch is all or
nothing: one invalid debt and the answer is 422 listing every fault, with nothing written.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from debtbot.domain.debts import DebtStatus
from debtbot.http.base import ApiError, Body, Call, Day, Instant, Key, Money, Operation, Reply
from debtbot.services.ingest_debts import cancel_debts, records_from_rows, upsert_debts

MAX_BATCH = 5000

_PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
Text200 = Annotated[str, StringConstraints(max_length=200, pattern=_PRINTABLE)]
Text300 = Annotated[str, StringConstraints(min_length=1, max_length=300, pattern=_PRINTABLE)]
Text100 = Annotated[str, StringConstraints(max_length=100, pattern=_PRINTABLE)]
IdNumber = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=_PRINTABLE)]
Phone = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=r"^[0-9 +()./-]+$")]
Rate = Annotated[
    str, StringConstraints(pattern=r"^(0(\.[0-9]{1,6})?|[0-9]{1,2}(\.[0-9]{1,4})?%)$")
]
DebtKindName = Literal["out_of_court_fine", "fine_warrant", "admin_fine", "tax", "customs"]
StatusName = Literal["outstanding", "paid", "cancelled", "withdrawn"]
PersonIdType = Literal["id_card", "arc", "passport"]


class DebtIn(Body):
    """One debt and its holder, as the registry knows them."""

    kind: DebtKindName
    source: Key
    reference: Key
    authority: Text200 = ""
    holder_type: Literal["person", "company"]
    id_type: Literal["id_card", "arc", "passport", "company_reg"]
    id_number: IdNumber
    name: Text300
    date_of_birth: Day | None = None
    amount: Money
    served_on: Day | None = None
    # Type E note 1: the moment of service, when known (payable 72 hours after it).
    served_at: Instant | None = None
    due_on: Day | None = None
    status: StatusName | None = None
    phone: Phone | None = None
    language: Literal["el", "en", "tr"] | None = None
    points: Annotated[int, Field(ge=0, le=12)] | None = None
    surcharge_rate: Rate | None = None
    post_clearance: bool | None = None
    enforcement_suspended: bool | None = None
    instalments_on_time: bool | None = None
    finding_notice_on: Day | None = None
    # Tax Collection Law: a measure taken, from the date its objection window counts.
    freeze_notified_on: Day | None = None  # 9B(5): the debtor informed of a bank freeze
    seized_on: Day | None = None  # 9Γ(5): the seizure (deemed forfeited after 30 days)
    charge_notified_on: Day | None = None  # 9Δ(4): written notice of a charge on property
    # Out-of-court fines: the registry's first day of the surcharge and of prosecution;
    # they win over the rulebook's dates.
    surcharge_on: Day | None = None
    prosecution_on: Day | None = None
    representative_id_type: PersonIdType | None = None
    representative_id_number: IdNumber | None = None
    representative_name: Text300 | None = None
    representative_date_of_birth: Day | None = None
    representative_phone: Phone | None = None
    representative_role: Text100 | None = None


class UpsertDebts(Body):
    debts: Annotated[list[DebtIn], Field(min_length=1, max_length=MAX_BATCH)]


class UpsertResult(Reply):
    received: int
    inserted: int
    updated: int
    unchanged: int
    closed: int


class DebtKey(Body):
    source: Key
    reference: Key


class CancelDebts(Body):
    debts: Annotated[list[DebtKey], Field(min_length=1, max_length=MAX_BATCH)]
    status: Literal["cancelled", "withdrawn"] = "cancelled"


class CancelResult(Reply):
    requested: int
    cancelled: int


async def upsert(call: Call) -> UpsertResult:
    """Validate every debt, then insert new ones and update changed ones in one transaction."""
    body: UpsertDebts = call.body
    today = call.deps.clock().astimezone(call.deps.settings.tz).date()
    # JSON mode gives the import file's text forms: ISO dates, amounts as "85.00".
    rows = body.model_dump(mode="json", exclude_none=True)["debts"]
    # Checking 5,000 rows takes a few hundred milliseconds of CPU: in a thread, so the event
    # loop keeps serving other requests (and the database work of the batch before).
    records, errors = await asyncio.to_thread(records_from_rows, rows, first_line=0, today=today)
    if errors:
        details = [
            {"loc": ["debts", problem.line] + ([problem.field] if problem.field else []),
             "msg": problem.reason, "type": "invalid_debt"}
            for error in errors[:100]
            for problem in error.problems
        ]
        raise ApiError(
            422, "invalid_debts",
            f"{len(errors)} of {len(body.debts)} debts are invalid; nothing was written.",
            details=details[:200],
        )
    assert call.token is not None
    result = await upsert_debts(
        call.deps, records, actor=call.token.actor, audit_action="debts.upsert",
        audit_details={"via": "api"},
    )
    return UpsertResult(
        received=len(records),
        inserted=result.inserted,
        updated=result.updated,
        unchanged=result.unchanged,
        closed=len(result.closed_debt_ids),
    )


async def cancel(call: Call) -> CancelResult:
    """Close the open debts named (unknown or already closed ones are skipped)."""
    body: CancelDebts = call.body
    assert call.token is not None
    closed = await cancel_debts(
        call.deps,
        [(key.source, key.reference) for key in body.debts],
        actor=call.token.actor,
        status=DebtStatus(body.status),
    )
    return CancelResult(requested=len(body.debts), cancelled=closed)


OPERATIONS = [
    Operation(
        "POST", "/api/debts/upsert", "upsertDebts", "Insert or update a batch of debts",
        "debts", upsert, UpsertResult, scope="ingest", request=UpsertDebts,
        description=(
            f"Up to {MAX_BATCH} debts, keyed by (source, reference). All or nothing: any "
            "invalid debt answers 422 with every fault and nothing is written."
        ),
    ),
    Operation(
        "POST", "/api/debts/cancel", "cancelDebts", "Cancel or withdraw a batch of debts",
        "debts", cancel, CancelResult, scope="ingest", request=CancelDebts,
        description="Closes open debts and cancels their pending reminders.",
    ),
]
