"""Sign in with CY Login: OpenID Connect's authorization code flow with PKCE, state and nonce.

1. /start (and the lock message) offers a login_url button to
   `{public_url}/signin/cylogin?h=<handle>`, a handle made for that chat and its user
   (`offer`), valid DEBTBOT_SIGNIN_TTL_MINUTES. Telegram opens it with the pressing user's
   id, auth_date and hash appended (its Login Widget's data; the operator links the domain
   to the bot with BotFather's /setdomain).
2. That endpoint (`begin`) first checks Telegram's signature and that the user who pressed is
   the one who asked (`telegram_login_user`): a button or link forwarded to someone else
   must not link the first chat to the second person (login CSRF). Then it makes a fresh
   state, nonce and PKCE verifier, keeps them with the request, and sends the browser to the
   provider's authorization endpoint (from its discovery document), with a cookie that binds
   the trip to that browser: a provider link copied from the address bar and sent to someone
   else comes back without it (login CSRF again, the classic way).
3. The provider sends the browser back to `{public_url}/signin/cylogin/callback` with a code
   and the state (`complete`). The state is spent once; the code is exchanged at the token
   endpoint with the verifier and the client's secret; the ID token is checked with Authlib
   (joserfc's signature check against the provider's JWKS, fetched again when a key id is
   new, as after a key rotation; then `authlib.oidc.core.CodeIDToken`: issuer, audience,
   expiry, issue time, nonce, at_hash). The identity number comes from the claim
   DEBTBOT_OIDC_ID_CLAIM (the document type from DEBTBOT_OIDC_ID_TYPE_CLAIM, else an
   identity card), is hashed at once, and the chat is linked (`verified_by = "oidc"`).
4. The chat hears the outcome through the outbox (a reply, sent within the sender's poll),
   written in the transaction that links; the browser page says to go back to Telegram.

CY Login proves who someone is by itself: the locks against guessing numbers and dates do
not apply to it. Anything that goes wrong links nothing, and the chat is told to use the
identity number and date of birth instead.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import html
import logging
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import quote_plus, urlencode

import aiohttp
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from debtbot.domain.identifiers import (
    PERSON_ID_TYPES,
    Identifier,
    IdType,
    InvalidIdentifier,
    normalise_identifier,
)
from debtbot.domain.messages import OutboxPurpose
from debtbot.i18n import normalise_language, translator
from debtbot.services.deps import Deps
from debtbot.settings import Settings
from debtbot.store.dialogues import SignIn
from debtbot.store.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

SIGNIN_PATH = "/signin/cylogin"
CALLBACK_PATH = "/signin/cylogin/callback"
_LEEWAY = 60  # seconds of clock difference allowed with the provider
_METADATA_TTL = 3600.0
# Only public-key signatures: a token "signed" with the client secret or not at all is refused.
_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384",
               "ES512", "EdDSA")
# What a provider may call each document (DEBTBOT_OIDC_ID_TYPE_CLAIM's values).
_ID_TYPES = {
    "id_card": IdType.ID_CARD, "identity card": IdType.ID_CARD, "identity_card": IdType.ID_CARD,
    "id": IdType.ID_CARD, "national_id": IdType.ID_CARD,
    "arc": IdType.ARC, "alien registration certificate": IdType.ARC,
    "passport": IdType.PASSPORT,
}


class Outcome(StrEnum):
    SIGNED_IN = "signed_in"
    ALREADY_LINKED = "already_linked"
    TOO_MANY_IDENTITIES = "too_many_identities"
    EXPIRED = "expired"  # an unknown, spent or stale handle or state: nothing to tell a chat
    FAILED = "failed"  # the provider refused, or its answer did not hold up
    UNAVAILABLE = "unavailable"  # the provider could not be reached
    NOT_CONFIGURED = "not_configured"
    # Telegram did not vouch that the one who opened the link is the one who asked for it.
    WRONG_ACCOUNT = "wrong_account"


@dataclass(frozen=True, slots=True)
class Redirect:
    url: str
    browser: str  # the cookie the browser must bring back to the callback


@dataclass(frozen=True, slots=True)
class Finished:
    """What the browser is shown: the outcome, in the chat's language."""

    outcome: Outcome
    language: str | None = None  # None: no chat is known (the page uses the browser's)
    bot_username: str = ""


class ProviderUnavailable(Exception):
    """The provider did not answer, or answered with a server error."""


class ProviderRefused(Exception):
    """The provider, or its ID token, said no (`reason` is for the audit log only)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TelegramLoginRefused(Exception):
    """The login_url data did not hold up (`reason` is for the audit log only)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# How old Telegram's auth_date may be when the browser arrives: it is set as the button is
# pressed, and the page opens at once.
TELEGRAM_LOGIN_MAX_AGE = timedelta(minutes=5)
SIGNIN_HANDLE_PARAM = "h"  # ours in the button's URL; not part of what Telegram signs


def telegram_login_user(
    fields: Mapping[str, str], *, bot_token: str, now: datetime
) -> tuple[int, int]:
    """The Telegram user id that a login_url button's data vouches for, and its auth_date.

    Telegram Login Widget, "Checking authorization" (the data a login_url button appends is
    the same; Bot API, "LoginUrl"): the data-check-string is every received field but `hash`,
    sorted by key, as `key=value` joined by a line feed; the secret key is SHA256(bot token);
    `hash` must be the hex HMAC-SHA256 of the data-check-string under that key. auth_date
    (Unix time) tells how fresh it is. Raises TelegramLoginRefused otherwise.
    """
    if not bot_token:  # a key anyone could compute
        raise TelegramLoginRefused("no_bot_token")
    received = str(fields.get("hash", ""))
    data = {key: str(value) for key, value in fields.items() if key != "hash"}
    if not received or "id" not in data or "auth_date" not in data:
        raise TelegramLoginRefused("telegram_missing")
    check = "\n".join(f"{key}={data[key]}" for key in sorted(data))
    secret = hashlib.sha256(bot_token.encode()).digest()
    expected = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    if not received.isascii() or not hmac.compare_digest(expected, received.lower()):
        raise TelegramLoginRefused("telegram_hash")
    try:
        user_id, auth_date = int(data["id"]), int(data["auth_date"])
    except ValueError:
        raise TelegramLoginRefused("telegram_missing") from None
    age = now.timestamp() - auth_date
    if age > TELEGRAM_LOGIN_MAX_AGE.total_seconds() or age < -_LEEWAY:
        raise TelegramLoginRefused("telegram_stale")
    return user_id, auth_date


def signin_url(settings: Settings, handle: str) -> str:
    return f"{settings.public_url}{SIGNIN_PATH}?{urlencode({SIGNIN_HANDLE_PARAM: handle})}"


def redirect_uri(settings: Settings) -> str:
    return f"{settings.public_url}{CALLBACK_PATH}"


# --- the provider -----------------------------------------------------------------------


class Provider:
    """The OpenID provider as this client sees it: discovery, JWKS, token endpoint.

    One per process: the discovery document is kept an hour, the JWKS until a token names a
    key it does not hold (the provider rotated its keys).
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.issuer = settings.oidc_issuer.rstrip("/")
        self._metadata: dict[str, Any] | None = None
        self._metadata_at = 0.0
        self._jwks: KeySet | None = None
        self._lock = asyncio.Lock()

    def _timeout(self) -> aiohttp.ClientTimeout:
        return aiohttp.ClientTimeout(total=self.settings.oidc_timeout_seconds)

    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            async with (
                aiohttp.ClientSession(timeout=self._timeout()) as client,
                client.get(url, headers={"Accept": "application/json"}) as response,
            ):
                if response.status >= 400:
                    raise ProviderUnavailable(f"{url}: HTTP {response.status}")
                data = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise ProviderUnavailable(type(exc).__name__) from None
        if not isinstance(data, dict):
            raise ProviderUnavailable(f"{url}: not a JSON object")
        return data

    async def metadata(self) -> dict[str, Any]:
        async with self._lock:
            if self._metadata is None or time.monotonic() - self._metadata_at > _METADATA_TTL:
                url = f"{self.issuer}/.well-known/openid-configuration"
                found = await self._get_json(url)
                if str(found.get("issuer", "")).rstrip("/") != self.issuer:
                    raise ProviderUnavailable("the discovery document names another issuer")
                for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                    if not isinstance(found.get(name), str):
                        raise ProviderUnavailable(f"the discovery document has no {name}")
                self._metadata, self._metadata_at = found, time.monotonic()
            return self._metadata

    async def _key_set(self, *, refresh: bool = False) -> KeySet:
        if self._jwks is None or refresh:
            jwks_uri = (await self.metadata())["jwks_uri"]
            try:
                self._jwks = KeySet.import_key_set(await self._get_json(jwks_uri))  # type: ignore[arg-type]
            except (JoseError, ValueError, KeyError, TypeError) as exc:
                raise ProviderUnavailable(f"unusable JWKS: {type(exc).__name__}") from None
        return self._jwks

    async def authorization_url(
        self, *, state: str, nonce: str, code_verifier: str, language: str
    ) -> str:
        endpoint = (await self.metadata())["authorization_endpoint"]
        params = {
            "response_type": "code",
            "client_id": self.settings.oidc_client_id,
            "redirect_uri": redirect_uri(self.settings),
            "scope": self.settings.oidc_scopes,
            "state": state,
            "nonce": nonce,
            "code_challenge": create_s256_code_challenge(code_verifier),
            "code_challenge_method": "S256",
            "ui_locales": language,
        }
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(params)}"

    async def exchange(self, *, code: str, code_verifier: str) -> dict[str, Any]:
        """The token endpoint's answer to the code (client_secret_basic authentication)."""
        endpoint = (await self.metadata())["token_endpoint"]
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri(self.settings),
            "code_verifier": code_verifier,
        }
        # client_secret_basic: both form-urlencoded before base64 (RFC 6749, 2.3.1).
        pair = f"{quote_plus(self.settings.oidc_client_id)}:{quote_plus(self.settings.oidc_client_secret)}"
        headers = {
            "Accept": "application/json",
            "Authorization": "Basic " + base64.b64encode(pair.encode()).decode(),
        }
        try:
            async with (
                aiohttp.ClientSession(timeout=self._timeout()) as client,
                client.post(endpoint, data=form, headers=headers) as response,
            ):
                status = response.status
                body = await response.json(content_type=None) if status < 500 else None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ProviderUnavailable(type(exc).__name__) from None
        except ValueError:
            raise ProviderRefused("token_response_not_json") from None
        if status >= 500:
            raise ProviderUnavailable(f"token endpoint: HTTP {status}")
        if status != 200 or not isinstance(body, dict):
            error = body.get("error") if isinstance(body, dict) else None
            raise ProviderRefused(f"token_{error or status}")
        if not isinstance(body.get("id_token"), str):
            raise ProviderRefused("no_id_token")
        return body

    async def id_token_claims(
        self, token: Mapping[str, Any], *, nonce: str, now: datetime
    ) -> CodeIDToken:
        """The ID token's claims once its signature and claims have held up."""
        metadata = await self.metadata()
        offered = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
        registry_ = JWSRegistry(
            algorithms=[alg for alg in offered if alg in _ALGORITHMS] or ["RS256"],
            strict_check_header=False,
        )
        try:
            try:
                decoded = jwt.decode(token["id_token"], await self._key_set(), registry=registry_)
            except InvalidKeyIdError:  # a key we have not seen: the provider rotated
                decoded = jwt.decode(
                    token["id_token"], await self._key_set(refresh=True), registry=registry_
                )
            claims = CodeIDToken(
                decoded.claims,
                decoded.header,
                {
                    "iss": {"essential": True, "value": metadata["issuer"]},
                    "aud": {"essential": True, "value": self.settings.oidc_client_id},
                },
                {
                    "nonce": nonce,
                    "client_id": self.settings.oidc_client_id,
                    "access_token": token.get("access_token"),
                },
            )
            claims.validate(now=int(now.timestamp()), leeway=_LEEWAY)
        except (JoseError, ValueError) as exc:
            raise ProviderRefused(f"id_token_{type(exc).__name__}") from None
        return claims


# --- offering it in the chat --------------------------------------------------------------


async def offer(
    uow: UnitOfWork, deps: Deps, *, chat_id: int, now: datetime, bot_username: str = ""
) -> str | None:
    """The link for a chat's "Sign in with CY Login" login_url button; None when it is not
    set up. Handlers serve private chats only, whose id is their user's: that user alone
    may use it."""
    settings = deps.settings
    if not settings.oidc_enabled:
        return None
    language = await uow.chats.language(chat_id)
    handle = secrets.token_urlsafe(24)
    await uow.dialogues.create_signin(
        handle=handle, chat_id=chat_id, user_id=chat_id,
        language=normalise_language(language),
        bot_username=bot_username, now=now,
        expires_at=now + timedelta(minutes=settings.signin_ttl_minutes),
    )
    return signin_url(settings, handle)


# --- the browser's trip -------------------------------------------------------------------


async def begin(
    deps: Deps, provider: Provider, *, handle: str, telegram: Mapping[str, str]
) -> Redirect | Finished:
    """The button was opened: if Telegram vouches that the one who pressed it is the one who
    asked for it (`telegram`: the login data appended to the URL), send the browser to the
    provider with a fresh state."""
    if not deps.settings.oidc_enabled:
        return Finished(Outcome.NOT_CONFIGURED)
    now = deps.clock()
    request = await deps.read(lambda uow: uow.dialogues.signin_by_handle(handle, now=now))
    if request is None:
        known = await deps.read(lambda uow: uow.dialogues.signin_by_handle(handle))
        language = known.language if known else None
        return Finished(Outcome.EXPIRED, language, known.bot_username if known else "")
    try:
        user_id, auth_date = telegram_login_user(
            telegram, bot_token=deps.settings.telegram_token, now=now
        )
        if request.user_id is None or user_id != request.user_id:
            raise TelegramLoginRefused("telegram_user")
    except TelegramLoginRefused as refused:
        # Nothing is started and the chat is not told: whoever opened this is not its user.
        async with deps.uow() as uow:
            await uow.audit.record(
                actor=f"chat:{request.chat_id}", action="verify.oidc", count=1,
                details={"method": "oidc", "result": Outcome.WRONG_ACCOUNT.value,
                         "reason": refused.reason},
                at=now,
            )
        return Finished(Outcome.WRONG_ACCOUNT, request.language, request.bot_username)
    async with deps.uow() as uow:
        fresh = await uow.dialogues.open_signin(request.id, auth_date=auth_date)
        if not fresh:
            await uow.audit.record(
                actor=f"chat:{request.chat_id}", action="verify.oidc", count=1,
                details={"method": "oidc", "result": Outcome.EXPIRED.value,
                         "reason": "telegram_replayed"},
                at=now,
            )
    if not fresh:  # a press's URL opened again (a reload, or taken from a history)
        return Finished(Outcome.EXPIRED, request.language, request.bot_username)
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    code_verifier = secrets.token_urlsafe(64)  # 86 characters: RFC 7636 wants 43-128
    browser = secrets.token_urlsafe(32)
    try:
        url = await provider.authorization_url(
            state=state, nonce=nonce, code_verifier=code_verifier, language=request.language
        )
    except ProviderUnavailable as exc:
        return await _unsuccessful(deps, request, Outcome.UNAVAILABLE, str(exc), now)
    async with deps.uow() as uow:
        await uow.dialogues.set_signin_state(
            request.id, state=state, nonce=nonce, code_verifier=code_verifier,
            browser_hash=_browser_hash(browser),
        )
    return Redirect(url, browser)


def _browser_hash(browser: str) -> str:
    return hashlib.sha256(browser.encode()).hexdigest()


async def complete(
    deps: Deps, provider: Provider, *, state: str, code: str | None, error: str | None,
    browser: str | None,
) -> Finished:
    """The provider sent the browser back: spend the state, check that it is the browser that
    left (`browser`: its cookie), check the code and the ID token, link the chat, and tell it."""
    if not deps.settings.oidc_enabled:
        return Finished(Outcome.NOT_CONFIGURED)
    now = deps.clock()
    async with deps.uow() as uow:
        request = await uow.dialogues.spend_signin(state=state, now=now) if state else None
        if request is None:
            await uow.audit.record(
                actor="signin", action="verify.oidc", count=1,
                details={"method": "oidc", "result": "bad_state"}, at=now,
            )
    if request is None:
        return Finished(Outcome.EXPIRED)
    if (
        not browser or not browser.isascii() or request.browser_hash is None
        or not hmac.compare_digest(_browser_hash(browser), request.browser_hash)
    ):
        # Another browser: the provider's link was passed on. The state is spent; the code is
        # not used; the chat is not told (its user did not come back).
        async with deps.uow() as uow:
            await uow.audit.record(
                actor=f"chat:{request.chat_id}", action="verify.oidc", count=1,
                details={"method": "oidc", "result": Outcome.WRONG_ACCOUNT.value,
                         "reason": "browser"},
                at=now,
            )
        return Finished(Outcome.WRONG_ACCOUNT, request.language, request.bot_username)
    if error or not code or request.nonce is None or request.code_verifier is None:
        reason = f"provider_{error}" if error else "no_code"
        return await _unsuccessful(deps, request, Outcome.FAILED, reason[:60], now)
    try:
        token = await provider.exchange(code=code, code_verifier=request.code_verifier)
        claims = await provider.id_token_claims(token, nonce=request.nonce, now=deps.clock())
        identifier = _identifier(deps.settings, claims)
    except ProviderUnavailable as exc:
        log.warning("CY Login could not be reached: %s", exc)
        return await _unsuccessful(deps, request, Outcome.UNAVAILABLE, "unavailable", now)
    except ProviderRefused as exc:
        return await _unsuccessful(deps, request, Outcome.FAILED, exc.reason, now)
    return await _link(deps, request, identifier, _display_name(claims))


def _identifier(settings: Settings, claims: Mapping[str, Any]) -> Identifier:
    number = claims.get(settings.oidc_id_claim)
    if not isinstance(number, str | int) or isinstance(number, bool) or not str(number).strip():
        raise ProviderRefused("missing_claim")
    id_type = IdType.ID_CARD
    if settings.oidc_id_type_claim:
        named = str(claims.get(settings.oidc_id_type_claim) or "").strip().lower()
        if named:
            found = _ID_TYPES.get(named)
            if found is None or found not in PERSON_ID_TYPES:
                raise ProviderRefused("unknown_document_type")
            id_type = found
    try:
        return normalise_identifier(id_type, str(number))
    except InvalidIdentifier:
        raise ProviderRefused("bad_identifier") from None


def _display_name(claims: Mapping[str, Any]) -> str:
    name = claims.get("name")
    if not isinstance(name, str) or not name.strip():
        parts = [claims.get("given_name"), claims.get("family_name")]
        name = " ".join(part for part in parts if isinstance(part, str) and part.strip())
    return name.strip()[:300]


async def _link(
    deps: Deps, request: SignIn, identifier: Identifier, name: str
) -> Finished:
    keyring = deps.settings.keyring
    hashes = keyring.identifier_hashes(identifier)
    now = deps.clock()
    async with deps.uow() as uow:
        person = await uow.dialogues.person_by_hashes(hashes)
        if person is None:
            # Proven by CY Login but unknown to the registries so far: on file from now on,
            # so that debts sent later reach this chat.
            person_id = await uow.debts.add_person(
                id_type=identifier.id_type.value, id_hash=hashes[0], name=name,
                key_id=keyring.current.key_id,
            )
            display = name
        else:
            person_id, display = person.id, person.name or name
        chat_id = request.chat_id
        language = normalise_language(await uow.chats.ensure(chat_id, language=request.language))
        if await uow.chats.holds(chat_id, person_id=person_id):
            outcome = Outcome.ALREADY_LINKED
        elif await uow.chats.identity_count(chat_id) >= deps.settings.identities_per_chat:
            outcome = Outcome.TOO_MANY_IDENTITIES
        else:
            await uow.chats.link_person(chat_id, person_id=person_id, verified_by="oidc")
            outcome = Outcome.SIGNED_IN
        # A number-and-date dialogue under way in this chat is over either way.
        state = await uow.dialogues.conversation(chat_id)
        if state is not None and state.flow == "verify":
            await uow.dialogues.end_conversation(chat_id, expected_version=state.version)
        await uow.audit.record(
            actor=f"chat:{chat_id}", action="verify.oidc", count=1,
            details={"method": "oidc", "result": outcome.value, "id_hash": hashes[0][:12]},
            at=now,
        )
        await _tell_chat(uow, deps, request, language, outcome, display, now)
    return Finished(outcome, language, request.bot_username)


async def _unsuccessful(
    deps: Deps, request: SignIn, outcome: Outcome, reason: str, now: datetime
) -> Finished:
    async with deps.uow() as uow:
        known = await uow.chats.language(request.chat_id)
        language = normalise_language(known or request.language)
        await uow.audit.record(
            actor=f"chat:{request.chat_id}", action="verify.oidc", count=1,
            details={"method": "oidc", "result": outcome.value, "reason": reason}, at=now,
        )
        await _tell_chat(uow, deps, request, language, outcome, "", now)
    return Finished(outcome, language, request.bot_username)


async def _tell_chat(
    uow: UnitOfWork, deps: Deps, request: SignIn, language: str,
    outcome: Outcome, name: str, now: datetime,
) -> None:
    t = translator(language, timezone=deps.settings.tz)
    buttons: list[list[dict[str, str]]] = []
    if outcome is Outcome.SIGNED_IN:
        if name:
            text = t.gettext(
                "You signed in with CY Login. This chat is now linked to <b>%(name)s</b>.\n\n"
                "Send /debts to see what is outstanding."
            ) % {"name": html.escape(name, quote=False)}
        else:
            text = t.gettext(
                "You signed in with CY Login, and this chat is now linked to you.\n\n"
                "Send /debts to see what is outstanding."
            )
        buttons = [[{"text": t.pgettext("button", "Show what I owe"),
                     "callback_data": "debts:page:1"}]]
    elif outcome is Outcome.ALREADY_LINKED:
        text = t.gettext(
            "This person or company is already linked to this chat. "
            "Send /debts to see what is outstanding."
        )
    elif outcome is Outcome.TOO_MANY_IDENTITIES:
        text = t.gettext(
            "This chat is already linked to the largest number of people and companies "
            "allowed. Send /forget to unlink them all and start again."
        )
    elif outcome is Outcome.UNAVAILABLE:
        text = t.gettext(
            "CY Login cannot be reached at the moment, so nothing was linked. You can confirm "
            "who you are with your identity number and date of birth instead: send /start "
            "and choose “Myself”."
        )
    else:
        text = t.gettext(
            "Signing in with CY Login did not succeed, so nothing was linked. Send /start to "
            "try again, or to confirm who you are with your identity number and date of birth."
        )
    await uow.outbox.enqueue(
        dedupe_key=f"signin:{request.id}:{secrets.token_hex(4)}",
        chat_id=request.chat_id,
        purpose=OutboxPurpose.REPLY,
        payload={"text": text, "buttons": buttons},
        not_before=now,
    )


async def purge_stale(deps: Deps) -> dict[str, int]:
    """Housekeeping: sign-in requests a day past their expiry."""
    now = deps.clock()
    async with deps.uow() as uow:
        gone = await uow.dialogues.purge_signins(before=now - timedelta(days=1))
    return {"signin_requests": gone}
