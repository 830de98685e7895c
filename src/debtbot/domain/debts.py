"""Debts owed to the Republic, as the registries describe them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum


class DebtKind(StrEnum):
    OUT_OF_COURT_FINE = "out_of_court_fine"  # εξώδικο πρόστιμο
    FINE_WARRANT = "fine_warrant"  # ένταλμα προστίμου
    ADMIN_FINE = "admin_fine"  # διοικητικό πρόστιμο (Law 47(I)/2024, art. 23A)
    TAX = "tax"
    CUSTOMS = "customs"


class DebtStatus(StrEnum):
    OUTSTANDING = "outstanding"
    PAID = "paid"
    CANCELLED = "cancelled"
    WITHDRAWN = "withdrawn"


OPEN_STATUSES = frozenset({DebtStatus.OUTSTANDING})


class HolderType(StrEnum):
    PERSON = "person"
    COMPANY = "company"


@dataclass(frozen=True, slots=True)
class Debt:
    """One debt as the registry sent it. Amounts come from the registry; the domain never
    recomputes a fine from scratch (Regulations 2021, Type E note 5), it only adds the
    surcharges the law sets.
    """

    kind: DebtKind
    reference: str
    amount: Decimal  # the amount on the notice, euro
    # Day 0 of the legal clock; None = not served yet, no clock runs. Out-of-court fines: the
    # day the notice was received (Type E note 11); admin fines: the date of the act imposing
    # the fine (art. 23A(6)); customs: the day the assessment notice was received (art. 94).
    # Tax counts from due_on instead (art. 4).
    served_on: date | None
    due_on: date | None = None  # statutory due date (tax, art. 4: from the registry)
    status: DebtStatus = DebtStatus.OUTSTANDING
    authority: str = ""
    source: str = ""
    points: int | None = None  # penalty points accepted by paying (Type E note 6)
    # Tax art. 8(1): 5 % unless the tax's own law says otherwise; customs art. 52(1): 10 %
    # on post-clearance assessments only. None = the rule set's default for the kind.
    surcharge_rate: Decimal | None = None
    post_clearance: bool = False  # customs art. 52(1)
    # Tax art. 9B-9Δ / customs 111A-B measures do not apply while an objection or appeal is
    # pending, an instalment plan is paid on time, or security was given.
    enforcement_suspended: bool = False
    # Tax art. 9B(1)(a)(ii), 9Γ: an instalment plan paid on time suspends the bank freeze and
    # the forfeiture, but not the charge on immovable property (9Δ).
    instalments_on_time: bool = False
    # Admin fines (Law 47(I)/2024, art. 23A(4)): the date the finding notice (Annex I) was
    # issued; representations are due within 5 working days of it. served_on is then the
    # date of the act imposing the fine (Annex II).
    finding_notice_on: date | None = None
    # Out-of-court fines (Type E note 1): the moment of service, when the registry knows it
    # (aware). Payment opens 72 hours after it; without it, 72 hours after the end of the day
    # of service. It falls on served_on in Nicosia time.
    served_at: datetime | None = None
    # Tax measures, once taken, open objection windows counted from their own events
    # (Tax Collection Law): the day the debtor was informed of a bank freeze (9B(5)), the
    # day of a seizure for forfeiture (9Γ(5)), the day the written notice of a charge on
    # immovable property was received (9Δ(4)). None: the registry reports no such measure.
    freeze_notified_on: date | None = None
    seized_on: date | None = None
    charge_notified_on: date | None = None
    # Out-of-court fines: the registry's own dates (the first day the surcharge applies, the
    # first day the fine is no longer payable out of court). When given they win over the
    # rulebook's (domain.registry_dates).
    surcharge_on: date | None = None
    prosecution_on: date | None = None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES
