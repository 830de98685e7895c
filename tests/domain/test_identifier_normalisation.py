"""Identifiers typed by citizens match the registry's: normalised, validated, hashed."""

from __future__ import annotations

import pytest

from debtbot.domain.identifiers import (
    IdType,
    InvalidIdentifier,
    identifier_hash,
    normalise_identifier,
)

KEY = "test-key"


@pytest.mark.parametrize("typed", ["HE 123456", "ΗΕ-123456", "he123456", " HE.123456 ", "123456"])
def test_company_registration_numbers_written_differently_are_one_company(typed):
    identifier = normalise_identifier(IdType.COMPANY_REG, typed)
    assert identifier.number == "HE123456"
    assert identifier_hash(identifier, KEY) == identifier_hash(
        normalise_identifier("company_reg", "HE123456"), KEY
    )


def test_company_number_leading_zeros_do_not_matter():
    assert normalise_identifier(IdType.COMPANY_REG, "HE 0012345").number == "HE12345"


@pytest.mark.parametrize("typed", ["1234567", "123 4567", "123-4567", "12.34.567"])
def test_id_card_numbers_with_spaces_or_dashes_are_one_number(typed):
    assert normalise_identifier(IdType.ID_CARD, typed).number == "1234567"


@pytest.mark.parametrize("typed", ["ARC 123456", "arc-123456", "123456"])
def test_arc_numbers_with_or_without_the_prefix_are_one_number(typed):
    assert normalise_identifier(IdType.ARC, typed).number == "123456"


def test_passport_numbers_are_upper_cased():
    assert normalise_identifier(IdType.PASSPORT, "k 0123456").number == "K0123456"


@pytest.mark.parametrize(
    ("id_type", "typed"),
    [
        (IdType.ID_CARD, ""),
        (IdType.ID_CARD, "   "),
        (IdType.ID_CARD, "12AB45"),
        (IdType.ID_CARD, "123"),
        (IdType.ARC, "ABC"),
        (IdType.PASSPORT, "K1"),
        (IdType.PASSPORT, "K0123456789012"),
        (IdType.COMPANY_REG, "XY123456"),
        (IdType.COMPANY_REG, "HE"),
        (IdType.COMPANY_REG, "HE 123456789"),
    ],
)
def test_bad_identifiers_are_rejected(id_type, typed):
    with pytest.raises(InvalidIdentifier):
        normalise_identifier(id_type, typed)


def test_unknown_identifier_type_is_rejected():
    with pytest.raises(ValueError):
        normalise_identifier("driving_licence", "123456")


def test_identifier_number_never_appears_in_repr_or_str():
    identifier = normalise_identifier(IdType.ID_CARD, "1234567")
    assert "1234567" not in repr(identifier)
    assert "1234567" not in str(identifier)
    assert "1234567" not in f"{identifier}"


def test_identifier_hash_is_keyed_and_type_specific():
    card = normalise_identifier(IdType.ID_CARD, "123456")
    arc = normalise_identifier(IdType.ARC, "123456")
    assert identifier_hash(card, KEY) != identifier_hash(arc, KEY)
    assert identifier_hash(card, KEY) != identifier_hash(card, "another-key")
    assert len(identifier_hash(card, KEY)) == 64
    assert identifier_hash(card, KEY) == identifier_hash(card, KEY.encode())


def test_digits_of_any_script_are_the_same_number():
    from debtbot.domain.identifiers import normalise_identifier

    plain = normalise_identifier("id_card", "1234567")
    assert normalise_identifier("id_card", "\u0661\u0662\u0663\u0664\u0665\u0666\u0667") == plain
    assert normalise_identifier("id_card", "\uff11\uff12\uff13\uff14\uff15\uff16\uff17") == plain


@pytest.mark.parametrize(
    ("typed", "kinds"),
    [
        ("1234567", ("id_card", "arc")),
        ("\u0661\u0662\u0663\u0664\u0665", ("id_card", "arc")),
        ("HE 123456", ("company_reg",)),
        ("\u0397\u0395-123456", ("company_reg",)),  # ΗΕ typed on a Greek keyboard
        ("ARC 98765", ("arc",)),
        ("K00123456", ("passport",)),
        ("hello there", ()),
        ("12", ()),
    ],
)
def test_the_kind_of_a_typed_number_is_recognised_from_its_shape(typed, kinds):
    from debtbot.domain.identifiers import recognise

    assert tuple(kind.value for kind in recognise(typed)) == kinds
