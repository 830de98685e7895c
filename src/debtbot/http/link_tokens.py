"""Deep-link tokens for the government portal (scope `portal`): the portal, where the
citizen is already logged in, links to `https://t.me/<bot>?start=<token>`; the token is
signed, expires, and is single use. The identity number is never stored or echoed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from debtbot.domain.identifiers import InvalidIdentifier
from debtbot.http.base import ApiError, Body, Call, Operation, Reply
from debtbot.services import audit
from debtbot.services.link_tokens import mint_link_token


class LinkTokenIn(Body):
    id_type: Literal["id_card", "arc", "passport", "company_reg"]
    id_number: Annotated[str, StringConstraints(min_length=1, max_length=32,
                                                pattern=r"^[^\x00-\x1f\x7f]*$")]
    ttl_minutes: Annotated[int, Field(ge=1, le=1440)] | None = None


class LinkTokenOut(Reply):
    token: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
    expires_at: datetime


async def mint(call: Call) -> LinkTokenOut:
    """A start parameter that links the citizen's chat to this identity in one step."""
    body: LinkTokenIn = call.body
    settings = call.deps.settings
    ttl = timedelta(minutes=body.ttl_minutes or settings.link_token_ttl_minutes)
    now = call.deps.clock()
    try:
        token = mint_link_token(
            settings, id_type=body.id_type, id_number=body.id_number, now=now, ttl=ttl
        )
    except InvalidIdentifier:
        raise ApiError(
            422, "bad_identifier", f"That is not a valid {body.id_type} number."
        ) from None
    assert call.token is not None
    await audit.record_now(
        call.deps, actor=call.token.actor, action="link_token.mint", subject=body.id_type,
        count=1,
    )
    return LinkTokenOut(token=token, expires_at=now + ttl)


OPERATIONS = [
    Operation(
        "POST", "/api/link-tokens", "mintLinkToken", "Mint a deep-link token for the portal",
        "portal", mint, LinkTokenOut, scope="portal", request=LinkTokenIn, status=201,
    )
]
