"""Deep-link tokens: `t.me/<bot>?start=<token>` links a chat in one step.

A government portal where the citizen is already logged in mints one (`debtbot link-token`
for now). The token is signed (HMAC-SHA256 with a key derived from settings.hash_key),
expires, and is single use (its id is recorded in `used_link_tokens` when spent). It fits
Telegram's start parameter: at most 64 characters of A-Z a-z 0-9 _ -.

Layout (41 bytes, 55 characters of unpadded base64url):
    1  version (high nibble) and holder (low nibble: 0 person, 1 company)
    12 the first 12 bytes of the identifier's keyed hash (never the number itself)
    4  expiry, Unix seconds, big-endian
    8  random token id
    16 HMAC-SHA256 of the 25 bytes above, truncated
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from debtbot.domain.identifiers import IdType, identifier_hash, normalise_identifier
from debtbot.settings import Settings

VERSION = 1
_PERSON, _COMPANY = 0, 1
_HASH_BYTES = 12
_MAC_BYTES = 16
_BODY = struct.Struct(f">B{_HASH_BYTES}sI8s")
_LENGTH = _BODY.size + _MAC_BYTES
MAX_TOKEN_CHARS = 64
_ALPHABET = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class TokenInvalid(ValueError):
    """Forged, malformed or expired (`reason` says which; never shown to the citizen)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class LinkClaim:
    holder: str  # "person" | "company"
    hash_prefix: str  # hex, a prefix of persons.id_hash / companies.reg_hash
    token_id: str  # hex
    expires_at: datetime


def _key(settings: Settings) -> bytes:
    # A key of its own, so a token MAC can never double as an identifier hash.
    return hmac.new(settings.hash_key.encode(), b"link-token", hashlib.sha256).digest()


def _mac(settings: Settings, body: bytes) -> bytes:
    return hmac.new(_key(settings), body, hashlib.sha256).digest()[:_MAC_BYTES]


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def mint_link_token(
    settings: Settings,
    *,
    id_type: str,
    id_number: str,
    now: datetime,
    ttl: timedelta | None = None,
) -> str:
    """A signed, expiring, single-use token for the start parameter of a deep link.

    Raises `InvalidIdentifier` if the number cannot be one of that type.
    """
    identifier = normalise_identifier(id_type, id_number)
    holder = _COMPANY if identifier.id_type is IdType.COMPANY_REG else _PERSON
    digest = bytes.fromhex(identifier_hash(identifier, settings.hash_key))[:_HASH_BYTES]
    lifetime = ttl if ttl is not None else timedelta(minutes=settings.link_token_ttl_minutes)
    expires = int((now + lifetime).timestamp())
    body = _BODY.pack((VERSION << 4) | holder, digest, expires, secrets.token_bytes(8))
    token = _encode(body + _mac(settings, body))
    assert len(token) <= MAX_TOKEN_CHARS
    return token


def read_link_token(settings: Settings, token: str, *, now: datetime) -> LinkClaim:
    """The claim a genuine, unexpired token carries; `TokenInvalid` otherwise.

    Whether it was already spent is the store's to say (`used_link_tokens`).
    """
    if not isinstance(token, str) or not _ALPHABET.match(token):
        raise TokenInvalid("malformed")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except ValueError:
        raise TokenInvalid("malformed") from None
    # One spelling per token: base64 decoding ignores the spare bits of the last character.
    if len(raw) != _LENGTH or _encode(raw) != token:
        raise TokenInvalid("malformed")
    body, mac = raw[: _BODY.size], raw[_BODY.size :]
    if not hmac.compare_digest(mac, _mac(settings, body)):
        raise TokenInvalid("forged")
    head, digest, expires, token_id = _BODY.unpack(body)
    if head >> 4 != VERSION or head & 0x0F not in (_PERSON, _COMPANY):
        raise TokenInvalid("malformed")
    expires_at = datetime.fromtimestamp(expires, UTC)
    if now >= expires_at:
        raise TokenInvalid("expired")
    return LinkClaim(
        holder="company" if head & 0x0F == _COMPANY else "person",
        hash_prefix=digest.hex(),
        token_id=token_id.hex(),
        expires_at=expires_at,
    )
