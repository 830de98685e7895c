"""Payments reported by the payment provider.

The provider's callback is signed: `X-Payment-Signature` = hex HMAC-SHA256, keyed with
settings.payment_webhook_secret, of f"{timestamp}.{body}" where `timestamp` is the Unix time
in `X-Payment-Timestamp` and `body` the raw request body. A timestamp more than five minutes
from our clock is refused (a captured callback cannot be sent again later), and each provider
payment id is accepted once (`payments.provider_ref` is unique): a replay is refused.

Payments are a ledger per debt. Where the law allows part payment the parts add up, and the
debt is paid once their sum reaches what was due when the last of them was made: it is
marked paid, its pending reminders are cancelled. Out-of-court fines cannot be paid in part
(Regulations 2021, Type E note 7): less than the amount due is refused and nothing is
written. Whatever is paid beyond what was due is recorded on the payment (`refund_due`),
flagged in the audit entry and told to the citizen. Each payment queues a receipt in each
linked chat's language — what was paid, what remains and by when — all in one transaction
with its audit entry.
"""

from __future__ import annotations

import hashlib
import hmac
import html
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from debtbot import texts
from debtbot.domain.debts import DebtKind, DebtStatus
from debtbot.domain.messages import OutboxPurpose
from debtbot.domain.money import ZERO
from debtbot.domain.registry_dates import registry_amount_due, registry_next_milestone
from debtbot.i18n import Translator, translator
from debtbot.services.deps import Deps
from debtbot.store.debts import PaymentAlreadyRecorded

MAX_SKEW = timedelta(minutes=5)


class PaymentError(Exception):
    """Refused; nothing was written. `code` is stable, the message is for people."""

    code = "payment_refused"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotConfigured(PaymentError):
    code = "not_configured"


class BadSignature(PaymentError):
    code = "bad_signature"


class StaleTimestamp(PaymentError):
    code = "stale_timestamp"


class Replayed(PaymentError):
    code = "replayed"


class DebtNotFound(PaymentError):
    code = "debt_not_found"


class AmbiguousReference(PaymentError):
    code = "ambiguous_reference"


class DebtNotOpen(PaymentError):
    code = "debt_not_open"


class NotPayable(PaymentError):
    code = "not_payable"


class PartialPaymentRefused(PaymentError):
    code = "partial_payment_refused"


class BadPaymentTime(PaymentError):
    code = "bad_paid_at"


@dataclass(frozen=True, slots=True)
class PaymentRecorded:
    payment_id: int
    debt_id: int
    amount: Decimal
    amount_due: Decimal
    settled: bool  # the debt is now paid in full
    paid_total: Decimal  # the debt's ledger, this payment included
    remaining: Decimal
    refund_due: Decimal  # paid beyond what was due, flagged for a refund
    receipts: int  # chats a receipt was queued for
    reminders_cancelled: int


def sign(secret: str, *, timestamp: str, body: bytes) -> str:
    """The signature the provider sends (also what tests and the benchmark use)."""
    message = timestamp.encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify_signature(
    deps: Deps, *, timestamp: str | None, signature: str | None, body: bytes
) -> datetime:
    """Check the callback's signature and freshness; the signed instant on success."""
    secret = deps.settings.payment_webhook_secret
    if not secret:
        raise NotConfigured("Payment callbacks are not configured on this server.")
    if not timestamp or not signature:
        raise BadSignature("X-Payment-Timestamp and X-Payment-Signature are required.")
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        raise BadSignature("X-Payment-Timestamp must be Unix seconds.")
    given = signature.removeprefix("sha256=").strip().lower()
    expected = sign(secret, timestamp=timestamp, body=body)
    if not given.isascii() or not hmac.compare_digest(given, expected):
        raise BadSignature("The signature does not match the body.")
    now = deps.clock()
    if abs(int(timestamp) - now.timestamp()) > MAX_SKEW.total_seconds():
        raise StaleTimestamp("The timestamp is more than five minutes from our clock.")
    return datetime.fromtimestamp(int(timestamp), now.tzinfo)


@dataclass(frozen=True, slots=True)
class Receipt:
    """What a receipt tells: this payment, the ledger's total, what remains and by when,
    and any excess to be refunded."""

    kind: str
    reference: str
    amount: Decimal
    paid_total: Decimal
    remaining: Decimal
    remaining_by: date | None  # the last day before the next milestone, if there is one
    refund_due: Decimal
    paid_at: datetime


def render_receipt(t: Translator, receipt: Receipt, *, discreet: bool) -> dict[str, Any]:
    """The receipt's outbox payload in the chat's language."""
    if discreet:  # a locked phone's preview shows neither amounts nor kinds
        return {"text": t.gettext("Payment received. Thank you."), "buttons": [],
                "disable_notification": False}
    values = {
        "kind": html.escape(texts.kind_label(t, receipt.kind)),
        "reference": html.escape(receipt.reference),
        "amount": html.escape(t.money(receipt.amount)),
        "when": html.escape(t.datetime(receipt.paid_at)),
        "remaining": html.escape(t.money(receipt.remaining)),
        "total": html.escape(t.money(receipt.paid_total)),
        "refund": html.escape(t.money(receipt.refund_due)),
    }
    lines = [
        t.gettext("<b>Payment received</b>\n%(kind)s %(reference)s: %(amount)s paid on %(when)s.")
        % values
    ]
    if receipt.paid_total != receipt.amount:
        lines.append(t.gettext("Paid so far for this debt: %(total)s.") % values)
    if receipt.remaining > 0:
        if receipt.remaining_by is not None:
            lines.append(
                t.gettext("%(remaining)s is still due, by %(date)s.")
                % {**values, "date": html.escape(t.date(receipt.remaining_by))}
            )
        else:
            lines.append(t.gettext("%(remaining)s is still due.") % values)
    else:
        lines.append(t.gettext(
            "This debt is settled; you will get no more reminders about it."
        ))
    if receipt.refund_due > 0:
        lines.append(t.gettext(
            "You paid %(refund)s more than was due. It is recorded for a refund to you."
        ) % values)
    return {"text": "\n".join(lines), "buttons": [], "disable_notification": False}


def _receipt(language: str, *, discreet: bool, receipt: Receipt, timezone: ZoneInfo) -> dict[str, Any]:
    return render_receipt(translator(language, timezone=timezone), receipt, discreet=discreet)


async def record_payment(
    deps: Deps,
    *,
    provider_ref: str,
    reference: str,
    source: str | None,
    amount: Decimal,
    paid_at: datetime | None,
    actor: str,
    token_id: int | None = None,
) -> PaymentRecorded:
    """Record one payment (see the module docstring); raises a PaymentError subclass."""
    now = deps.clock()
    paid_at = paid_at or now
    if paid_at > now + MAX_SKEW:
        raise BadPaymentTime("paid_at is in the future.")
    try:
        async with deps.uow() as uow:
            if await uow.debts.payment_recorded(provider_ref):
                raise Replayed("This payment was already recorded.")
            found = await uow.debts.debts_to_pay(reference, source=source)
            if not found:
                raise DebtNotFound("No debt has that reference.")
            if len(found) > 1:
                raise AmbiguousReference("Several registries use that reference: give source.")
            on_file = found[0]
            debt = on_file.debt
            if debt.status is not DebtStatus.OUTSTANDING:
                # Nothing is due on a settled or cancelled debt: a payment for it is refused
                # (the provider checks what is due before it charges).
                raise DebtNotOpen(f"The debt is {debt.status.value}, not outstanding.")
            # What was due when this payment was made: the ledger settles against that. The
            # domain decides, as /debts does: a fine whose last day fell on a Sunday or a
            # public holiday is still payable, without surcharge where that applies, on the
            # next day that is neither (Cap. 1 art. 31).
            due = registry_amount_due(debt, paid_at, rulebook=deps.rulebook)
            if due.prosecution:
                raise NotPayable("The fine can no longer be paid out of court.")
            earlier = await uow.debts.paid_so_far(on_file.id)
            paid_total = earlier + amount
            settled = paid_total >= due.total
            # Regulations 2021, Type E note 7: an out-of-court fine is paid whole or not at all.
            if amount < due.total - earlier and debt.kind is DebtKind.OUT_OF_COURT_FINE:
                raise PartialPaymentRefused(
                    f"An out-of-court fine cannot be paid in part: {due.total:.2f} is due."
                )
            refund_due = min(amount, max(paid_total - due.total, ZERO))
            payment_id = await uow.debts.add_payment(
                provider_ref=provider_ref, debt_id=on_file.id, amount=amount,
                paid_at=paid_at, received_at=now, token_id=token_id,
                refund_due=refund_due or None,
            )
            cancelled = 0
            if settled:
                await uow.debts.mark_paid(on_file.id, now=now)
                cancelled = await uow.outbox.cancel(debt_ids=[on_file.id], purpose=OutboxPurpose.REMINDER,
                                                    reason="debt closed")
            remaining = max(due.total - paid_total, ZERO)
            upcoming = (registry_next_milestone(debt, paid_at, rulebook=deps.rulebook)
                        if remaining else None)
            receipt = Receipt(
                kind=debt.kind.value, reference=debt.reference, amount=amount,
                paid_total=paid_total, remaining=remaining,
                remaining_by=upcoming.last_day if upcoming else None,
                refund_due=refund_due, paid_at=paid_at,
            )
            chats = await uow.chats.receipt_chats(
                person_id=on_file.person_id, company_id=on_file.company_id
            )
            for chat_id, language, discreet in chats:
                await uow.outbox.enqueue(
                    dedupe_key=f"receipt:{payment_id}:{chat_id}",
                    chat_id=chat_id,
                    purpose=OutboxPurpose.RECEIPT,
                    payload=_receipt(
                        language, discreet=discreet, receipt=receipt, timezone=deps.settings.tz,
                    ),
                    not_before=now,
                    debt_id=on_file.id,
                )
            await uow.audit.record(
                at=now,
                actor=actor,
                action="payment.record",
                subject=f"debt:{on_file.id}",
                count=1,
                details={"payment": payment_id, "settled": settled, "receipts": len(chats),
                         "reminders_cancelled": cancelled, "paid_total": str(paid_total),
                         "refund_due": str(refund_due)},
            )
    except PaymentAlreadyRecorded:  # the same provider id, recorded concurrently
        raise Replayed("This payment was already recorded.") from None
    return PaymentRecorded(
        payment_id=payment_id,
        debt_id=on_file.id,
        amount=amount,
        amount_due=due.total,
        settled=settled,
        paid_total=paid_total,
        remaining=remaining,
        refund_due=refund_due,
        receipts=len(chats),
        reminders_cancelled=cancelled,
    )
