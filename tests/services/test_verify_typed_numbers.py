"""The dialogue without dead ends: a number typed straight after /start, its kind read from
its shape; a date where the number belongs; digits of any script; /start and /cancel in the
middle of the dialogue."""

from __future__ import annotations

import pytest
from citizen_seed import add_company, add_debt, add_person, make_deps
from sqlalchemy import select

from debtbot.services.verify_identity import (
    Outcome,
    Step,
    cancel_verification,
    choose_id_type,
    restart_if_under_way,
    start_verification,
    submit_contact,
    submit_text,
)
from debtbot.store.models import Conversation, VerificationAttempt

CHAT = 2101


@pytest.fixture
def deps(sessions, database_url):
    return make_deps(sessions, database_url)


async def share_own_contact(deps):
    """The last step for everyone (#15): the sender's own contact, then all is checked."""
    return await submit_contact(
        deps, chat_id=CHAT, phone="+35799123456", contact_user_id=77, sender_user_id=77
    )


async def _dialogue(sessions) -> Conversation | None:
    async with sessions() as session:
        return await session.get(Conversation, CHAT)


async def test_an_id_number_typed_after_start_asks_only_which_document_then_the_birth_date(
    deps, sessions
):
    await add_person(sessions)
    await start_verification(deps, chat_id=CHAT)
    reply = await submit_text(deps, chat_id=CHAT, text="1234567")
    assert (reply.outcome, reply.step, reply.choices) == (
        Outcome.ASK, Step.CHOOSE_ID_TYPE, ("id_card", "arc")
    )
    stored = await _dialogue(sessions)
    assert "1234567" not in str(stored.data)  # only keyed hashes are kept
    assert (await choose_id_type(deps, chat_id=CHAT, id_type="id_card")).step is Step.DATE_OF_BIRTH
    asked = await submit_text(deps, chat_id=CHAT, text="23/11/1980")
    assert (asked.outcome, asked.step) == (Outcome.ASK, Step.CONTACT)
    done = await share_own_contact(deps)
    assert done.outcome is Outcome.VERIFIED


async def test_a_passport_or_company_number_typed_after_start_needs_no_question(
    deps, sessions
):
    await add_person(sessions, id_type="passport", number="K00123456")
    company_id = await add_company(sessions)
    await add_debt(sessions, reference="TX-1", company_id=company_id)
    await start_verification(deps, chat_id=CHAT)
    assert (await submit_text(deps, chat_id=CHAT, text="k00123456")).step is Step.DATE_OF_BIRTH
    await start_verification(deps, chat_id=CHAT)
    reply = await submit_text(deps, chat_id=CHAT, text="ΗΕ 123456")
    assert reply.step is Step.NOTICE_REFERENCE
    assert (await submit_text(deps, chat_id=CHAT, text="TX-1")).outcome is Outcome.VERIFIED


@pytest.mark.parametrize("step", ["start", "number"])
async def test_a_date_where_the_number_belongs_is_answered_first_the_number(
    deps, sessions, step
):
    await start_verification(deps, chat_id=CHAT)
    if step == "number":
        from debtbot.services.verify_identity import choose_holder

        await choose_holder(deps, chat_id=CHAT, holder="person")
        await choose_id_type(deps, chat_id=CHAT, id_type="id_card")
    before = await _dialogue(sessions)
    reply = await submit_text(deps, chat_id=CHAT, text="23/11/1980")
    assert reply.outcome is Outcome.INVALID_INPUT and reply.problem == "date_first"
    after = await _dialogue(sessions)
    assert (after.step, after.version) == (before.step, before.version)


async def test_arabic_indic_and_full_width_digits_verify_like_ascii(deps, sessions):
    await add_person(sessions)
    for number, born in [("١٢٣٤٥٦٧", "٢٣/١١/١٩٨٠"), ("１２３４５６７", "２３/１１/１９８０")]:
        await start_verification(deps, chat_id=CHAT)
        await submit_text(deps, chat_id=CHAT, text=number)
        await choose_id_type(deps, chat_id=CHAT, id_type="id_card")
        await submit_text(deps, chat_id=CHAT, text=born)
        reply = await share_own_contact(deps)
        assert reply.outcome in (Outcome.VERIFIED, Outcome.ALREADY_LINKED)
    async with sessions() as session:
        attempts = (await session.scalars(select(VerificationAttempt))).all()
    assert attempts and all(attempt.succeeded for attempt in attempts)


async def test_a_second_start_mid_dialogue_begins_again_and_cancel_leaves(deps, sessions):
    await start_verification(deps, chat_id=CHAT)
    await submit_text(deps, chat_id=CHAT, text="1234567")
    again = await start_verification(deps, chat_id=CHAT)
    assert again.restarted and again.step is Step.CHOOSE_HOLDER
    assert (await restart_if_under_way(deps, chat_id=CHAT)).restarted
    left = await cancel_verification(deps, chat_id=CHAT)
    assert left.step is Step.CHOOSE_HOLDER
    assert await _dialogue(sessions) is None
    assert (await cancel_verification(deps, chat_id=CHAT)).step is None
    assert await restart_if_under_way(deps, chat_id=CHAT) is None
