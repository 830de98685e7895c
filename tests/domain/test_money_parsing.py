"""Money is euro as an exact Decimal, shown to the cent (LEGAL_RULES.md, preamble)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from debtbot.domain.money import InvalidAmount, parse_amount, to_cents


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1500", "1500.00"),
        ("1500.5", "1500.50"),
        ("1,500.50", "1500.50"),
        ("1500,50", "1500.50"),
        ("1.500,50", "1500.50"),
        ("1,500", "1500.00"),
        ("€ 85", "85.00"),
        ("85\u00a0€", "85.00"),
        (" 0 ", "0.00"),
        (1500, "1500.00"),
        (Decimal("42.1"), "42.10"),
    ],
)
def test_parse_amount_accepts_the_ways_registries_write_euro(raw, expected):
    parsed = parse_amount(raw)
    assert parsed == Decimal(expected)
    assert parsed.as_tuple().exponent == -2


@pytest.mark.parametrize("raw", [1500.5, True, "", "abc", "-5", "1.005", "NaN", "Infinity"])
def test_parse_amount_rejects_floats_negatives_and_fractions_of_a_cent(raw):
    with pytest.raises(InvalidAmount):
        parse_amount(raw)


def test_to_cents_rounds_half_up_like_a_payment_slip():
    assert to_cents(Decimal("42.525")) == Decimal("42.53")
    assert to_cents(Decimal("42.524")) == Decimal("42.52")
    assert to_cents(Decimal("10")) == Decimal("10.00")
