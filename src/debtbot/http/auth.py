"""Bearer tokens: `Authorization: Bearer dbt_…`, stored hashed, each with its scopes.

Missing, malformed, unknown or revoked token → 401; a token without the scope → 403.
Tokens are created with `debtbot token create NAME --scope ingest,read` (shown once).
"""

from __future__ import annotations

import re

from debtbot.http.base import ApiError
from debtbot.services.api_tokens import TokenView, authenticate
from debtbot.services.deps import Deps

_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{1,200}")
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="debtbot"'}


def bearer_secret(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, secret = header.partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not _TOKEN_SHAPE.fullmatch(secret):
        return None
    return secret


async def require_scope(deps: Deps, header: str | None, scope: str) -> TokenView:
    secret = bearer_secret(header)
    if secret is None:
        raise ApiError(401, "unauthenticated", "A bearer token is required.", headers=CHALLENGE)
    token = await authenticate(deps, secret=secret)
    if token is None:
        raise ApiError(
            401, "invalid_token", "The token is unknown or revoked.", headers=CHALLENGE
        )
    if not token.allows(scope):
        raise ApiError(
            403, "insufficient_scope", f"The token does not have the {scope!r} scope."
        )
    return token
