"""The citizen's dialogues: verification (conversations, attempts, link tokens spent) and
CY Login sign-in requests.

Identity numbers only ever arrive here as keyed hashes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from debtbot.store.models import (
    Company,
    Conversation,
    DebtRow,
    Person,
    SignInRequest,
    UsedLinkToken,
    VerificationAttempt,
)
from debtbot.store.repository import Repository

CONVERSATIONS = Conversation.__table__
ATTEMPTS = VerificationAttempt.__table__
TOKENS = UsedLinkToken.__table__
REQUESTS = SignInRequest.__table__
PERSONS = Person.__table__
COMPANIES = Company.__table__


@dataclass(frozen=True, slots=True)
class DialogueState:
    flow: str
    step: str
    data: dict[str, Any]
    version: int
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class RegisteredPerson:
    """A person on file, as verification compares them (hashes only)."""

    id: int
    name: str
    key_id: str
    id_hash: str
    date_of_birth_hash: str | None
    phone_hash: str | None


@dataclass(frozen=True, slots=True)
class RegisteredCompany:
    id: int
    name: str
    key_id: str
    reg_hash: str


@dataclass(frozen=True, slots=True)
class SignIn:
    """One "Sign in with CY Login" request."""

    id: int
    chat_id: int
    user_id: int | None  # the Telegram user who asked for it
    language: str
    bot_username: str
    nonce: str | None
    code_verifier: str | None
    browser_hash: str | None = None


_PERSON = (PERSONS.c.id, PERSONS.c.name, PERSONS.c.key_id, PERSONS.c.id_hash,
           PERSONS.c.date_of_birth_hash, PERSONS.c.phone_hash)
_COMPANY = (COMPANIES.c.id, COMPANIES.c.name, COMPANIES.c.key_id, COMPANIES.c.reg_hash)
_SIGNIN = (REQUESTS.c.id, REQUESTS.c.chat_id, REQUESTS.c.user_id, REQUESTS.c.language,
           REQUESTS.c.bot_username, REQUESTS.c.nonce, REQUESTS.c.code_verifier,
           REQUESTS.c.browser_hash)


def _person(row: Any) -> RegisteredPerson:
    person_id, name, key_id, id_hash, born, phone = row
    return RegisteredPerson(person_id, name or "", key_id, id_hash, born, phone)


def _company(row: Any) -> RegisteredCompany:
    company_id, name, key_id, reg_hash = row
    return RegisteredCompany(company_id, name or "", key_id, reg_hash)


def _prefix_range(column: Any, prefix: str) -> Any:
    # Hashes are lower-case hex: every hash starting with `prefix` sorts in [prefix, prefix+"g").
    return and_(column >= prefix, column < prefix + "g")


class DialogueRepository(Repository):
    """conversations, verification_attempts, used_link_tokens, signin_requests: the only
    writer of their tables."""

    __slots__ = ()

    # --- dialogue state (optimistically versioned) ---------------------------------------

    async def conversation(self, chat_id: int) -> DialogueState | None:
        row = (await self._db.execute(
            select(CONVERSATIONS.c.flow, CONVERSATIONS.c.step, CONVERSATIONS.c.data,
                   CONVERSATIONS.c.version, CONVERSATIONS.c.expires_at)
            .where(CONVERSATIONS.c.chat_id == chat_id)
        )).one_or_none()
        if row is None:
            return None
        flow, step, data, version, expires_at = row
        return DialogueState(flow, step, dict(data or {}), version, expires_at)

    async def save_conversation(
        self, chat_id: int, *, expected_version: int | None, flow: str, step: str,
        data: dict[str, Any], expires_at: datetime,
    ) -> bool:
        """Write the next state if nobody else moved the dialogue on; False if someone did.

        `expected_version` None means "there is no row yet": the insert loses to a
        concurrent one.
        """
        if expected_version is None:
            try:
                async with self._db.begin_nested():
                    await self._db.execute(insert(CONVERSATIONS).values(
                        chat_id=chat_id, flow=flow, step=step, data=data, version=1,
                        expires_at=expires_at,
                    ))
            except IntegrityError:
                return False
            return True
        outcome = await self._db.execute(
            update(CONVERSATIONS)
            .where(CONVERSATIONS.c.chat_id == chat_id,
                   CONVERSATIONS.c.version == expected_version)
            .values(flow=flow, step=step, data=data, version=expected_version + 1,
                    expires_at=expires_at)
        )
        return (outcome.rowcount or 0) == 1  # type: ignore[attr-defined]

    async def end_conversation(
        self, chat_id: int, *, expected_version: int | None = None
    ) -> bool:
        """End the dialogue; with `expected_version`, only if nobody moved it on meanwhile."""
        statement = delete(CONVERSATIONS).where(CONVERSATIONS.c.chat_id == chat_id)
        if expected_version is not None:
            statement = statement.where(CONVERSATIONS.c.version == expected_version)
        outcome = await self._db.execute(statement)
        return (outcome.rowcount or 0) == 1  # type: ignore[attr-defined]

    # --- attempts and locks --------------------------------------------------------------

    async def record_attempt(
        self, chat_id: int, *, id_hash: str | None, method: str, succeeded: bool,
        at: datetime,
    ) -> None:
        await self._db.execute(insert(ATTEMPTS).values(
            chat_id=chat_id, id_hash=id_hash, method=method, succeeded=succeeded, at=at
        ))

    async def chat_failures_since(self, chat_id: int, *, since: datetime) -> list[datetime]:
        return await self._failures(ATTEMPTS.c.chat_id == chat_id, since)

    async def identifier_failures_since(self, id_hash: str, *, since: datetime
                                        ) -> list[datetime]:
        return await self._failures(ATTEMPTS.c.id_hash == id_hash, since)

    async def _failures(self, condition: Any, since: datetime) -> list[datetime]:
        query = (
            select(ATTEMPTS.c.at)
            .where(condition, ATTEMPTS.c.succeeded.is_(False), ATTEMPTS.c.at > since)
            .order_by(ATTEMPTS.c.at)
        )
        return list((await self._db.execute(query)).scalars())

    # --- the registry, looked up by hash -------------------------------------------------

    async def person_by_hashes(self, hashes: Sequence[str]) -> RegisteredPerson | None:
        """The person filed under any of these hashes (the first one first)."""
        first = case((PERSONS.c.id_hash == hashes[0], 0), else_=1)
        row = (await self._db.execute(
            select(*_PERSON).where(PERSONS.c.id_hash.in_(list(hashes)))
            .order_by(first).limit(1)
        )).first()
        return None if row is None else _person(row)

    async def company_with_notice(
        self, *, reg_hash: str, reference: str
    ) -> RegisteredCompany | None:
        """The company with this registration hash that was issued a notice with this
        reference (any status), in one query whether or not the company exists."""
        debts = DebtRow.__table__
        row = (await self._db.execute(
            select(*_COMPANY)
            .join(debts, debts.c.company_id == COMPANIES.c.id)
            .where(COMPANIES.c.reg_hash == reg_hash,
                   func.upper(debts.c.reference) == reference.upper())
            .limit(1)
        )).first()
        return None if row is None else _company(row)

    async def person_by_hash_prefix(self, prefix: str) -> RegisteredPerson | None:
        """The one person whose hash starts with `prefix` (None if none, or several)."""
        rows = (await self._db.execute(
            select(*_PERSON).where(_prefix_range(PERSONS.c.id_hash, prefix)).limit(2)
        )).all()
        matches = [_person(row) for row in rows if row[3].startswith(prefix)]
        return matches[0] if len(matches) == 1 else None

    async def company_by_hash_prefix(self, prefix: str) -> RegisteredCompany | None:
        rows = (await self._db.execute(
            select(*_COMPANY).where(_prefix_range(COMPANIES.c.reg_hash, prefix)).limit(2)
        )).all()
        matches = [_company(row) for row in rows if row[3].startswith(prefix)]
        return matches[0] if len(matches) == 1 else None

    # --- deep-link tokens ----------------------------------------------------------------

    async def spend_link_token(
        self, token_id: str, *, used_at: datetime, expires_at: datetime
    ) -> bool:
        """Mark the token used; False if it already was (by this or a concurrent
        redemption)."""
        try:
            async with self._db.begin_nested():
                await self._db.execute(insert(TOKENS).values(
                    token_id=token_id, used_at=used_at, expires_at=expires_at
                ))
        except IntegrityError:
            return False
        return True

    async def purge_stale(
        self, *, now: datetime, flow: str, attempts_before: datetime
    ) -> tuple[int, int, int]:
        """Delete spent tokens past their expiry (an expired token is refused before its id
        is looked at), expired dialogues of `flow`, and attempts older than
        `attempts_before`. Returns (tokens, dialogues, attempts) deleted."""
        tokens = await self._db.execute(delete(TOKENS).where(TOKENS.c.expires_at < now))
        dialogues = await self._db.execute(
            delete(CONVERSATIONS)
            .where(CONVERSATIONS.c.flow == flow, CONVERSATIONS.c.expires_at < now)
        )
        attempts = await self._db.execute(
            delete(ATTEMPTS).where(ATTEMPTS.c.at < attempts_before)
        )
        return (
            tokens.rowcount or 0,  # type: ignore[attr-defined]
            dialogues.rowcount or 0,  # type: ignore[attr-defined]
            attempts.rowcount or 0,  # type: ignore[attr-defined]
        )

    # --- sign-in requests (CY Login) -----------------------------------------------------
    # Created with a chat's button, given a state when the browser leaves for the provider,
    # spent once when it comes back.

    async def create_signin(
        self, *, handle: str, chat_id: int, user_id: int, language: str, bot_username: str,
        now: datetime, expires_at: datetime,
    ) -> None:
        await self._db.execute(insert(REQUESTS).values(
            handle=handle, chat_id=chat_id, user_id=user_id, language=language,
            bot_username=bot_username[:64], created_at=now, expires_at=expires_at,
        ))

    async def signin_by_handle(self, handle: str, *, now: datetime | None = None
                               ) -> SignIn | None:
        """The request of a button's handle; with `now`, only if unspent and unexpired."""
        query = select(*_SIGNIN).where(REQUESTS.c.handle == handle)
        if now is not None:
            query = query.where(REQUESTS.c.used_at.is_(None), REQUESTS.c.expires_at > now)
        row = (await self._db.execute(query)).first()
        return None if row is None else SignIn(*row)

    async def open_signin(self, request_id: int, *, auth_date: int) -> bool:
        """Telegram's data of one press opens the page once: False if this press's data (or
        a later one's) was used already, as when a signed URL is taken from a browser's
        history."""
        outcome = await self._db.execute(
            update(REQUESTS)
            .where(REQUESTS.c.id == request_id,
                   REQUESTS.c.telegram_auth_date.is_(None)
                   | (REQUESTS.c.telegram_auth_date < auth_date))
            .values(telegram_auth_date=auth_date)
        )
        return outcome.rowcount == 1  # type: ignore[attr-defined]

    async def set_signin_state(
        self, request_id: int, *, state: str, nonce: str, code_verifier: str,
        browser_hash: str,
    ) -> None:
        """A new trip to the provider: any state handed out before for this request is
        void."""
        await self._db.execute(
            update(REQUESTS).where(REQUESTS.c.id == request_id)
            .values(state=state, nonce=nonce, code_verifier=code_verifier,
                    browser_hash=browser_hash)
        )

    async def spend_signin(self, *, state: str, now: datetime) -> SignIn | None:
        """Take the request this state belongs to, once: None if unknown, spent or
        expired."""
        row = (await self._db.execute(
            select(*_SIGNIN, REQUESTS.c.used_at, REQUESTS.c.expires_at)
            .where(REQUESTS.c.state == state).with_for_update()
        )).first()
        if row is None:
            return None
        *request, used_at, expires_at = row
        if used_at is not None or expires_at <= now:
            return None
        outcome = await self._db.execute(
            update(REQUESTS).where(REQUESTS.c.id == request[0], REQUESTS.c.used_at.is_(None))
            .values(used_at=now)
        )
        if outcome.rowcount != 1:  # type: ignore[attr-defined]
            return None
        return SignIn(*request)

    async def purge_signins(self, *, before: datetime) -> int:
        outcome = await self._db.execute(delete(REQUESTS).where(REQUESTS.c.expires_at < before))
        return int(outcome.rowcount or 0)  # type: ignore[attr-defined]
