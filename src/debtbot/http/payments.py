"""Payment callbacks from the payment provider: bearer token (scope `payments`) AND an
HMAC-SHA256 signature over f"{timestamp}.{body}" (see services.record_payment).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, StringConstraints

from debtbot.http.base import (
    ApiError,
    Body,
    Call,
    HeaderParam,
    Instant,
    Key,
    Money,
    MoneyOut,
    Operation,
    Reply,
    parse_model,
)
from debtbot.services import record_payment as service

_STATUS = {
    service.NotConfigured: 503,
    service.BadSignature: 401,
    service.StaleTimestamp: 401,
    service.Replayed: 409,
    service.DebtNotFound: 404,
    service.DebtNotOpen: 409,
    service.AmbiguousReference: 422,
    service.NotPayable: 422,
    service.PartialPaymentRefused: 422,
    service.BadPaymentTime: 422,
}


def _positive(amount: Decimal) -> Decimal:
    if amount <= 0:
        raise ValueError("amount must be more than zero")
    return amount


ProviderRef = Annotated[
    str, StringConstraints(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")
]


class PaymentIn(Body):
    """One payment as the provider reports it."""

    payment_id: ProviderRef
    reference: Key
    source: Key | None = None
    amount: Annotated[Money, AfterValidator(_positive)]
    currency: Literal["EUR"] = "EUR"
    paid_at: Instant | None = None


class PaymentOut(Reply):
    payment_id: int
    debt_id: int
    # paid: the ledger reached what was due; overpaid: and more, refund_due is to be
    # refunded; partially_paid: `remaining` is still due.
    status: Literal["paid", "partially_paid", "overpaid"]
    amount: MoneyOut
    amount_due: MoneyOut
    paid_total: MoneyOut
    remaining: MoneyOut
    refund_due: MoneyOut
    receipts: int


async def record(call: Call) -> PaymentOut:
    """Verify the signature, then record the payment, settle the debt, queue receipts."""
    headers = call.request.headers
    try:
        service.verify_signature(
            call.deps,
            timestamp=headers.get("X-Payment-Timestamp"),
            signature=headers.get("X-Payment-Signature"),
            body=call.raw,
        )
        payment = parse_model(PaymentIn, call.raw)
        assert call.token is not None
        result = await service.record_payment(
            call.deps,
            provider_ref=payment.payment_id,
            reference=payment.reference,
            source=payment.source,
            amount=payment.amount,  # type: ignore[arg-type]
            paid_at=payment.paid_at,
            actor=call.token.actor,
            token_id=call.token.id,
        )
    except service.PaymentError as exc:
        raise ApiError(_STATUS.get(type(exc), 422), exc.code, exc.message) from None
    return PaymentOut(
        payment_id=result.payment_id,
        debt_id=result.debt_id,
        status=(
            "overpaid" if result.refund_due > 0
            else "paid" if result.settled else "partially_paid"
        ),
        amount=result.amount,
        amount_due=result.amount_due,
        paid_total=result.paid_total,
        remaining=result.remaining,
        refund_due=result.refund_due,
        receipts=result.receipts,
    )


OPERATIONS = [
    Operation(
        "POST",
        "/api/payments",
        "recordPayment",
        "Record a payment (payment provider callback)",
        "payments",
        record,
        PaymentOut,
        scope="payments",
        request=PaymentIn,
        status=201,
        errors=(404, 409, 503),
        headers=(
            HeaderParam(
                "X-Payment-Timestamp",
                "Unix seconds when the provider signed; within 5 minutes of our clock",
                {"type": "string", "pattern": "^[0-9]{1,12}$"},
            ),
            HeaderParam(
                "X-Payment-Signature",
                'Hex HMAC-SHA256 of "{timestamp}.{raw body}" with the shared secret',
                {"type": "string", "pattern": "^(sha256=)?[0-9a-f]{64}$"},
            ),
        ),
        parse_body=False,
        description=(
            "Signed callback. A replayed payment_id answers 409; a payment for a debt that is "
            "no longer outstanding (nothing is due) answers 409; less than the amount due "
            "for an out-of-court fine answers 422 (Regulations 2021, Type E note 7); in each "
            "case nothing is written. Other payments go to the debt's ledger: the debt is "
            "paid once the parts reach what was due at the time (its reminders cancelled); "
            "any excess is recorded as refund_due (status overpaid). Every payment queues a "
            "receipt to each linked chat in its language: paid, remaining and by when."
        ),
    )
]
