"""A local OpenID Connect provider, for tests and demos: what CY Login looks like over HTTP.

Like the local Bot API server, it is a real HTTP server on 127.0.0.1 speaking the protocol:
the discovery document, the JWKS (RS256 keys, rotated on request), the authorization endpoint
(which signs in whoever `user` says at once, as a browser would after the login form) and the
token endpoint (client_secret_basic or _post, single-use codes, PKCE S256, redirect_uri
checked). Knobs make it misbehave the ways a real provider or an attacker can: `down` (503 on
everything), `deny` (the user cancels), `tamper` (an expired, wrongly signed, wrong-audience,
wrong-issuer, wrong-nonce or HS256 (client-secret) ID token, or one without the identity
claim).

    async with FakeOidcProvider(client_id="debtbot", client_secret="s") as provider:
        provider.user = {"sub": "u1", "unique_identifier": "1234567", "name": "A. Georgiou"}
        ... settings.oidc_issuer = provider.issuer ...
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus, urlencode

from aiohttp import web
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey

TAMPERING = frozenset({
    "expired", "wrong_key", "wrong_audience", "wrong_issuer", "wrong_nonce", "missing_claim",
    "unsigned_kid", "hs256",
})


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass(slots=True)
class _Code:
    client_id: str
    redirect_uri: str
    challenge: str
    method: str
    nonce: str | None
    claims: dict[str, Any]
    used: bool = False


@dataclass(slots=True)
class Recorded:
    """What the provider saw: for assertions."""

    authorize: list[dict[str, str]] = field(default_factory=list)
    token: list[dict[str, str]] = field(default_factory=list)
    token_errors: list[str] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)


class FakeOidcProvider:
    """An OpenID provider on 127.0.0.1 (see the module docstring)."""

    def __init__(
        self,
        *,
        client_id: str = "debtbot",
        client_secret: str = "provider-client-secret",  # noqa: S107 - a test server's
        id_claim: str = "unique_identifier",
        clock: Callable[[], datetime] = _utcnow,
        host: str = "127.0.0.1",
        port: int = 0,
        token_lifetime: int = 300,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.id_claim = id_claim
        self.clock = clock
        self.token_lifetime = token_lifetime
        self.user: dict[str, Any] = {"sub": "user-1", id_claim: "1234567", "name": "Test User"}
        self.down = False
        self.deny = False
        self.tamper: str | None = None
        self.recorded = Recorded()
        self._keys = [self._new_key()]
        self._stranger = self._new_key()  # signs "wrong_key" tokens; never published
        self._codes: dict[str, _Code] = {}
        self._host, self._port = host, port
        self._runner: web.AppRunner | None = None
        self.issuer = ""

    @staticmethod
    def _new_key() -> RSAKey:
        kid = secrets.token_hex(8)
        return RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": "RS256"})

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> FakeOidcProvider:
        app = web.Application()
        app.router.add_get("/.well-known/openid-configuration", self._discovery)
        app.router.add_get("/jwks", self._jwks)
        app.router.add_get("/authorize", self._authorize)
        app.router.add_post("/token", self._token)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        port = next(a[1] for a in self._runner.addresses if isinstance(a, tuple))
        self._port = port
        self.issuer = f"http://{self._host}:{port}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeOidcProvider:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # --- knobs -----------------------------------------------------------------------------

    def rotate_keys(self, *, keep_old: bool = False) -> str:
        """Sign with a new key from now on; the JWKS publishes it (and the old one if kept).
        Returns the new key id."""
        key = self._new_key()
        self._keys = [key, *self._keys] if keep_old else [key]
        return str(key.kid)

    # --- endpoints -------------------------------------------------------------------------

    def _unavailable(self) -> web.Response:
        return web.json_response({"error": "temporarily_unavailable"}, status=503)

    async def _discovery(self, request: web.Request) -> web.Response:
        if self.down:
            return self._unavailable()
        return web.json_response({
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic",
                                                      "client_secret_post"],
            "scopes_supported": ["openid", "profile"],
        })

    async def _jwks(self, request: web.Request) -> web.Response:
        if self.down:
            return self._unavailable()
        return web.json_response({"keys": [key.as_dict(private=False) for key in self._keys]})

    async def _authorize(self, request: web.Request) -> web.StreamResponse:
        if self.down:
            return self._unavailable()
        query = dict(request.query)
        self.recorded.authorize.append(query)
        redirect_uri = query.get("redirect_uri", "")
        if query.get("client_id") != self.client_id or not redirect_uri.startswith("http"):
            return web.Response(status=400, text="unknown client or redirect_uri")
        state = query.get("state", "")
        if self.deny:
            raise web.HTTPFound(
                f"{redirect_uri}?{urlencode({'error': 'access_denied', 'state': state})}"
            )
        if (
            query.get("response_type") != "code"
            or "openid" not in query.get("scope", "").split()
            or query.get("code_challenge_method") != "S256"
            or not query.get("code_challenge")
        ):
            error = {"error": "invalid_request", "state": state}
            raise web.HTTPFound(f"{redirect_uri}?{urlencode(error)}")
        code = secrets.token_urlsafe(24)
        self._codes[code] = _Code(
            client_id=self.client_id, redirect_uri=redirect_uri,
            challenge=query["code_challenge"], method="S256", nonce=query.get("nonce"),
            claims=dict(self.user),
        )
        self.recorded.codes.append(code)
        raise web.HTTPFound(f"{redirect_uri}?{urlencode({'code': code, 'state': state})}")

    def _client(self, request: web.Request, form: dict[str, str]) -> str | None:
        header = request.headers.get("Authorization", "")
        if header.startswith("Basic "):
            try:
                user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return None
            user, password = unquote_plus(user), unquote_plus(password)
        else:
            user, password = form.get("client_id", ""), form.get("client_secret", "")
        if user == self.client_id and secrets.compare_digest(password, self.client_secret):
            return user
        return None

    def _token_error(self, error: str, status: int = 400) -> web.Response:
        self.recorded.token_errors.append(error)
        return web.json_response({"error": error}, status=status)

    async def _token(self, request: web.Request) -> web.Response:
        if self.down:
            return self._unavailable()
        form = {key: str(value) for key, value in (await request.post()).items()}
        self.recorded.token.append({k: v for k, v in form.items() if k != "client_secret"})
        if self._client(request, form) is None:
            return self._token_error("invalid_client", 401)
        if form.get("grant_type") != "authorization_code":
            return self._token_error("unsupported_grant_type")
        code = self._codes.get(form.get("code", ""))
        if code is None or code.used:
            return self._token_error("invalid_grant")
        code.used = True  # spent even when the rest of the request is wrong
        if form.get("redirect_uri") != code.redirect_uri:
            return self._token_error("invalid_grant")
        if _s256(form.get("code_verifier", "")) != code.challenge:
            return self._token_error("invalid_grant")
        access_token = secrets.token_urlsafe(24)
        return web.json_response({
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": 300,
            "id_token": self._id_token(code),
        }, headers={"Cache-Control": "no-store"})

    def _id_token(self, code: _Code) -> str:
        now = int(self.clock().timestamp())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.client_id,
            "iat": now,
            "exp": now + self.token_lifetime,
            "auth_time": now,
            **code.claims,
        }
        if code.nonce is not None:
            claims["nonce"] = code.nonce
        key = self._keys[0]
        tamper = self.tamper
        if tamper == "expired":
            claims["iat"], claims["exp"] = now - 3600, now - 1800
        elif tamper == "wrong_audience":
            claims["aud"] = "someone-else"
        elif tamper == "wrong_issuer":
            claims["iss"] = "http://127.0.0.1:1/not-the-issuer"
        elif tamper == "wrong_nonce":
            claims["nonce"] = secrets.token_urlsafe(16)
        elif tamper == "missing_claim":
            claims.pop(self.id_claim, None)
        header = {"alg": "RS256", "kid": key.kid, "typ": "JWT"}
        if tamper == "wrong_key":  # a published key id, someone else's signature
            return jwt.encode(header, claims, self._stranger)
        if tamper == "unsigned_kid":  # a key id the JWKS never had
            return jwt.encode({**header, "kid": self._stranger.kid}, claims, self._stranger)
        if tamper == "hs256":  # "signed" with the client secret: the old algorithm confusion
            secret = OctKey.import_key(self.client_secret.encode())
            return jwt.encode({"alg": "HS256", "typ": "JWT"}, claims, secret,
                              algorithms=["HS256"])
        return jwt.encode(header, claims, key)
