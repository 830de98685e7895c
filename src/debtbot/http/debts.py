"""The registries' side: upsert and cancel debts in batches (scope `ingest`).

The fields are the import file's columns (services/ingest/columns.py), typed. A batch is all
or nothing: one invalid debt and the answer is 422 listing every fault, with nothing written.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, create_model

from debtbot.domain.debts import DebtStatus
from debtbot.http.base import ApiError, Body, Call, Day, Instant, Key, Money, Operation, Reply
from debtbot.services.ingest.columns import BY_NAME, COLUMNS, MAX_POINTS, Column, Kind
from debtbot.services.ingest.upsert import cancel_debts, upsert_debts
from debtbot.services.ingest.validation import records_from_rows

MAX_BATCH = 5000

_PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
IdNumber = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=_PRINTABLE)]
Phone = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=r"^[0-9 +()./-]+$")]
Rate = Annotated[
    str, StringConstraints(pattern=r"^(0(\.[0-9]{1,6})?|[0-9]{1,2}(\.[0-9]{1,4})?%)$")
]
DebtKindName = Literal[BY_NAME["kind"].choices]  # type: ignore[valid-type]


def _text(column: Column) -> Any:
    shortest = 1 if column.kind is Kind.NAME else None
    return Annotated[str, StringConstraints(min_length=shortest, max_length=column.max_length,
                                            pattern=_PRINTABLE)]


# How each kind of column travels in JSON: dates and instants as ISO 8601 text, money as a
# string ("85.00"), never a JSON number.
_TYPES: dict[Kind, Any] = {
    Kind.KEY: Key, Kind.ID_NUMBER: IdNumber, Kind.DATE: Day, Kind.MOMENT: Instant,
    Kind.AMOUNT: Money, Kind.POINTS: Annotated[int, Field(ge=0, le=MAX_POINTS)],
    Kind.RATE: Rate, Kind.FLAG: bool, Kind.PHONE: Phone,
}


def _field(column: Column) -> tuple[Any, Any]:
    if column.kind in (Kind.CHOICE, Kind.LANGUAGE):
        kind: Any = Literal[column.choices]  # type: ignore[valid-type]
    elif column.kind in (Kind.TEXT, Kind.NAME):
        kind = _text(column)
    else:
        kind = _TYPES[column.kind]
    if column.required:
        return kind, ...
    if column.default is not None:
        return kind, column.default
    return kind | None, None


# The import's columns (columns.py), in their order, typed.
DebtIn: type[Body] = create_model(  # type: ignore[call-overload]
    "DebtIn", __base__=Body, __doc__="One debt and its holder, as the registry knows them.",
    **{column.name: _field(column) for column in COLUMNS},
)


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
    # The validated values as they are (dates, Decimal amounts), not their JSON text.
    rows = [
        {name: value for name, value in debt.__dict__.items() if value is not None}
        for debt in body.debts
    ]
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
