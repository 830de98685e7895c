"""Rows to domain objects."""

from __future__ import annotations

from decimal import Decimal

from debtbot.domain.debts import Debt, DebtKind, DebtStatus
from debtbot.store.models import DebtRow


def debt_from_row(row: DebtRow) -> Debt:
    return Debt(
        kind=DebtKind(row.kind),
        reference=row.reference,
        amount=row.amount,
        served_on=row.served_on,
        due_on=row.due_on,
        status=DebtStatus(row.status),
        authority=row.authority,
        source=row.source,
        points=row.points,
        surcharge_rate=Decimal(row.surcharge_rate) if row.surcharge_rate else None,
        post_clearance=row.post_clearance,
        enforcement_suspended=row.enforcement_suspended,
        instalments_on_time=bool(row.instalments_on_time),
        finding_notice_on=row.finding_notice_on,
        surcharge_on=getattr(row, "surcharge_on", None),
        prosecution_on=getattr(row, "prosecution_on", None),
    )
