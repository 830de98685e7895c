"""DialogueRepository on SQLite and PostgreSQL (the backend is DEBTBOT_TEST_DB's): a dialogue
moves on once per version, a link token is spent once however many redeem it at once, a
sign-in request is spent once, and the guard counts failures."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from debtbot.store.db import transaction
from debtbot.store.models import Company, DebtRow, Person
from debtbot.store.unit_of_work import Store

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=30)


async def test_a_dialogue_moves_on_once_per_version(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    store = Store(sessions)

    async def start(step: str) -> bool:
        async with store.uow() as uow:
            return await uow.dialogues.save_conversation(
                7, expected_version=None, flow="verify", step=step, data={"s": step},
                expires_at=LATER,
            )

    started = await asyncio.gather(start("a"), start("b"))
    state = await store.read(lambda uow: uow.dialogues.conversation(7))
    assert sorted(started) == [False, True]
    assert state is not None and state.version == 1 and state.data == {"s": state.step}

    async def move(step: str) -> bool:
        async with store.uow() as uow:
            return await uow.dialogues.save_conversation(
                7, expected_version=1, flow="verify", step=step, data={}, expires_at=LATER,
            )

    moved = await asyncio.gather(move("c"), move("d"))
    after = await store.read(lambda uow: uow.dialogues.conversation(7))
    assert sorted(moved) == [False, True]
    assert after is not None and after.version == 2 and after.expires_at == LATER

    async with store.uow() as uow:
        stale = await uow.dialogues.end_conversation(7, expected_version=1)
        ended = await uow.dialogues.end_conversation(7, expected_version=2)
    assert (stale, ended) == (False, True)
    assert await store.read(lambda uow: uow.dialogues.conversation(7)) is None


async def test_a_link_token_is_spent_once_by_concurrent_redemptions(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    store = Store(sessions)

    async def spend() -> bool:
        async with store.uow() as uow:
            return await uow.dialogues.spend_link_token("t1", used_at=NOW, expires_at=LATER)

    spent = await asyncio.gather(*(spend() for _ in range(4)))

    assert sorted(spent) == [False, False, False, True]


async def test_failures_are_counted_per_chat_and_per_identifier(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    store = Store(sessions)
    async with store.uow() as uow:
        for minutes, chat_id, succeeded in ((1, 7, False), (2, 8, False), (3, 7, True),
                                            (4, 7, False)):
            await uow.dialogues.record_attempt(
                chat_id, id_hash="h1", method="dob", succeeded=succeeded,
                at=NOW + timedelta(minutes=minutes),
            )

    by_chat = await store.read(
        lambda uow: uow.dialogues.chat_failures_since(7, since=NOW)
    )
    by_hash = await store.read(
        lambda uow: uow.dialogues.identifier_failures_since("h1", since=NOW)
    )
    assert by_chat == [NOW + timedelta(minutes=1), NOW + timedelta(minutes=4)]
    assert by_hash == [NOW + timedelta(minutes=m) for m in (1, 2, 4)]


async def test_the_registry_is_looked_up_by_hash_and_prefix(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with transaction(sessions) as session:
        await session.execute(insert(Person), [
            {"id": 1, "id_type": "id_card", "id_hash": "abc1", "name": "Ελένη", "key_id": "k1",
             "date_of_birth_hash": "b1", "phone_hash": None},
            {"id": 2, "id_type": "id_card", "id_hash": "abc2", "name": "Zeynep", "key_id": "k0"},
        ])
        await session.execute(insert(Company), [
            {"id": 5, "reg_hash": "ff01", "name": "Ακμή", "key_id": "k1"},
        ])
        await session.execute(insert(DebtRow), [
            {"source": "tax", "reference": "N-77", "kind": "tax", "authority": "Tax",
             "company_id": 5, "amount": 1, "status": "paid", "post_clearance": False,
             "enforcement_suspended": False, "instalments_on_time": False},
        ])
    store = Store(sessions)

    async def look(uow):  # type: ignore[no-untyped-def]
        return (
            await uow.dialogues.person_by_hashes(["abc2", "abc1"]),
            await uow.dialogues.person_by_hash_prefix("abc"),
            await uow.dialogues.person_by_hash_prefix("abc1"),
            await uow.dialogues.company_by_hash_prefix("ff"),
            await uow.dialogues.company_with_notice(reg_hash="ff01", reference="n-77"),
            await uow.dialogues.company_with_notice(reg_hash="ff01", reference="N-78"),
        )

    first, ambiguous, eleni, company, noticed, wrong = await store.read(look)
    assert first is not None and (first.id, first.key_id) == (2, "k0")
    assert ambiguous is None
    assert eleni is not None and (eleni.name, eleni.date_of_birth_hash) == ("Ελένη", "b1")
    assert company == noticed and company is not None and company.name == "Ακμή"
    assert wrong is None


async def test_a_signin_request_is_spent_once(sessions: async_sessionmaker[AsyncSession]) -> None:
    store = Store(sessions)
    async with store.uow() as uow:
        await uow.dialogues.create_signin(
            handle="h", chat_id=7, user_id=7, language="el", bot_username="bot", now=NOW,
            expires_at=LATER,
        )
    request = await store.read(lambda uow: uow.dialogues.signin_by_handle("h", now=NOW))
    assert request is not None and (request.chat_id, request.language) == (7, "el")
    async with store.uow() as uow:
        opened = [await uow.dialogues.open_signin(request.id, auth_date=a) for a in (5, 5, 6)]
        await uow.dialogues.set_signin_state(
            request.id, state="s", nonce="n", code_verifier="v", browser_hash="b"
        )
    assert opened == [True, False, True]

    async def spend():  # type: ignore[no-untyped-def]
        async with store.uow() as uow:
            return await uow.dialogues.spend_signin(state="s", now=NOW)

    spent = await asyncio.gather(spend(), spend())
    taken = [one for one in spent if one is not None]
    assert len(taken) == 1 and (taken[0].nonce, taken[0].browser_hash) == ("n", "b")
    assert await store.read(lambda uow: uow.dialogues.signin_by_handle("h", now=NOW)) is None
    assert await store.read(lambda uow: uow.dialogues.signin_by_handle("h")) is not None
    async with store.uow() as uow:
        assert await uow.dialogues.purge_signins(before=LATER + timedelta(seconds=1)) == 1


async def test_stale_dialogues_tokens_and_attempts_are_purged(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    store = Store(sessions)
    async with store.uow() as uow:
        await uow.dialogues.spend_link_token("old", used_at=NOW, expires_at=NOW)
        await uow.dialogues.spend_link_token("new", used_at=NOW, expires_at=LATER)
        await uow.dialogues.save_conversation(
            1, expected_version=None, flow="verify", step="x", data={}, expires_at=NOW
        )
        await uow.dialogues.save_conversation(
            2, expected_version=None, flow="verify", step="x", data={}, expires_at=LATER
        )
        await uow.dialogues.record_attempt(1, id_hash=None, method="dob", succeeded=False,
                                           at=NOW - timedelta(days=9))
    async with store.uow() as uow:
        purged = await uow.dialogues.purge_stale(
            now=NOW + timedelta(minutes=1), flow="verify", attempts_before=NOW
        )
    assert purged == (1, 1, 1)
