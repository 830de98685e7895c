"""Identifiers people and companies are known by, normalised so that what a citizen types
matches what the registry sent: `HE 123456`, `ΗΕ-123456` and `he123456` are one company.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum


class IdType(StrEnum):
    ID_CARD = "id_card"  # Cypriot identity card
    ARC = "arc"  # Alien Registration Certificate
    PASSPORT = "passport"
    COMPANY_REG = "company_reg"  # Registrar of Companies number, e.g. HE 123456


PERSON_ID_TYPES = (IdType.ID_CARD, IdType.ARC, IdType.PASSPORT)


class InvalidIdentifier(ValueError):
    """The text cannot be an identifier of that type."""


# Greek capitals that look like Latin ones: a company number typed on a Greek keyboard
# (ΗΕ 123456) must match the registry's HE123456.
_GREEK_LOOKALIKES = str.maketrans(
    {"Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N",
     "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X"}
)
_SEPARATORS = re.compile(r"[\s\-./_]+")
# Company prefixes used by the Registrar: HE (limited company), AE (overseas company),
# OE/ΟΕ (general/limited partnership), BN (business name), S (societies) and a few more.
_COMPANY = re.compile(r"^(HE|AE|OE|BN|EE|S|ΑΕ)?([0-9]{1,8})$")
_PATTERNS = {
    IdType.ID_CARD: re.compile(r"^[0-9]{4,10}$"),
    IdType.ARC: re.compile(r"^(ARC)?[0-9]{3,10}$"),
    IdType.PASSPORT: re.compile(r"^[A-Z0-9]{5,12}$"),
}


@dataclass(frozen=True, slots=True)
class Identifier:
    id_type: IdType
    number: str  # normalised; never logged or stored in plain text

    def __repr__(self) -> str:  # keep identity numbers out of logs and tracebacks
        return f"Identifier({self.id_type.value}, ***)"

    __str__ = __repr__


def ascii_digits(text: str) -> str:
    """Digits of any script (Arabic-Indic ٣, Persian ۳, Devanagari ३, full-width ３...) as ASCII,
    so a number typed on any keyboard reads as the registry wrote it."""
    if text.isascii():
        return text
    return "".join(
        str(unicodedata.decimal(char)) if char.isdecimal() else char for char in text
    )


def _folded(raw: str) -> str:
    text = ascii_digits(unicodedata.normalize("NFKC", raw or "")).upper()
    return _SEPARATORS.sub("", text.translate(_GREEK_LOOKALIKES))


# The shapes `recognise` reads a typed number by: a company number needs its prefix (HE 1234
# and ΗΕ 1234), an ARC number may carry "ARC", a passport has letters, a number of digits
# alone can be an identity card or an ARC.
_COMPANY_PREFIXED = re.compile(r"^(HE|AE|OE|BN|EE)[0-9]{1,8}$")
_ARC_PREFIXED = re.compile(r"^ARC[0-9]{3,10}$")
_DIGITS = re.compile(r"^[0-9]{4,10}$")
_PASSPORT_LIKE = re.compile(r"^(?=.*[A-Z])(?=.*[0-9])[A-Z0-9]{5,12}$")


def recognise(raw: str) -> tuple[IdType, ...]:
    """The kinds of identifier `raw` can be, from its shape alone; () when none."""
    text = _folded(raw)
    if _COMPANY_PREFIXED.match(text):
        return (IdType.COMPANY_REG,)
    if _ARC_PREFIXED.match(text):
        return (IdType.ARC,)
    if _DIGITS.match(text):
        return (IdType.ID_CARD, IdType.ARC)
    if _PASSPORT_LIKE.match(text):
        return (IdType.PASSPORT,)
    return ()


def normalise_identifier(id_type: IdType | str, raw: str) -> Identifier:
    """Upper-case, fold Greek look-alikes and other scripts' digits, drop spaces, dashes, dots
    and slashes; validate."""
    kind = IdType(id_type)
    text = _folded(raw)
    if not text:
        raise InvalidIdentifier("empty identifier")
    if kind is IdType.COMPANY_REG:
        match = _COMPANY.match(text)
        if not match:
            raise InvalidIdentifier("not a company registration number")
        prefix = match.group(1) or "HE"
        return Identifier(kind, f"{prefix}{int(match.group(2))}")
    if not _PATTERNS[kind].match(text):
        raise InvalidIdentifier(f"not a valid {kind.value} number")
    if kind is IdType.ARC:
        text = text.removeprefix("ARC")
    return Identifier(kind, text)


def identifier_hash(identifier: Identifier, key: str | bytes) -> str:
    """The keyed hash (HMAC-SHA256) that is stored and matched instead of the number."""
    secret = key.encode() if isinstance(key, str) else key
    message = f"{identifier.id_type.value}:{identifier.number}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()
