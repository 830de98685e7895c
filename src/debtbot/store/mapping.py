"""Rows to domain objects."""

from __future__ import annotations

from decimal import Decimal

from debtbot.domain.debts import Debt, DebtKind, DebtStatus
from debtbot.store.models import DebtRow

# The columns debt_from_row reads: a query that builds Debts selects these (and may add more).
DEBT_COLUMNS = (
    DebtRow.id, DebtRow.kind, DebtRow.reference, DebtRow.amount, DebtRow.served_on,
    DebtRow.due_on, DebtRow.status, DebtRow.authority, DebtRow.source, DebtRow.points,
    DebtRow.surcharge_rate, DebtRow.post_clearance, DebtRow.enforcement_suspended,
    DebtRow.instalments_on_time, DebtRow.finding_notice_on, DebtRow.served_at,
    DebtRow.freeze_notified_on, DebtRow.seized_on, DebtRow.charge_notified_on,
    DebtRow.surcharge_on, DebtRow.prosecution_on,
)


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
        served_at=row.served_at,
        freeze_notified_on=row.freeze_notified_on,
        seized_on=row.seized_on,
        charge_notified_on=row.charge_notified_on,
        surcharge_on=row.surcharge_on,
        prosecution_on=row.prosecution_on,
    )
