"""Signing in to the staff console without a password.

An active staff member sends /console to the bot (or an admin runs `debtbot staff login-link
ID`) and gets a link valid 10 minutes, usable once: `<public_url>/console/login?token=…`. The
token is `<telegram user id>.<expiry, unix seconds>.<random id>.<MAC>`, the MAC an
HMAC-SHA256 with a key derived from settings.hash_key for this purpose alone; its id is
recorded in `used_link_tokens` when spent ("console:<id>"), so a second use is refused.

Signing in makes a session: the browser keeps `<secret>.<MAC>` in an HttpOnly, Secure,
SameSite=Strict cookie; the database keeps only the secret's SHA-256, the staff member, a
CSRF token for the session's forms, and when it was last used. A session ends after 8 hours
without use, on sign-out, or when the member is removed. Every step is audited under the
member's id ("staff:<telegram user id>").
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from debtbot.services import audit, staff
from debtbot.services.deps import Deps
from debtbot.services.staff import NotAllowed, StaffView
from debtbot.settings import Settings
from debtbot.store import console as store
from debtbot.store.db import transaction
from debtbot.store.dialogues import DialogueRepository

LOGIN_TTL = timedelta(minutes=10)
IDLE_TIMEOUT = timedelta(hours=8)
TOUCH_EVERY = timedelta(seconds=60)  # last-seen is written at most once a minute
COOKIE_NAME = "debtbot_console"
CONSOLE_LANGUAGES = ("el", "en")
_TOKEN = re.compile(r"^([0-9]{1,19})\.([0-9]{1,12})\.([0-9a-f]{16})\.([A-Za-z0-9_-]{22})$")
_COOKIE = re.compile(r"^([A-Za-z0-9_-]{43})\.([A-Za-z0-9_-]{22})$")


class SignInRefused(Exception):
    """The link cannot sign anyone in; `reason`: malformed, forged, expired, used, not_staff."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _key(settings: Settings, purpose: bytes) -> bytes:
    # A key per purpose, so a console MAC can never stand in for an identifier hash.
    return hmac.new(settings.hash_key.encode(), purpose, hashlib.sha256).digest()


def _mac(settings: Settings, purpose: bytes, body: str) -> str:
    digest = hmac.new(_key(settings, purpose), body.encode(), hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def mint_login_token(settings: Settings, *, telegram_user_id: int, now: datetime) -> str:
    expires = int((now + LOGIN_TTL).timestamp())
    body = f"{telegram_user_id}.{expires}.{secrets.token_hex(8)}"
    return f"{body}.{_mac(settings, b'console-login', body)}"


async def login_link(deps: Deps, *, telegram_user_id: int, actor: str) -> str:
    """A sign-in link for an active staff member (NotAllowed for anyone else)."""
    member = await staff.staff_member(deps, telegram_user_id=telegram_user_id)
    if member is None:
        raise NotAllowed("not an active staff member", code="not_staff")
    token = mint_login_token(deps.settings, telegram_user_id=telegram_user_id, now=deps.clock())
    await audit.record_now(deps, actor=actor, action="console.login_link",
                           subject=f"staff:{telegram_user_id}")
    return f"{deps.settings.public_url}/console/login?token={token}"


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    id: str  # SHA-256 of the cookie's secret
    member: StaffView
    csrf: str
    language: str

    @property
    def actor(self) -> staff.Actor:
        return staff.Actor.for_staff(self.member)


def _session_id(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def sign_in(deps: Deps, *, token: str, language: str = "el") -> tuple[str, ConsoleSession]:
    """Spend a sign-in link: (the cookie's value, the new session). SignInRefused if not."""
    settings = deps.settings
    now = deps.clock()
    found = _TOKEN.match(token or "")
    if found is None:
        raise SignInRefused("malformed")
    user_id, expires, token_id, mac = found.groups()
    body = f"{user_id}.{expires}.{token_id}"
    if not hmac.compare_digest(mac, _mac(settings, b"console-login", body)):
        raise SignInRefused("forged")
    expires_at = datetime.fromtimestamp(int(expires), UTC)
    if expires_at <= now:
        raise SignInRefused("expired")
    member = await staff.staff_member(deps, telegram_user_id=int(user_id))
    if member is None:
        raise SignInRefused("not_staff")
    secret = secrets.token_urlsafe(32)
    session_id = _session_id(secret)
    csrf = secrets.token_urlsafe(32)
    language = language if language in CONSOLE_LANGUAGES else "el"
    async with transaction(deps.sessions) as session:
        if not await DialogueRepository(session).spend_link_token(
            f"console:{token_id}", used_at=now, expires_at=expires_at
        ):
            raise SignInRefused("used")
        await store.add_session(
            session, id=session_id, staff_user_id=member.telegram_user_id, csrf=csrf,
            language=language, created_at=now, last_seen_at=now,
        )
        await audit.record(session, actor=f"staff:{member.telegram_user_id}",
                           action="console.sign_in", subject=f"staff:{member.telegram_user_id}")
    cookie = f"{secret}.{_mac(settings, b'console-session', secret)}"
    return cookie, ConsoleSession(session_id, member, csrf, language)


async def session_for(deps: Deps, cookie: str | None) -> ConsoleSession | None:
    """The live session this cookie belongs to, or None (forged, foreign, ended, idle too
    long, or its member no longer active)."""
    found = _COOKIE.match(cookie or "")
    if found is None:
        return None
    secret, mac = found.groups()
    if not hmac.compare_digest(mac, _mac(deps.settings, b"console-session", secret)):
        return None
    now = deps.clock()
    session_id = _session_id(secret)
    async with deps.sessions() as session:
        row = await store.get_session(session, session_id)
        if row is None or row.ended_at is not None or row.last_seen_at + IDLE_TIMEOUT <= now:
            return None
        staff_user_id, csrf, language, last_seen = (
            row.staff_user_id, row.csrf, row.language, row.last_seen_at
        )
    member = await staff.staff_member(deps, telegram_user_id=staff_user_id)
    if member is None:
        return None
    if now - last_seen >= TOUCH_EVERY:
        async with transaction(deps.sessions) as session:
            await store.touch_session(session, session_id, now=now)
    return ConsoleSession(session_id, member, csrf, language)


def csrf_ok(console: ConsoleSession, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(console.csrf, given or "")


async def sign_out(deps: Deps, console: ConsoleSession) -> None:
    async with transaction(deps.sessions) as session:
        await store.end_session(session, console.id, now=deps.clock())
        await audit.record(session, actor=console.actor.label, action="console.sign_out",
                           subject=console.actor.label)


async def set_language(deps: Deps, console: ConsoleSession, language: str) -> None:
    if language not in CONSOLE_LANGUAGES:
        return
    async with transaction(deps.sessions) as session:
        await store.touch_session(session, console.id, now=deps.clock(), language=language)
