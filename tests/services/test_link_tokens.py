"""Deep-link tokens a government portal mints for a citizen already logged in there."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from citizen_seed import Clock, add_company, add_person, make_deps
from sqlalchemy import func, select

from debtbot.domain.identifiers import InvalidIdentifier
from debtbot.services import chats
from debtbot.services.link_tokens import TokenInvalid, read_link_token
from debtbot.services.verify_identity import (
    Outcome,
    Step,
    VerificationReply,
    mint_link_token,
    redeem_link_token,
    start_verification,
    submit_text,
)
from debtbot.settings import Settings
from debtbot.store.models import AuditEntry, ChatLink, UsedLinkToken

CHAT = 5001
START_PARAMETER = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def deps(sessions, database_url, clock):
    return make_deps(sessions, database_url, clock)


def mint(deps, id_type="id_card", number="1234567", **kwargs):
    return mint_link_token(
        deps.settings, id_type=id_type, id_number=number, now=deps.clock(), **kwargs
    )


def test_token_fits_telegrams_start_parameter(deps):
    for id_type, number in [("id_card", "1234567"), ("passport", "K99887766"),
                            ("company_reg", "HE 123456")]:
        token = mint(deps, id_type, number)
        assert START_PARAMETER.match(token), token
        assert len(token) <= 64


def test_each_token_is_different_and_carries_no_identity_number(deps):
    first, second = mint(deps), mint(deps)
    assert first != second
    assert "1234567" not in first


def test_minting_for_a_malformed_identifier_is_refused(deps):
    with pytest.raises(InvalidIdentifier):
        mint(deps, "id_card", "not a number")


async def test_token_links_the_chat_in_one_step_even_with_a_phone_on_file(deps, sessions):
    await add_person(sessions, name="Andreas Georgiou", phone="+35799123456")

    reply = await redeem_link_token(deps, chat_id=CHAT, token=mint(deps))

    assert reply == VerificationReply(Outcome.VERIFIED, display_name="Andreas Georgiou")
    async with sessions() as session:
        assert await session.scalar(select(ChatLink.verified_by)) == "token"
    assert (await chats.get_chat(deps, chat_id=CHAT)).verified


async def test_company_token_links_the_company(deps, sessions):
    await add_company(sessions, number="HE 123456", name="Lemesos Trading Ltd")
    reply = await redeem_link_token(deps, chat_id=CHAT, token=mint(deps, "company_reg", "HE123456"))
    assert reply == VerificationReply(Outcome.VERIFIED, display_name="Lemesos Trading Ltd")
    view = await chats.get_chat(deps, chat_id=CHAT)
    assert [i.holder_type for i in view.identities] == ["company"]


async def test_token_is_single_use(deps, sessions):
    await add_person(sessions)
    token = mint(deps)
    assert (await redeem_link_token(deps, chat_id=CHAT, token=token)).outcome is Outcome.VERIFIED

    reply = await redeem_link_token(deps, chat_id=CHAT + 1, token=token)

    assert reply == VerificationReply(Outcome.TOKEN_INVALID)
    assert await chats.get_chat(deps, chat_id=CHAT + 1) is None
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(UsedLinkToken)) == 1


async def test_the_same_chat_opening_the_link_twice_is_told_it_is_already_linked(deps, sessions):
    await add_person(sessions)
    token = mint(deps)
    await redeem_link_token(deps, chat_id=CHAT, token=token)
    reply = await redeem_link_token(deps, chat_id=CHAT, token=token)
    assert reply == VerificationReply(Outcome.ALREADY_LINKED, display_name="Andreas Georgiou")


async def test_expired_token_is_refused(deps, sessions, clock):
    await add_person(sessions)
    token = mint(deps)  # 15 minutes by default
    clock.advance(minutes=15)
    assert (await redeem_link_token(deps, chat_id=CHAT, token=token)).outcome is (
        Outcome.TOKEN_INVALID
    )
    assert await chats.get_chat(deps, chat_id=CHAT) is None


async def test_token_lifetime_can_be_chosen_when_minting(deps, sessions, clock):
    await add_person(sessions)
    token = mint(deps, ttl=timedelta(hours=2))
    clock.advance(minutes=119)
    assert (await redeem_link_token(deps, chat_id=CHAT, token=token)).outcome is Outcome.VERIFIED


def flip(token: str, index: int) -> str:
    replacement = "A" if token[index] != "A" else "B"
    return token[:index] + replacement + token[index + 1 :]


@pytest.mark.parametrize("index", [0, 5, 20, 30, 40, -1])
async def test_tampered_token_is_refused(deps, sessions, index):
    await add_person(sessions)
    token = mint(deps)
    assert (await redeem_link_token(deps, chat_id=CHAT, token=flip(token, index))).outcome is (
        Outcome.TOKEN_INVALID
    )
    assert (await chats.get_chat(deps, chat_id=CHAT)) is None


async def test_token_spelled_with_other_spare_bits_is_refused(deps, sessions):
    await add_person(sessions)
    token = mint(deps)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(token[-1])
    # 41 bytes: the last character carries 4 bits of data and 2 spare bits.
    respelled = token[:-1] + alphabet[last ^ 0b01]
    assert (await redeem_link_token(deps, chat_id=CHAT, token=respelled)).outcome is (
        Outcome.TOKEN_INVALID
    )
    assert (await redeem_link_token(deps, chat_id=CHAT, token=token)).outcome is Outcome.VERIFIED


async def test_token_signed_with_another_key_is_refused(deps, sessions):
    await add_person(sessions)
    forged = mint_link_token(
        Settings(hash_key="someone-elses-key"), id_type="id_card", id_number="1234567",
        now=deps.clock(),
    )
    assert (await redeem_link_token(deps, chat_id=CHAT, token=forged)).outcome is (
        Outcome.TOKEN_INVALID
    )


@pytest.mark.parametrize("junk", ["", "x" * 65, "<script>", "a b", "\U0001f600", "AAAA"])
async def test_junk_start_parameter_is_refused(deps, junk):
    assert (await redeem_link_token(deps, chat_id=CHAT, token=junk)).outcome is (
        Outcome.TOKEN_INVALID
    )


def test_read_link_token_says_why_a_token_is_refused(deps, clock):
    token = mint(deps)
    assert read_link_token(deps.settings, token, now=clock.now).holder == "person"
    with pytest.raises(TokenInvalid) as expired:
        read_link_token(deps.settings, token, now=clock.now + timedelta(hours=1))
    assert expired.value.reason == "expired"
    with pytest.raises(TokenInvalid) as forged:
        read_link_token(deps.settings, flip(token, 20), now=clock.now)
    assert forged.value.reason == "forged"


async def test_token_for_someone_not_in_the_registry_links_nothing(deps, sessions):
    reply = await redeem_link_token(deps, chat_id=CHAT, token=mint(deps, number="7654321"))
    assert reply == VerificationReply(Outcome.NOT_MATCHED)
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(ChatLink)) == 0


async def test_token_works_in_a_chat_locked_for_failed_guesses(deps, sessions):
    await add_person(sessions)
    for _ in range(5):
        await start_verification(deps, chat_id=CHAT)
        from debtbot.services.verify_identity import (
            choose_holder,
            choose_id_type,
            submit_contact,
        )

        await choose_holder(deps, chat_id=CHAT, holder="person")
        await choose_id_type(deps, chat_id=CHAT, id_type="id_card")
        await submit_text(deps, chat_id=CHAT, text="1234567")
        await submit_text(deps, chat_id=CHAT, text="01/01/1970")
        await submit_contact(
            deps, chat_id=CHAT, phone="+35799555555", contact_user_id=1, sender_user_id=1
        )
    assert (await start_verification(deps, chat_id=CHAT)).outcome is Outcome.LOCKED

    assert (await redeem_link_token(deps, chat_id=CHAT, token=mint(deps))).outcome is (
        Outcome.VERIFIED
    )


async def test_token_ends_a_dialogue_under_way(deps, sessions):
    await add_person(sessions)
    assert (await start_verification(deps, chat_id=CHAT)).step is Step.CHOOSE_HOLDER
    await redeem_link_token(deps, chat_id=CHAT, token=mint(deps))
    assert (await submit_text(deps, chat_id=CHAT, text="x")).outcome is Outcome.NO_DIALOGUE


async def test_token_redemptions_are_audited_without_identifiers(deps, sessions):
    await add_person(sessions)
    token = mint(deps)
    await redeem_link_token(deps, chat_id=CHAT, token=token)
    await redeem_link_token(deps, chat_id=CHAT + 1, token=token)
    await redeem_link_token(deps, chat_id=CHAT + 2, token="garbage")
    async with sessions() as session:
        entries = list(await session.scalars(select(AuditEntry).order_by(AuditEntry.id)))
    assert [(e.actor, e.action, e.details["result"]) for e in entries] == [
        (f"chat:{CHAT}", "verify.token", "matched"),
        (f"chat:{CHAT + 1}", "verify.token", "used"),
        (f"chat:{CHAT + 2}", "verify.token", "malformed"),
    ]
    assert all("1234567" not in str(e.details) for e in entries)


async def test_a_full_chat_keeps_the_token_for_later(deps, sessions):
    for n in range(5):
        company_id = await add_company(sessions, number=f"HE {n + 1}", name=f"C{n}")
        async with sessions() as session, session.begin():
            from debtbot.store.chats import ChatRepository

            chats = ChatRepository(session)
            await chats.ensure(CHAT, language="en")
            await chats.link_company(CHAT, company_id=company_id, verified_by="notice")
    await add_person(sessions)
    token = mint(deps)
    assert (await redeem_link_token(deps, chat_id=CHAT, token=token)).outcome is (
        Outcome.TOO_MANY_IDENTITIES
    )
    assert (await redeem_link_token(deps, chat_id=CHAT + 1, token=token)).outcome is (
        Outcome.VERIFIED
    )


def test_debtbot_link_token_prints_a_deep_link_for_the_portal(tmp_path, monkeypatch):
    import asyncio

    from typer.testing import CliRunner

    from debtbot.cli import app
    from debtbot.store.db import create_engine
    from debtbot.store.models import Base

    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.sqlite3'}"

    async def create() -> None:
        engine = create_engine(url)
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        await engine.dispose()

    asyncio.run(create())
    monkeypatch.setenv("DEBTBOT_DATABASE_URL", url)
    monkeypatch.setenv("DEBTBOT_HASH_KEY", "cli-key")

    result = CliRunner().invoke(
        app, ["link-token", "--number", "1234567", "--bot", "@debtbot_cy"]
    )

    assert result.exit_code == 0, result.output
    link = result.stdout.strip().splitlines()[0]
    prefix = "https://t.me/debtbot_cy?start="
    assert link.startswith(prefix)
    claim = read_link_token(
        Settings(hash_key="cli-key"), link.removeprefix(prefix), now=datetime.now(UTC)
    )
    assert claim.holder == "person"
    bad = CliRunner().invoke(app, ["link-token", "--number", "<b>"])
    assert bad.exit_code == 2
