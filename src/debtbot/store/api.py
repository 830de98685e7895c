"""Queries behind the HTTP API: payments, receipts' recipients, and the
figures that /readyz and /metrics report.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from debtbot.store.models import (
    Chat,
    ChatLink,
    DebtRow,
    OutboxMessage,
    Payment,
    VerificationAttempt,
)

# --- payments ---------------------------------------------------------------------------


async def debts_by_reference(
    session: AsyncSession, *, reference: str, source: str | None
) -> list[DebtRow]:
    """The debts a payment names, locked until the transaction ends (PostgreSQL)."""
    query = select(DebtRow).where(DebtRow.reference == reference)
    if source is not None:
        query = query.where(DebtRow.source == source)
    return list(await session.scalars(query.order_by(DebtRow.id).limit(2).with_for_update()))


async def payment_exists(session: AsyncSession, provider_ref: str) -> bool:
    found = await session.scalar(select(Payment.id).where(Payment.provider_ref == provider_ref))
    return found is not None


async def add_payment(
    session: AsyncSession,
    *,
    provider_ref: str,
    debt_id: int,
    amount: Decimal,
    paid_at: datetime,
    received_at: datetime,
    token_id: int | None,
    refund_due: Decimal | None = None,
) -> Payment:
    row = Payment(
        provider_ref=provider_ref,
        debt_id=debt_id,
        amount=amount,
        paid_at=paid_at,
        received_at=received_at,
        token_id=token_id,
        refund_due=refund_due,
    )
    session.add(row)
    await session.flush()  # the unique provider_ref fails here on a concurrent replay
    return row


async def paid_so_far(session: AsyncSession, debt_id: int) -> Decimal:
    """The sum of the payments already recorded for the debt (its ledger)."""
    # The sum keeps the column's type: whole cents in SQL, a Decimal in euro here.
    total = await session.scalar(
        select(func.sum(Payment.amount)).where(Payment.debt_id == debt_id)
    )
    return Decimal("0.00") if total is None else Decimal(total).quantize(Decimal("0.01"))


async def mark_debt_paid(session: AsyncSession, debt_id: int, *, now: datetime) -> None:
    await session.execute(
        update(DebtRow)
        .where(DebtRow.id == debt_id)
        .values(status="paid", status_changed_at=now, updated_at=now)
    )


@dataclass(frozen=True, slots=True)
class ReceiptChat:
    chat_id: int
    language: str
    discreet: bool


async def chats_of_holder(
    session: AsyncSession, *, person_id: int | None, company_id: int | None
) -> list[ReceiptChat]:
    """Active chats linked to the debt's holder (the person, or the company they represent)."""
    query = select(Chat.id, Chat.language, Chat.discreet).join(ChatLink, ChatLink.chat_id == Chat.id)
    if company_id is not None:
        query = query.where(ChatLink.company_id == company_id)
    elif person_id is not None:
        query = query.where(ChatLink.person_id == person_id, ChatLink.company_id.is_(None))
    else:
        return []
    rows = await session.execute(query.where(Chat.active.is_(True)).distinct().order_by(Chat.id))
    return [ReceiptChat(chat_id, language, discreet) for chat_id, language, discreet in rows]


# --- readiness and metrics --------------------------------------------------------------


async def ping(session: AsyncSession) -> None:
    await session.execute(text("SELECT 1"))


async def outbox_counts(session: AsyncSession) -> dict[tuple[str, str], int]:
    """Outbox rows by (purpose, status)."""
    rows = await session.execute(
        select(OutboxMessage.purpose, OutboxMessage.status, func.count()).group_by(
            OutboxMessage.purpose, OutboxMessage.status
        )
    )
    return {(purpose, status): count for purpose, status, count in rows}


async def open_debts_by_authority(session: AsyncSession) -> dict[str, int]:
    """Outstanding debts by the registry's `authority` value (a few dozen distinct values)."""
    rows = await session.execute(
        select(DebtRow.authority, func.count())
        .where(DebtRow.status == "outstanding")
        .group_by(DebtRow.authority)
    )
    return {authority or "": count for authority, count in rows}


async def open_debts_with_registry_dates(session: AsyncSession) -> list[Any]:
    """Outstanding debts that carry the registry's own surcharge or prosecution date."""
    rows = await session.execute(
        select(DebtRow.kind, DebtRow.reference, DebtRow.amount, DebtRow.served_on,
               DebtRow.surcharge_on, DebtRow.prosecution_on)
        .where(DebtRow.status == "outstanding")
        .where((DebtRow.surcharge_on.is_not(None)) | (DebtRow.prosecution_on.is_not(None)))
    )
    return list(rows)


async def verification_counts(session: AsyncSession) -> dict[tuple[str, bool], int]:
    """Verification attempts by (method, succeeded)."""
    rows = await session.execute(
        select(VerificationAttempt.method, VerificationAttempt.succeeded, func.count()).group_by(
            VerificationAttempt.method, VerificationAttempt.succeeded
        )
    )
    return {(method, bool(succeeded)): count for method, succeeded, count in rows}


async def recent_failures(
    session: AsyncSession, *, since: datetime
) -> tuple[dict[int, list[datetime]], dict[str, list[datetime]]]:
    """Failed verification attempts after `since`, by chat and by identifier hash, in order."""
    rows = await session.execute(
        select(VerificationAttempt.chat_id, VerificationAttempt.id_hash, VerificationAttempt.at)
        .where(VerificationAttempt.succeeded.is_(False), VerificationAttempt.at > since)
        .order_by(VerificationAttempt.at)
    )
    by_chat: dict[int, list[datetime]] = {}
    by_identifier: dict[str, list[datetime]] = {}
    for chat_id, id_hash, at in rows:
        by_chat.setdefault(chat_id, []).append(at)
        if id_hash is not None:
            by_identifier.setdefault(id_hash, []).append(at)
    return by_chat, by_identifier
