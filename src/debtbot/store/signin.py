"""Sign-in requests (CY Login): created with a chat's button, given a state when the browser
leaves for the provider, spent once when it comes back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from debtbot.store.models import SignInRequest


@dataclass(frozen=True, slots=True)
class Request:
    id: int
    chat_id: int
    user_id: int | None  # the Telegram user who asked for it
    language: str
    bot_username: str
    nonce: str | None
    code_verifier: str | None
    browser_hash: str | None = None


def _request(row: SignInRequest) -> Request:
    return Request(row.id, row.chat_id, row.user_id, row.language, row.bot_username, row.nonce,
                   row.code_verifier, row.browser_hash)


async def create(
    session: AsyncSession, *, handle: str, chat_id: int, user_id: int, language: str,
    bot_username: str, now: datetime, expires_at: datetime,
) -> None:
    session.add(SignInRequest(
        handle=handle, chat_id=chat_id, user_id=user_id, language=language, bot_username=bot_username[:64],
        created_at=now, expires_at=expires_at,
    ))
    await session.flush()


async def by_handle(session: AsyncSession, handle: str, *, now: datetime) -> Request | None:
    """An unspent, unexpired request by its button's handle."""
    row = await session.scalar(
        select(SignInRequest).where(
            SignInRequest.handle == handle,
            SignInRequest.used_at.is_(None),
            SignInRequest.expires_at > now,
        )
    )
    return None if row is None else _request(row)


async def any_by_handle(session: AsyncSession, handle: str) -> Request | None:
    row = await session.scalar(select(SignInRequest).where(SignInRequest.handle == handle))
    return None if row is None else _request(row)


async def mark_opened(session: AsyncSession, request_id: int, *, auth_date: int) -> bool:
    """Telegram's data of one press opens the page once: False if this press's data (or a
    later one's) was used already, as when a signed URL is taken from a browser's history."""
    result = await session.execute(
        update(SignInRequest)
        .where(
            SignInRequest.id == request_id,
            (SignInRequest.telegram_auth_date.is_(None))
            | (SignInRequest.telegram_auth_date < auth_date),
        )
        .values(telegram_auth_date=auth_date)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


async def set_state(
    session: AsyncSession, request_id: int, *, state: str, nonce: str, code_verifier: str,
    browser_hash: str,
) -> None:
    """A new trip to the provider: any state handed out before for this request is void."""
    await session.execute(
        update(SignInRequest)
        .where(SignInRequest.id == request_id)
        .values(state=state, nonce=nonce, code_verifier=code_verifier,
                browser_hash=browser_hash)
    )


async def spend(session: AsyncSession, *, state: str, now: datetime) -> Request | None:
    """Take the request this state belongs to, once: None if unknown, spent or expired."""
    row = await session.scalar(
        select(SignInRequest).where(SignInRequest.state == state).with_for_update()
    )
    if row is None or row.used_at is not None or row.expires_at <= now:
        return None
    result = await session.execute(
        update(SignInRequest)
        .where(SignInRequest.id == row.id, SignInRequest.used_at.is_(None))
        .values(used_at=now)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return _request(row)


async def purge(session: AsyncSession, *, before: datetime) -> int:
    result = await session.execute(
        delete(SignInRequest).where(SignInRequest.expires_at < before)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
