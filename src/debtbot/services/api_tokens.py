"""Bearer tokens for the HTTP API.

A token is shown once, when it is created; only its SHA-256 is stored, so a copy of the
database does not let anyone call the API. Each token carries scopes:

- `ingest`   upsert and cancel debts (the registries);
- `payments` report payments (the payment provider; its callbacks are also HMAC-signed);
- `notices`  send notices, create, approve and cancel broadcasts (staff systems);
- `portal`   mint deep-link tokens (the government portal);
- `read`     read broadcasts' progress.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from debtbot.services.deps import Deps
from debtbot.store.staff import TokenRecord

SCOPES = ("ingest", "payments", "notices", "portal", "read")
TOKEN_PREFIX = "dbt_"  # noqa: S105 (a prefix, not a secret)


class UnknownScope(ValueError):
    """A scope that is not one of SCOPES."""


@dataclass(frozen=True, slots=True)
class TokenView:
    id: int
    name: str
    scopes: frozenset[str]
    created_at: datetime | None
    revoked_at: datetime | None

    @property
    def actor(self) -> str:
        return f"token:{self.id}"

    def allows(self, scope: str) -> bool:
        return self.revoked_at is None and scope in self.scopes


@dataclass(frozen=True, slots=True)
class NewToken:
    token: TokenView
    secret: str  # shown once, never stored


def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_scopes(raw: str | Iterable[str]) -> tuple[str, ...]:
    parts = raw.split(",") if isinstance(raw, str) else list(raw)
    scopes = tuple(dict.fromkeys(part.strip() for part in parts if part.strip()))
    unknown = [scope for scope in scopes if scope not in SCOPES]
    if unknown or not scopes:
        raise UnknownScope(
            f"unknown scope(s): {', '.join(unknown) or '(none)'}; choose from {', '.join(SCOPES)}"
        )
    return scopes


def _view(row: TokenRecord) -> TokenView:
    return TokenView(row.id, row.name, frozenset(row.scopes), row.created_at, row.revoked_at)


async def create_token(
    deps: Deps, *, name: str, scopes: str | Iterable[str], actor: str = "cli"
) -> NewToken:
    """Create a token; the returned secret is the only copy there will ever be."""
    chosen = parse_scopes(scopes)
    name = name.strip()
    if not name or len(name) > 100:
        raise ValueError("a token needs a name of 1 to 100 characters")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = deps.clock()
    async with deps.uow() as uow:
        row = await uow.staff.add_token(
            name=name, token_hash=hash_token(secret), scopes=chosen, now=now
        )
        await uow.audit.record(
            at=now, actor=actor, action="api_token.create", subject=f"token:{row.id}",
            count=1, details={"scopes": list(chosen)},
        )
        return NewToken(_view(row), secret)


async def authenticate(deps: Deps, *, secret: str) -> TokenView | None:
    """The token this secret belongs to, or None (unknown or revoked)."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    row = await deps.read(lambda uow: uow.staff.token_by_hash(hash_token(secret)))
    if row is None or row.revoked_at is not None:
        return None
    return _view(row)


async def list_tokens(deps: Deps) -> list[TokenView]:
    return [_view(row) for row in await deps.read(lambda uow: uow.staff.tokens())]


async def revoke_token(deps: Deps, *, token_id: int, actor: str = "cli") -> bool:
    now = deps.clock()
    async with deps.uow() as uow:
        revoked = await uow.staff.revoke_token(token_id, now=now)
        if revoked:
            await uow.audit.record(
                at=now, actor=actor, action="api_token.revoke", subject=f"token:{token_id}",
                count=1,
            )
        return revoked
