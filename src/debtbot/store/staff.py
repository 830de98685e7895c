"""Staff, their console sessions and the HTTP API's bearer tokens; and what the console
shows of deliveries (the outbox, read by notice, broadcast, state, kind and day)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, cast, func, insert, select, update

from debtbot.store.models import ApiToken, Chat, ConsoleSession, OutboxMessage, StaffMember
from debtbot.store.repository import Repository


@dataclass(frozen=True, slots=True)
class StaffRecord:
    telegram_user_id: int
    name: str
    role: str
    active: bool
    receives_tests: bool
    language: str | None  # the staff member's chat language, None before they talked


@dataclass(frozen=True, slots=True)
class ConsoleSessionRecord:
    id: str
    staff_user_id: int
    csrf: str
    language: str
    created_at: datetime
    last_seen_at: datetime
    ended_at: datetime | None


@dataclass(frozen=True, slots=True)
class TokenRecord:
    id: int
    name: str
    scopes: tuple[str, ...]
    created_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class MessageRow:
    id: int
    chat_id: int
    purpose: str
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime | None
    sent_at: datetime | None
    broadcast_id: int | None
    dedupe_key: str


def _dialect(db: Any) -> str:
    bind = db.get_bind() if hasattr(db, "get_bind") else db
    return bind.dialect.name


_STAFF = (StaffMember.telegram_user_id, StaffMember.name, StaffMember.role, StaffMember.active,
          StaffMember.receives_tests, Chat.language)
_SESSION = (ConsoleSession.id, ConsoleSession.staff_user_id, ConsoleSession.csrf,
            ConsoleSession.language, ConsoleSession.created_at, ConsoleSession.last_seen_at,
            ConsoleSession.ended_at)
_TOKEN = (ApiToken.id, ApiToken.name, ApiToken.scopes, ApiToken.created_at, ApiToken.revoked_at)


def _token(row: Any) -> TokenRecord:
    return TokenRecord(row.id, row.name, tuple(row.scopes or ()), row.created_at, row.revoked_at)


def _message_filter(
    query: Any, *, notice_key: str | None, broadcast_id: int | None, status: str | None,
    purpose: str | None, chat_id: int | None, since: datetime | None,
) -> Any:
    if notice_key is not None:
        query = query.where(OutboxMessage.dedupe_key.startswith(f"notice:{notice_key}:"))
    if broadcast_id is not None:
        query = query.where(OutboxMessage.broadcast_id == broadcast_id)
    if status:
        query = query.where(OutboxMessage.status == status)
    if purpose:
        query = query.where(OutboxMessage.purpose == purpose)
    if chat_id is not None:
        query = query.where(OutboxMessage.chat_id == chat_id)
    if since is not None:
        query = query.where(OutboxMessage.created_at >= since)
    return query


class StaffRepository(Repository):
    """Staff, console sessions and API tokens: the only writer of their tables."""

    __slots__ = ()

    # --- staff -----------------------------------------------------------------------------

    async def _staff(self, *conditions: Any) -> list[StaffRecord]:
        query = (select(*_STAFF).outerjoin(Chat, Chat.id == StaffMember.telegram_user_id)
                 .where(*conditions).order_by(StaffMember.telegram_user_id))
        return [StaffRecord(row[0], row[1], row[2], bool(row[3]), bool(row[4]), row[5])
                for row in (await self._db.execute(query)).all()]

    async def save(
        self, *, telegram_user_id: int, name: str, role: str, receives_tests: bool
    ) -> StaffRecord:
        """Add a staff member, or update and reactivate one."""
        values = {"name": name, "role": role, "active": True, "receives_tests": receives_tests}
        updated = await self._db.execute(
            update(StaffMember).where(StaffMember.telegram_user_id == telegram_user_id)
            .values(**values)
        )
        if not updated.rowcount:
            await self._db.execute(
                insert(StaffMember).values(telegram_user_id=telegram_user_id, **values)
            )
        [member] = await self._staff(StaffMember.telegram_user_id == telegram_user_id)
        return member

    async def deactivate(self, telegram_user_id: int) -> StaffRecord | None:
        """The member, now inactive; None if there is no such member."""
        updated = await self._db.execute(
            update(StaffMember).where(StaffMember.telegram_user_id == telegram_user_id)
            .values(active=False)
        )
        if not updated.rowcount:
            return None
        [member] = await self._staff(StaffMember.telegram_user_id == telegram_user_id)
        return member

    async def member(self, telegram_user_id: int) -> StaffRecord | None:
        found = await self._staff(StaffMember.telegram_user_id == telegram_user_id)
        return found[0] if found else None

    async def members(self, *, include_inactive: bool) -> list[StaffRecord]:
        """By Telegram user id."""
        if include_inactive:
            return await self._staff()
        return await self._staff(StaffMember.active.is_(True))

    async def test_recipients(self) -> list[tuple[int, str]]:
        """The test-mode allow-list: (chat id, language) of active staff who receive tests."""
        found = await self._staff(StaffMember.active.is_(True),
                                  StaffMember.receives_tests.is_(True))
        return [(member.telegram_user_id, member.language or "en") for member in found]

    # --- console sessions ------------------------------------------------------------------

    async def add_console_session(
        self, *, id: str, staff_user_id: int, csrf: str, language: str, now: datetime
    ) -> None:
        await self._db.execute(insert(ConsoleSession).values(
            id=id, staff_user_id=staff_user_id, csrf=csrf, language=language, created_at=now,
            last_seen_at=now,
        ))

    async def console_session(self, session_id: str) -> ConsoleSessionRecord | None:
        row = (await self._db.execute(
            select(*_SESSION).where(ConsoleSession.id == session_id)
        )).first()
        return None if row is None else ConsoleSessionRecord(*row)

    async def touch_console_session(
        self, session_id: str, *, now: datetime, language: str | None = None
    ) -> None:
        values: dict[str, Any] = {"last_seen_at": now}
        if language is not None:
            values["language"] = language
        await self._db.execute(
            update(ConsoleSession).where(ConsoleSession.id == session_id).values(**values)
        )

    async def end_console_session(self, session_id: str, *, now: datetime) -> None:
        await self._db.execute(
            update(ConsoleSession)
            .where(ConsoleSession.id == session_id, ConsoleSession.ended_at.is_(None))
            .values(ended_at=now)
        )

    # --- API tokens ------------------------------------------------------------------------

    async def add_token(
        self, *, name: str, token_hash: str, scopes: Sequence[str], now: datetime
    ) -> TokenRecord:
        row = (await self._db.execute(
            insert(ApiToken).values(name=name, token_hash=token_hash, scopes=list(scopes),
                                    created_at=now)
            .returning(*_TOKEN)
        )).one()
        return _token(row)

    async def token_by_hash(self, token_hash: str) -> TokenRecord | None:
        row = (await self._db.execute(
            select(*_TOKEN).where(ApiToken.token_hash == token_hash)
        )).first()
        return None if row is None else _token(row)

    async def tokens(self) -> list[TokenRecord]:
        rows = await self._db.execute(select(*_TOKEN).order_by(ApiToken.id))
        return [_token(row) for row in rows.all()]

    async def revoke_token(self, token_id: int, *, now: datetime) -> bool:
        """False if there is no such token or it was revoked already."""
        result = await self._db.execute(
            update(ApiToken)
            .where(ApiToken.id == token_id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return bool(result.rowcount)

    # --- deliveries, as the console shows them ---------------------------------------------

    async def messages(
        self, *, notice_key: str | None = None, broadcast_id: int | None = None,
        status: str | None = None, purpose: str | None = None, chat_id: int | None = None,
        since: datetime | None = None, limit: int = 500, offset: int = 0,
    ) -> list[MessageRow]:
        """Outbox rows, newest first."""
        query = select(
            OutboxMessage.id, OutboxMessage.chat_id, OutboxMessage.purpose,
            OutboxMessage.status, OutboxMessage.attempts, OutboxMessage.last_error,
            OutboxMessage.created_at, OutboxMessage.sent_at, OutboxMessage.broadcast_id,
            OutboxMessage.dedupe_key,
        )
        query = _message_filter(query, notice_key=notice_key, broadcast_id=broadcast_id,
                                status=status, purpose=purpose, chat_id=chat_id, since=since)
        rows = await self._db.execute(query.order_by(OutboxMessage.id.desc()).limit(limit)
                                      .offset(offset))
        return [MessageRow(*row) for row in rows.all()]

    async def message_counts(
        self, *, notice_key: str | None = None, broadcast_id: int | None = None,
        purpose: str | None = None, chat_id: int | None = None, since: datetime | None = None,
    ) -> dict[str, int]:
        """Outbox rows by state."""
        query = select(OutboxMessage.status, func.count())
        query = _message_filter(query, notice_key=notice_key, broadcast_id=broadcast_id,
                                status=None, purpose=purpose, chat_id=chat_id, since=since)
        rows = await self._db.execute(query.group_by(OutboxMessage.status))
        return {status: int(count) for status, count in rows.all()}

    async def daily_counts(self, *, since: datetime) -> list[tuple[date, str, str, int]]:
        """(day in UTC, purpose, status, messages) for messages created since `since`."""
        day = (cast(OutboxMessage.created_at, Date) if _dialect(self._db) == "postgresql"
               else func.date(OutboxMessage.created_at))
        rows = await self._db.execute(
            select(day, OutboxMessage.purpose, OutboxMessage.status, func.count())
            .where(OutboxMessage.created_at >= since)
            .group_by(day, OutboxMessage.purpose, OutboxMessage.status)
        )
        result = []
        for raw_day, purpose, status, count in rows.all():
            when = raw_day if isinstance(raw_day, date) else date.fromisoformat(str(raw_day)[:10])
            result.append((when, purpose, status, int(count)))
        return result
