"""The keyed hashes that stand in for what identifies a person, and the keys behind them.

Nothing that tells who someone is or how to reach them is kept readable: identity numbers,
dates of birth and phone numbers are stored as HMAC-SHA256 under keys that come from
DEBTBOT_HASH_KEY, and matched as hashes. Each purpose has a key of its own (derived from the
secret with its purpose's name), so a hash made for one purpose never matches one made for
another. Identity numbers keep the secret itself as their key, as they always have: every
hash already stored stays valid.

A date of birth or phone number is hashed together with the person's identifier hash: two
people born on one day (or sharing a phone) get different hashes, so a copy of the database
does not even show who shares a birthday, and a hash cannot be looked up in a table made for
all dates once.

Rotation: with a new DEBTBOT_HASH_KEY and the old one as DEBTBOT_HASH_KEY_PREVIOUS, hashes
made under either key match. A row records its key (`key_id`, a fingerprint that reveals
nothing of the key) and is hashed again under the new one whenever its plain values pass
through: the registry sends the person again, or the person proves who they are.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from debtbot.domain.identifiers import Identifier


class Purpose(StrEnum):
    DATE_OF_BIRTH = "date-of-birth"
    PHONE = "phone"
    KEY_ID = "key-id"
    SIGN_IN = "sign-in"


_BLOCK = 64  # SHA-256's block size
_IPAD = bytes(x ^ 0x36 for x in range(256))
_OPAD = bytes(x ^ 0x5C for x in range(256))


class _Hmac:
    """HMAC-SHA256 (RFC 2104) under one key, with the padded key's two hash states made once:
    the same digest as `hmac.new(key, message, "sha256")` (tests/domain/test_keys.py checks),
    at about half the cost of copying an `hmac.HMAC`, which an import does for every holder."""

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes) -> None:
        if len(key) > _BLOCK:
            key = hashlib.sha256(key).digest()
        key = key.ljust(_BLOCK, b"\0")
        self._inner = hashlib.sha256(key.translate(_IPAD))
        self._outer = hashlib.sha256(key.translate(_OPAD))

    def hexdigest(self, message: bytes) -> str:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()


def derive_key(secret: str | bytes, purpose: str) -> bytes:
    """The key for one purpose: HMAC-SHA256(secret, "debtbot:" + purpose)."""
    raw = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(raw, f"debtbot:{purpose}".encode(), hashlib.sha256).digest()


@dataclass(frozen=True)
class HashKey:
    """One DEBTBOT_HASH_KEY and the keys derived from it."""

    secret: str = field(repr=False)
    key_id: str = field(init=False)
    _identifier: _Hmac = field(init=False, repr=False, compare=False)
    _date_of_birth: _Hmac = field(init=False, repr=False, compare=False)
    _phone: _Hmac = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "key_id", derive_key(self.secret, Purpose.KEY_ID).hex()[:16])
        set_(self, "_identifier", _Hmac(self.secret.encode()))
        set_(self, "_date_of_birth", _Hmac(derive_key(self.secret, Purpose.DATE_OF_BIRTH)))
        set_(self, "_phone", _Hmac(derive_key(self.secret, Purpose.PHONE)))

    def identifier(self, identifier: Identifier) -> str:
        """The hash an identity or registration number is stored and found by (the same as
        identifiers.identifier_hash with this secret)."""
        return self.identifier_text(f"{identifier.id_type.value}:{identifier.number}")

    def identifier_text(self, message: str) -> str:
        return self._identifier.hexdigest(message.encode())

    def date_of_birth(self, id_hash: str, born: date) -> str:
        """A date of birth, bound to the identifier hash (under this key) of its person."""
        return self._date_of_birth.hexdigest(f"{id_hash}:{born.isoformat()}".encode())

    def phone(self, id_hash: str, e164: str) -> str:
        """A phone number in E.164, bound to the identifier hash of its person."""
        return self._phone.hexdigest(f"{id_hash}:{e164}".encode())


@dataclass(frozen=True)
class Keyring:
    """The key hashes are made with now, and the one before it while rows move over."""

    current: HashKey
    previous: HashKey | None = None

    @classmethod
    def of(cls, secret: str, previous: str | None = None) -> Keyring:
        old = HashKey(previous) if previous and previous != secret else None
        return cls(HashKey(secret), old)

    @property
    def keys(self) -> tuple[HashKey, ...]:
        return (self.current,) if self.previous is None else (self.current, self.previous)

    def by_id(self, key_id: str | None) -> HashKey | None:
        return next((key for key in self.keys if key.key_id == key_id), None)

    def identifier_hashes(self, identifier: Identifier) -> tuple[str, ...]:
        """What a number may be stored as: under the current key first."""
        return tuple(key.identifier(identifier) for key in self.keys)
