"""Money is euro as an exact `Decimal`, shown to the cent (LEGAL_RULES.md, preamble)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, ROUND_UP, Context, Decimal, InvalidOperation

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
# A fixed context rather than a `rounding=` argument: the same result, without copying the
# thread's context on every call (this runs for every debt in a reminder sweep).
_HALF_UP = Context(rounding=ROUND_HALF_UP)
_UP = Context(rounding=ROUND_UP)


class InvalidAmount(ValueError):
    """An amount that is not a non-negative number of euro with at most two decimals."""


def to_cents(amount: Decimal) -> Decimal:
    """Round half up to the cent, the way a payment slip shows it."""
    return _HALF_UP.quantize(amount, CENT)


def to_cents_up(amount: Decimal) -> Decimal:
    """Round away from zero to the next whole cent (a non-negative surcharge: up)."""
    return _UP.quantize(amount, CENT)


def parse_amount(raw: str | int | Decimal) -> Decimal:
    """Parse a registry amount: `1500`, `1500.5`, `1,500.50`, `1.500,50` and `1500,50` are all
    accepted.

    Floats are refused on purpose: an amount must never pass through binary floating point.
    """
    if isinstance(raw, bool | float):
        raise InvalidAmount("amount must be given as text or an integer, not a float")
    if isinstance(raw, int | Decimal):
        value = Decimal(raw)
    else:
        text = str(raw).strip().replace("€", "").replace("\u00a0", "").replace(" ", "")
        if not text:
            raise InvalidAmount("amount is empty")
        if "," in text and "." in text:
            # The separator written last is the decimal one: 1,500.50 (English) or
            # 1.500,50 (Greek and Turkish usage).
            if text.rfind(",") > text.rfind("."):
                text = text.replace(".", "").replace(",", ".")
            else:
                text = text.replace(",", "")
        elif "," in text:
            whole, _, frac = text.rpartition(",")
            text = f"{whole}.{frac}" if len(frac) <= 2 else text.replace(",", "")
        try:
            value = Decimal(text)
        except InvalidOperation as exc:
            raise InvalidAmount(f"{raw!r} is not a number") from exc
    if not value.is_finite():
        raise InvalidAmount(f"{raw!r} is not a number")
    if value < 0:
        raise InvalidAmount("amount must not be negative")
    if value != value.quantize(CENT, rounding=ROUND_HALF_UP):
        raise InvalidAmount("amount has more than two decimals")
    return to_cents(value)
