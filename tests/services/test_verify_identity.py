"""Proving who you are: the dialogue, the guard against guessing, and its audit trail."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
from citizen_seed import Clock, add_company, add_debt, add_person, hashed, make_deps
from sqlalchemy import event, func, select

from debtbot.services import chats
from debtbot.services.verify_identity import (
    Outcome,
    Step,
    VerificationReply,
    cancel_verification,
    choose_holder,
    choose_id_type,
    start_verification,
    submit_contact,
    submit_text,
)
from debtbot.store.dialogues import DialogueRepository
from debtbot.store.models import AuditEntry, ChatLink, Conversation, VerificationAttempt

CHAT = 1001


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def deps(sessions, database_url, clock):
    return make_deps(sessions, database_url, clock)


async def at_id_number(deps, chat_id=CHAT, id_type="id_card"):
    assert await start_verification(deps, chat_id=chat_id) == VerificationReply(
        Outcome.ASK, step=Step.CHOOSE_HOLDER
    )
    assert (await choose_holder(deps, chat_id=chat_id, holder="person")).step is Step.CHOOSE_ID_TYPE
    reply = await choose_id_type(deps, chat_id=chat_id, id_type=id_type)
    assert reply == VerificationReply(Outcome.ASK, step=Step.ID_NUMBER)


async def at_date_of_birth(deps, chat_id=CHAT, number="1234567", id_type="id_card"):
    await at_id_number(deps, chat_id, id_type)
    reply = await submit_text(deps, chat_id=chat_id, text=number)
    assert reply == VerificationReply(Outcome.ASK, step=Step.DATE_OF_BIRTH)


OWN = 77
PHONE = "+35799123456"


async def share(deps, chat_id=CHAT, phone=PHONE):
    """The sender's own contact, as Telegram's request-contact button sends it."""
    return await submit_contact(
        deps, chat_id=chat_id, phone=phone, contact_user_id=OWN, sender_user_id=OWN
    )


async def attempt(deps, chat_id, number, born, phone=PHONE):
    """Number, date of birth, own contact: only then is anything checked."""
    await at_date_of_birth(deps, chat_id, number)
    reply = await submit_text(deps, chat_id=chat_id, text=born)
    if reply != VerificationReply(Outcome.ASK, step=Step.CONTACT):
        return reply
    return await share(deps, chat_id, phone)


async def count(sessions, model, *conditions) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*conditions)))


async def conversation_snapshot(sessions, chat_id=CHAT):
    async with sessions() as session:
        state = await DialogueRepository(session).conversation(chat_id)
    return state


# --- happy paths --------------------------------------------------------------------------


async def test_person_without_phone_on_file_is_verified_by_id_number_and_date_of_birth(
    deps, sessions
):
    person_id = await add_person(sessions, name="Andreas Georgiou")
    await at_date_of_birth(deps)

    # Nothing is checked before the contact, which everyone is asked for.
    reply = await submit_text(deps, chat_id=CHAT, text="23/11/1980")
    assert reply == VerificationReply(Outcome.ASK, step=Step.CONTACT)
    reply = await share(deps, phone="+35799000000")  # no phone on file: any own number

    assert reply == VerificationReply(Outcome.VERIFIED, display_name="Andreas Georgiou")
    view = await chats.get_chat(deps, chat_id=CHAT)
    assert view is not None and view.verified
    assert [(i.holder_type, i.display_name) for i in view.identities] == [
        ("person", "Andreas Georgiou")
    ]
    async with sessions() as session:
        link = await session.scalar(select(ChatLink))
    assert (link.person_id, link.company_id, link.verified_by) == (person_id, None, "dob")
    assert await conversation_snapshot(sessions) is None  # the dialogue is over


@pytest.mark.parametrize("typed", ["23/11/1980", "23.11.1980", "23-11-1980", "1980-11-23"])
async def test_date_of_birth_is_accepted_in_each_of_the_four_forms(deps, sessions, typed):
    await add_person(sessions)
    await at_date_of_birth(deps)
    assert (await submit_text(deps, chat_id=CHAT, text=typed)).step is Step.CONTACT
    assert (await share(deps)).outcome is Outcome.VERIFIED


@pytest.mark.parametrize("typed", ["12-34 567", " 1234567 ", "1 234 567"])
async def test_identity_number_with_spaces_or_dashes_is_normalised_and_accepted(
    deps, sessions, typed
):
    await add_person(sessions, number="1234567")
    await at_date_of_birth(deps, number=typed)
    assert (await submit_text(deps, chat_id=CHAT, text="23.11.1980")).step is Step.CONTACT
    assert (await share(deps)).outcome is Outcome.VERIFIED


async def test_arc_and_passport_holders_verify_with_their_document(deps, sessions):
    await add_person(sessions, id_type="passport", number="K1234567", name="Jane Smith")
    await at_date_of_birth(deps, number="k 123 4567", id_type="passport")
    await submit_text(deps, chat_id=CHAT, text="1980-11-23")
    reply = await share(deps)
    assert reply == VerificationReply(Outcome.VERIFIED, display_name="Jane Smith")


async def test_person_with_phone_on_file_must_also_share_their_own_matching_contact(
    deps, sessions
):
    await add_person(sessions, phone="+35799123456")
    await at_date_of_birth(deps)

    assert await submit_text(deps, chat_id=CHAT, text="23/11/1980") == VerificationReply(
        Outcome.ASK, step=Step.CONTACT
    )
    assert await chats.get_chat(deps, chat_id=CHAT) is None or not (
        await chats.get_chat(deps, chat_id=CHAT)
    ).verified
    # Telegram sends the contact's number without the "+".
    reply = await submit_contact(
        deps, chat_id=CHAT, phone="35799123456", contact_user_id=77, sender_user_id=77
    )
    assert reply == VerificationReply(Outcome.VERIFIED, display_name="Andreas Georgiou")
    async with sessions() as session:
        assert (await session.scalar(select(ChatLink.verified_by))) == "contact"


async def test_contact_typed_in_national_form_matches_with_plus_357_by_default(deps, sessions):
    await add_person(sessions, phone="+35799123456")
    await at_date_of_birth(deps)
    await submit_text(deps, chat_id=CHAT, text="23/11/1980")
    reply = await submit_contact(
        deps, chat_id=CHAT, phone="99 123456", contact_user_id=5, sender_user_id=5
    )
    assert reply.outcome is Outcome.VERIFIED


async def test_someone_elses_contact_is_refused_and_changes_nothing(deps, sessions):
    await add_person(sessions, phone="+35799123456")
    await at_date_of_birth(deps)
    await submit_text(deps, chat_id=CHAT, text="23/11/1980")
    before = await conversation_snapshot(sessions)
    attempts = await count(sessions, VerificationAttempt)

    for other in (78, None):
        reply = await submit_contact(
            deps, chat_id=CHAT, phone="+35799123456", contact_user_id=other, sender_user_id=77
        )
        assert reply == VerificationReply(Outcome.CONTACT_NOT_OWN, step=Step.CONTACT)

    assert await conversation_snapshot(sessions) == before
    assert await count(sessions, VerificationAttempt) == attempts
    assert await count(sessions, ChatLink) == 0


async def test_own_contact_with_another_number_is_a_failed_attempt(deps, sessions):
    await add_person(sessions, phone="+35799123456")
    await at_date_of_birth(deps)
    await submit_text(deps, chat_id=CHAT, text="23/11/1980")

    reply = await submit_contact(
        deps, chat_id=CHAT, phone="+35799000000", contact_user_id=77, sender_user_id=77
    )

    # The same answer as a wrong number or date, and no dead end: the dialogue waits at the
    # contact step with what was typed.
    assert reply == VerificationReply(Outcome.NOT_MATCHED, step=Step.CONTACT)
    assert await count(sessions, ChatLink) == 0
    assert await count(sessions, VerificationAttempt, VerificationAttempt.succeeded.is_(False)) == 1
    assert (await conversation_snapshot(sessions)).step == "contact"


async def test_sharing_the_right_contact_after_a_mismatch_verifies(deps, sessions):
    await add_person(sessions, phone="+35799123456")
    await at_date_of_birth(deps)
    await submit_text(deps, chat_id=CHAT, text="23/11/1980")
    assert (await share(deps, phone="+35799000000")).outcome is Outcome.NOT_MATCHED

    reply = await share(deps, phone="+35799123456")

    assert reply == VerificationReply(Outcome.VERIFIED, display_name="Andreas Georgiou")
    assert await conversation_snapshot(sessions) is None


async def test_company_is_verified_by_registration_number_and_any_notice_reference(
    deps, sessions
):
    company_id = await add_company(sessions, number="HE 123456", name="Lemesos Trading Ltd")
    await add_debt(sessions, reference="OCF-2026-0042", company_id=company_id, status="paid")
    await start_verification(deps, chat_id=CHAT)
    assert await choose_holder(deps, chat_id=CHAT, holder="company") == VerificationReply(
        Outcome.ASK, step=Step.COMPANY_NUMBER
    )
    # Typed on a Greek keyboard, with a dash; the reference in lower case.
    assert await submit_text(deps, chat_id=CHAT, text="ΗΕ-123456") == VerificationReply(
        Outcome.ASK, step=Step.NOTICE_REFERENCE
    )
    reply = await submit_text(deps, chat_id=CHAT, text="ocf-2026-0042")

    assert reply == VerificationReply(Outcome.VERIFIED, display_name="Lemesos Trading Ltd")
    view = await chats.get_chat(deps, chat_id=CHAT)
    assert [(i.holder_type, i.display_name) for i in view.identities] == [
        ("company", "Lemesos Trading Ltd")
    ]


async def test_company_with_another_companys_notice_reference_is_not_matched(deps, sessions):
    ours = await add_company(sessions, number="HE 123456")
    theirs = await add_company(sessions, number="HE 999999", name="Other Ltd")
    await add_debt(sessions, reference="OURS-1", company_id=ours)
    await add_debt(sessions, reference="THEIRS-1", company_id=theirs)
    await start_verification(deps, chat_id=CHAT)
    await choose_holder(deps, chat_id=CHAT, holder="company")
    await submit_text(deps, chat_id=CHAT, text="HE123456")

    reply = await submit_text(deps, chat_id=CHAT, text="THEIRS-1")

    assert reply == VerificationReply(Outcome.NOT_MATCHED, step=Step.COMPANY_NUMBER)
    assert await count(sessions, ChatLink) == 0


async def test_representative_verifying_themselves_does_not_get_their_companies(
    deps, sessions
):
    from debtbot.store.models import CompanyRepresentative

    person_id = await add_person(sessions)
    company_id = await add_company(sessions)
    async with sessions() as session, session.begin():
        session.add(CompanyRepresentative(company_id=company_id, person_id=person_id))
    await attempt(deps, CHAT, "1234567", "23/11/1980")

    view = await chats.get_chat(deps, chat_id=CHAT)
    assert [i.holder_type for i in view.identities] == ["person"]


async def test_verifying_an_identity_the_chat_already_holds_says_already_linked(deps, sessions):
    await add_person(sessions)
    assert (await attempt(deps, CHAT, "1234567", "23/11/1980")).outcome is Outcome.VERIFIED
    reply = await attempt(deps, CHAT, "1234567", "23/11/1980")
    assert reply == VerificationReply(Outcome.ALREADY_LINKED, display_name="Andreas Georgiou")
    assert await count(sessions, ChatLink) == 1


async def test_a_chat_holds_at_most_five_identities(deps, sessions):
    for n in range(5):
        company_id = await add_company(sessions, number=f"HE {100 + n}", name=f"Company {n}")
        await add_debt(sessions, reference=f"REF-{n}", company_id=company_id)
        await start_verification(deps, chat_id=CHAT)
        await choose_holder(deps, chat_id=CHAT, holder="company")
        await submit_text(deps, chat_id=CHAT, text=f"HE{100 + n}")
        assert (await submit_text(deps, chat_id=CHAT, text=f"REF-{n}")).outcome is Outcome.VERIFIED

    assert await start_verification(deps, chat_id=CHAT) == VerificationReply(
        Outcome.TOO_MANY_IDENTITIES
    )
    assert len((await chats.get_chat(deps, chat_id=CHAT)).identities) == 5


# --- bad input ----------------------------------------------------------------------------

RTL = "\u202e\u05de\u05e1\u05e4\u05e8 1234567"
EMOJI = "1234567 \U0001f600"


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        ("31/02/1990", "impossible_date"),
        ("29/02/1990", "impossible_date"),
        ("24/11/2026", "future_date"),  # the clock says 23 November 2026
        ("2030-01-01", "future_date"),
        ("x" * 4096, "too_long"),
        ("\U0001f382 23/11/1980", "bad_date"),
        ("\u202e0891/11/32", "bad_date"),
        ("<b>23/11/1980</b>", "bad_date"),
        ("23/11/1980' OR '1'='1", "bad_date"),
        ("yesterday", "bad_date"),
        ("", "not_text"),
        (None, "not_text"),
    ],
)
async def test_bad_date_of_birth_changes_nothing(deps, sessions, typed, problem):
    await add_person(sessions)
    await at_date_of_birth(deps)
    before = await conversation_snapshot(sessions)

    reply = await submit_text(deps, chat_id=CHAT, text=typed)

    assert reply == VerificationReply(
        Outcome.INVALID_INPUT, step=Step.DATE_OF_BIRTH, problem=problem
    )
    assert await conversation_snapshot(sessions) == before
    assert await count(sessions, VerificationAttempt) == 0
    assert await count(sessions, AuditEntry) == 0


@pytest.mark.parametrize(
    ("typed", "problem"),
    [
        ("9" * 4096, "too_long"),
        (EMOJI, "bad_id_card"),
        (RTL, "bad_id_card"),
        ("<script>alert(1)</script>", "bad_id_card"),
        ("1'; DROP TABLE persons; --", "bad_id_card"),
        ("12ab", "bad_id_card"),
        ("23/11/1980", "date_first"),
        ("   ", "not_text"),
    ],
)
async def test_bad_identity_number_changes_nothing(deps, sessions, typed, problem):
    await at_id_number(deps)
    before = await conversation_snapshot(sessions)

    reply = await submit_text(deps, chat_id=CHAT, text=typed)

    id_type = "id_card" if problem in ("bad_id_card", "date_first") else None
    assert reply == VerificationReply(
        Outcome.INVALID_INPUT, step=Step.ID_NUMBER, problem=problem, id_type=id_type
    )
    assert await conversation_snapshot(sessions) == before
    assert await count(sessions, VerificationAttempt) == 0


async def test_bad_notice_reference_changes_nothing(deps, sessions):
    await start_verification(deps, chat_id=CHAT)
    await choose_holder(deps, chat_id=CHAT, holder="company")
    await submit_text(deps, chat_id=CHAT, text="HE 1")
    before = await conversation_snapshot(sessions)
    for typed in ("<img src=x>", "REF'--", "\U0001f600"):
        reply = await submit_text(deps, chat_id=CHAT, text=typed)
        assert reply.outcome is Outcome.INVALID_INPUT and reply.problem == "bad_identifier"
    assert await conversation_snapshot(sessions) == before


async def test_unknown_button_choice_is_invalid_input(deps):
    await start_verification(deps, chat_id=CHAT)
    reply = await choose_holder(deps, chat_id=CHAT, holder="robot")
    assert reply == VerificationReply(
        Outcome.INVALID_INPUT, step=Step.CHOOSE_HOLDER, problem="bad_choice"
    )


async def test_text_without_a_dialogue_gets_no_dialogue(deps):
    assert (await submit_text(deps, chat_id=CHAT, text="1234567")).outcome is Outcome.NO_DIALOGUE


async def test_dialogue_expires_after_thirty_minutes(deps, clock):
    await at_id_number(deps)
    clock.advance(minutes=31)
    assert (await submit_text(deps, chat_id=CHAT, text="1234567")).outcome is Outcome.NO_DIALOGUE
    assert (await start_verification(deps, chat_id=CHAT)).step is Step.CHOOSE_HOLDER


async def test_cancel_ends_the_dialogue(deps, sessions):
    await at_id_number(deps)
    assert (await cancel_verification(deps, chat_id=CHAT)).outcome is Outcome.NO_DIALOGUE
    assert await conversation_snapshot(sessions) is None
    assert (await submit_text(deps, chat_id=CHAT, text="1234567")).outcome is Outcome.NO_DIALOGUE


async def test_typing_words_at_a_button_step_asks_again(deps):
    await start_verification(deps, chat_id=CHAT)
    reply = await submit_text(deps, chat_id=CHAT, text="person")
    assert reply == VerificationReply(
        Outcome.INVALID_INPUT, step=Step.CHOOSE_HOLDER, problem="not_a_number"
    )


# --- the guard against guessing -----------------------------------------------------------


async def test_unknown_number_wrong_date_and_wrong_phone_get_the_same_replies_and_queries(
    deps, sessions, engine
):
    await add_person(sessions, number="1234567")  # no phone on file
    await add_person(sessions, number="7777777", phone=PHONE, name="Maria Ioannou")
    statements: list[str] = []

    def remember(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    async def traced(chat_id, number, born, phone):
        statements.clear()
        event.listen(engine.sync_engine, "before_cursor_execute", remember)
        try:
            await at_date_of_birth(deps, chat_id, number)
            asked = await submit_text(deps, chat_id=chat_id, text=born)
            reply = await share(deps, chat_id, phone)
        finally:
            event.remove(engine.sync_engine, "before_cursor_execute", remember)
        return asked, reply, list(statements)

    cases = [
        await traced(2001, "1234567", "01/01/1970", PHONE),  # wrong date
        await traced(2002, "7654321", "23/11/1980", PHONE),  # unknown number
        await traced(2003, "7777777", "23/11/1980", "+35799000000"),  # phone not the one on file
        await traced(2004, "7777777", "01/01/1970", PHONE),  # phone on file, wrong date
    ]

    # Everyone is asked for the contact, whether or not a phone is on file; then one answer.
    assert {asked for asked, _, _ in cases} == {VerificationReply(Outcome.ASK, step=Step.CONTACT)}
    assert {reply for _, reply, _ in cases} == {
        VerificationReply(Outcome.NOT_MATCHED, step=Step.CONTACT)
    }
    assert len({tuple(sql) for _, _, sql in cases}) == 1
    async with sessions() as session:
        rows = (await session.execute(select(AuditEntry.action, AuditEntry.details))).all()
    assert [(a, d["result"], d["method"]) for a, d in rows] == [
        ("verify.person", "not_matched", "dob")
    ] * 4


async def test_unknown_company_and_wrong_notice_reference_get_the_same_reply_and_queries(
    deps, sessions, engine
):
    company_id = await add_company(sessions, number="HE 123456")
    await add_debt(sessions, reference="REAL-1", company_id=company_id)
    statements: list[str] = []

    def remember(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    async def traced(chat_id, number):
        await start_verification(deps, chat_id=chat_id)
        await choose_holder(deps, chat_id=chat_id, holder="company")
        await submit_text(deps, chat_id=chat_id, text=number)
        statements.clear()
        event.listen(engine.sync_engine, "before_cursor_execute", remember)
        try:
            reply = await submit_text(deps, chat_id=chat_id, text="GUESS-1")
        finally:
            event.remove(engine.sync_engine, "before_cursor_execute", remember)
        return reply, list(statements)

    wrong_reference, wrong_reference_sql = await traced(2101, "HE123456")
    unknown, unknown_sql = await traced(2102, "HE654321")

    assert wrong_reference == unknown == VerificationReply(
        Outcome.NOT_MATCHED, step=Step.COMPANY_NUMBER
    )
    assert wrong_reference_sql == unknown_sql


async def test_five_failures_from_one_chat_lock_its_verification_for_24_hours(
    deps, sessions, clock
):
    await add_person(sessions, number="1234567")
    replies = []
    for n in range(5):
        # Unknown identifiers and a wrong date of birth count alike.
        number = "1234567" if n % 2 else f"555000{n}"
        replies.append(await attempt(deps, CHAT, number, "01/01/1970"))
        clock.advance(minutes=10)

    assert [r.outcome for r in replies[:4]] == [Outcome.NOT_MATCHED] * 4
    locked_at = clock.now - timedelta(minutes=10)
    assert replies[4] == VerificationReply(
        Outcome.LOCKED, locked_until=locked_at + timedelta(hours=24)
    )
    # Locked: even the right answer is not looked at.
    assert (await start_verification(deps, chat_id=CHAT)).outcome is Outcome.LOCKED
    clock.advance(hours=23)
    assert (await start_verification(deps, chat_id=CHAT)).outcome is Outcome.LOCKED
    clock.now = locked_at + timedelta(hours=24, seconds=1)
    assert (await attempt(deps, CHAT, "1234567", "23/11/1980")).outcome is Outcome.VERIFIED


async def test_four_failures_do_not_lock_and_old_failures_drop_out_of_the_window(
    deps, sessions, clock
):
    await add_person(sessions)
    for _ in range(4):
        await attempt(deps, CHAT, "1234567", "01/01/1970")
    clock.advance(hours=24, seconds=1)
    for _ in range(4):
        assert (await attempt(deps, CHAT, "1234567", "01/01/1970")).outcome is (
            Outcome.NOT_MATCHED
        )


async def test_ten_failures_against_one_identifier_from_any_chats_lock_that_identifier(
    deps, sessions, clock
):
    await add_person(sessions, number="1234567")
    await add_person(sessions, number="7777777", name="Maria Ioannou")
    for chat_id in range(3000, 3009):
        assert (await attempt(deps, chat_id, "1234567", "01/01/1970")).outcome is (
            Outcome.NOT_MATCHED
        )
        clock.advance(minutes=1)
    tenth = await attempt(deps, 3009, "1234567", "01/01/1970")
    assert tenth == VerificationReply(Outcome.LOCKED, locked_until=clock.now + timedelta(hours=24))

    # A fresh chat with the right date of birth is refused as soon as it names the number...
    await at_id_number(deps, 3100)
    reply = await submit_text(deps, chat_id=3100, text="1234567")
    assert reply.outcome is Outcome.LOCKED
    # ...while other identifiers are not affected.
    assert (await attempt(deps, 3100, "7777777", "23/11/1980")).outcome is Outcome.VERIFIED


async def test_an_unknown_identifier_is_locked_after_ten_failures_just_like_a_known_one(
    deps, clock
):
    for chat_id in range(4000, 4009):
        await attempt(deps, chat_id, "8888888", "01/01/1970")
    assert (await attempt(deps, 4009, "8888888", "01/01/1970")).outcome is Outcome.LOCKED


async def test_every_attempt_is_audited_with_a_hash_prefix_and_no_identifiers(deps, sessions):
    await add_person(sessions, number="1234567", phone="+35799123456")
    await attempt(deps, CHAT, "1234567", "01/01/1970")
    await attempt(deps, CHAT, "1234567", "23/11/1980")

    async with sessions() as session:
        entries = list(await session.scalars(select(AuditEntry).order_by(AuditEntry.id)))
        attempts = list(await session.scalars(select(VerificationAttempt)))
    assert [(e.actor, e.action, e.details["method"], e.details["result"]) for e in entries] == [
        ("chat:1001", "verify.person", "dob", "not_matched"),
        ("chat:1001", "verify.person", "dob", "matched"),
    ]
    full_hash = hashed("id_card", "1234567")
    assert {e.details["id_hash"] for e in entries} == {full_hash[:12]}
    assert {a.id_hash for a in attempts} == {full_hash}
    dumped = json.dumps([e.details for e in entries]) + " ".join(e.note for e in entries)
    for secret in ("1234567", "1980", "99123456", full_hash):
        assert secret not in dumped
    async with sessions() as session:
        rows = (await session.execute(select(Conversation.data))).all()
    assert all("1234567" not in json.dumps(data) for (data,) in rows)


async def test_dialogue_state_never_holds_the_identity_number(deps, sessions):
    await at_date_of_birth(deps, number="1234567")
    state = await conversation_snapshot(sessions)
    assert state.step == "date_of_birth"
    assert "1234567" not in json.dumps(state.data)
    assert state.data["id_hash"] == hashed("id_card", "1234567")


# --- state shared between bot instances ---------------------------------------------------


async def test_another_instance_can_continue_a_dialogue_this_one_began(
    deps, sessions, engine, database_url
):
    from debtbot.store.db import create_engine, session_factory

    await add_person(sessions)
    await at_date_of_birth(deps)
    other_engine = create_engine(database_url)
    try:
        other = make_deps(session_factory(other_engine), database_url, deps.clock)
        assert (await submit_text(other, chat_id=CHAT, text="23/11/1980")).step is Step.CONTACT
        reply = await share(other)
    finally:
        await other_engine.dispose()
    assert reply.outcome is Outcome.VERIFIED


async def test_a_stale_version_cannot_overwrite_the_dialogue(deps, sessions, clock):
    await at_id_number(deps)
    async with sessions() as first, sessions() as second:
        seen_first = await DialogueRepository(first).conversation(CHAT)
        seen_second = await DialogueRepository(second).conversation(CHAT)
        assert seen_first.version == seen_second.version
        won = await DialogueRepository(first).save_conversation(
            CHAT, expected_version=seen_first.version, flow="verify",
            step="date_of_birth", data={"from": "first"}, expires_at=clock.now,
        )
        await first.commit()
        lost = await DialogueRepository(second).save_conversation(
            CHAT, expected_version=seen_second.version, flow="verify",
            step="date_of_birth", data={"from": "second"}, expires_at=clock.now,
        )
        await second.commit()
    assert (won, lost) == (True, False)
    state = await conversation_snapshot(sessions)
    assert state.data == {"from": "first"}
    assert state.version == seen_first.version + 1


async def test_two_instances_racing_on_one_chat_do_not_both_apply_a_step(
    deps, sessions, database_url
):
    from debtbot.store.db import create_engine, session_factory

    await add_person(sessions)
    await at_date_of_birth(deps)
    await submit_text(deps, chat_id=CHAT, text="23/11/1980")
    other_engine = create_engine(database_url)
    try:
        other = make_deps(session_factory(other_engine), database_url, deps.clock)
        replies = await asyncio.gather(share(deps), share(other))
    finally:
        await other_engine.dispose()

    # As if the two contacts had come one after the other: the first verifies (one attempt,
    # one link), the second then finds no dialogue.
    assert sorted(r.outcome for r in replies) == sorted([Outcome.VERIFIED, Outcome.NO_DIALOGUE])
    assert await count(sessions, VerificationAttempt) == 1
    assert await count(sessions, ChatLink) == 1
    assert await conversation_snapshot(sessions) is None


async def test_purge_drops_expired_dialogues_spent_tokens_and_old_attempts_only(
    deps, sessions, clock
):
    from debtbot.services.verify_identity import mint_link_token, purge_stale, redeem_link_token

    await add_person(sessions)
    await redeem_link_token(
        deps, chat_id=CHAT, token=mint_link_token(
            deps.settings, id_type="id_card", id_number="1234567", now=clock.now
        ),
    )
    await attempt(deps, CHAT + 1, "1234567", "01/01/1970")  # a failure, dialogue goes on
    await at_id_number(deps, CHAT + 2)
    assert await purge_stale(deps) == {
        "link_tokens": 0, "dialogues": 0, "attempts": 0, "signin_requests": 0
    }

    clock.advance(days=91)
    await at_id_number(deps, CHAT + 3)  # a fresh dialogue stays

    assert await purge_stale(deps) == {
        "link_tokens": 1, "dialogues": 2, "attempts": 2, "signin_requests": 0
    }
    assert (await conversation_snapshot(sessions, CHAT + 3)).step == "id_number"
