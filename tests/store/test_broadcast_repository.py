"""BroadcastRepository on SQLite and PostgreSQL: broadcasts change state and read back as
records; segments pick the right chats in batches; a batch is queued set-based once, with
each chat's language and discretion; templates keep their versions; notices find their
recipients by identifier hash, reference or chat."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from debtbot.domain.debts import Debt, DebtKind
from debtbot.store.broadcasts import ChatSelection, Holder, RecipientChat
from debtbot.store.db import transaction
from debtbot.store.models import Chat, ChatLink, Company, DebtRow, OutboxMessage, Person
from debtbot.store.unit_of_work import Store

NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


@pytest.fixture
def store(sessions: async_sessionmaker[AsyncSession]) -> Store:
    return Store(sessions)


async def _town(sessions: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    """Eleni (chats 10 el and 11, inactive), Zeynep (chat 20 tr, discreet) who represents
    Akmi Ltd (chat 30 via the company), Andreas (no chat) and a chat 40 nobody verified."""
    async with transaction(sessions) as session:
        eleni = Person(id_type="id_card", id_hash="h-eleni", name="Ελένη")
        zeynep = Person(id_type="passport", id_hash="h-zeynep", name="Zeynep")
        andreas = Person(id_type="id_card", id_hash="h-andreas", name="Andreas")
        akmi = Company(reg_hash="h-akmi", name="Ακμή Ltd")
        session.add_all([eleni, zeynep, andreas, akmi])
        await session.flush()
        session.add_all([
            Chat(id=10, language="el"), Chat(id=11, language="en", active=False),
            Chat(id=20, language="tr", discreet=True), Chat(id=30, language="en"),
            Chat(id=40, language="en"),
        ])
        await session.flush()
        session.add_all([
            ChatLink(chat_id=10, person_id=eleni.id, verified_by="dob"),
            ChatLink(chat_id=11, person_id=eleni.id, verified_by="dob"),
            ChatLink(chat_id=20, person_id=zeynep.id, verified_by="dob"),
            ChatLink(chat_id=30, person_id=zeynep.id, company_id=akmi.id, verified_by="dob"),
        ])
        for reference, kind, person, company, status in (
            ("OCF-1", "out_of_court_fine", eleni.id, None, "outstanding"),
            ("TAX-1", "tax", None, akmi.id, "outstanding"),
            ("OCF-2", "out_of_court_fine", zeynep.id, None, "paid"),
            ("OCF-3", "out_of_court_fine", andreas.id, None, "outstanding"),
        ):
            session.add(DebtRow(source="police", reference=reference, kind=kind,
                                person_id=person, company_id=company, amount=Decimal("100"),
                                served_on=date(2026, 10, 1), status=status))
        return {"eleni": eleni.id, "zeynep": zeynep.id, "andreas": andreas.id, "akmi": akmi.id}


async def test_a_broadcast_changes_state_and_reads_back_as_a_record(store: Store) -> None:
    async with store.uow() as uow:
        first = await uow.broadcasts.add(kind="segment", segment={"kind": "all"}, template="t",
                                         bodies={"el": "Γεια"}, values={}, status="approved",
                                         created_by="staff:1", send_at=None)
        later = await uow.broadcasts.add(kind="csv", template="t", status="approved",
                                         created_by="staff:2", send_at=NOW + timedelta(days=1))
    async with store.uow() as uow:
        sending = await uow.broadcasts.change(first.id, status="sending", planned_through=40,
                                              progress_message_id=5)
        locked = await uow.broadcasts.get(first.id, for_update=True)

    assert (first.status, first.planning_done, first.progress_shown) == ("approved", False, {})
    assert (sending.status, sending.planned_through) == ("sending", 40)
    assert locked == sending
    assert [b.id for b in await store.read(lambda uow: uow.broadcasts.listed(
        status=None, limit=10))] == [later.id, first.id]
    assert await store.read(lambda uow: uow.broadcasts.due_for_planning(now=NOW)) == [first.id]
    assert await store.read(lambda uow: uow.broadcasts.sending_ids()) == []
    assert [b.id for b in await store.read(lambda uow: uow.broadcasts.with_progress_message(
        finished_since=NOW))] == [first.id]
    assert await store.read(lambda uow: uow.broadcasts.get(later.id + 1)) is None


async def test_segments_pick_active_verified_chats_in_batches(
    store: Store, sessions: async_sessionmaker[AsyncSession],
) -> None:
    await _town(sessions)

    async with store.uow() as uow:
        everyone = await uow.broadcasts.count_chats("all", None)
        taxed = await uow.broadcasts.chat_ids("debt_kind", "tax", after=None, limit=10)
        holding = await uow.broadcasts.chat_ids("overdue", None, after=None, limit=10)
        first_two = await uow.broadcasts.chat_ids("all", None, after=None, limit=2)
        rest = await uow.broadcasts.chat_ids("all", None, after=first_two[-1], limit=2)
        ends = [await uow.broadcasts.batch_end("all", None, after=after, limit=2)
                for after in (None, 20, 30)]

    assert everyone == 3  # 11 is inactive, 40 verified nobody
    assert taxed == [30]
    assert holding == [10, 30]  # Zeynep's own debt is paid
    assert (first_two, rest) == ([10, 20], [30])
    assert ends == [20, 30, None]


async def test_a_chat_holds_open_debts_through_its_links_as_domain_debts(
    store: Store, sessions: async_sessionmaker[AsyncSession],
) -> None:
    await _town(sessions)

    async with store.uow() as uow:
        held = await uow.broadcasts.open_debts_of_chats([10, 20, 30, 40])
        facts = await uow.broadcasts.recipient_facts([20, 30])

    assert sorted((chat, debt.reference) for chat, debt in held) == [(10, "OCF-1"), (30, "TAX-1")]
    assert all(isinstance(debt, Debt) for _chat, debt in held)
    assert [debt.kind for chat, debt in held if chat == 30] == [DebtKind.TAX]
    assert (facts[20].language, facts[20].discreet, facts[20].names, facts[20].debts) == (
        "tr", True, ["Zeynep"], [])
    assert facts[30].names == ["Ακμή Ltd"]
    assert [debt.reference for debt in facts[30].debts] == ["TAX-1"]


async def test_a_batch_is_queued_once_in_each_chats_language_and_discretion(
    store: Store, sessions: async_sessionmaker[AsyncSession],
) -> None:
    await _town(sessions)
    async with store.uow() as uow:
        broadcast = await uow.broadcasts.add(kind="segment", template="t", status="sending",
                                             created_by="staff:1")
    payloads = {(lang, discreet): {"text": f"{lang}{'-teaser' if discreet else ''}",
                                   "buttons": [], "disable_notification": False}
                for lang in ("el", "en", "tr") for discreet in (False, True)}
    common = {"broadcast_id": broadcast.id, "key_prefix": f"broadcast:{broadcast.id}:",
              "payloads": payloads, "default_key": ("en", False), "purpose": "broadcast",
              "priority": 5, "not_before": NOW}

    async with store.uow() as uow:
        queued = await uow.outbox.queue_for_chats(
            ChatSelection("all", after=None, through=20), **common)
    async with store.uow() as uow:
        again = await uow.outbox.queue_for_chats(
            ChatSelection("all", after=None, through=20), **common)
        by_ids = await uow.outbox.queue_for_chats(ChatSelection("all", ids=(20, 30)), **common)
    async with sessions() as session:
        rows = (await session.execute(
            select(OutboxMessage.chat_id, OutboxMessage.dedupe_key, OutboxMessage.payload,
                   OutboxMessage.status).order_by(OutboxMessage.chat_id))).all()

    assert (queued, again, by_ids) == (2, 0, 1)
    assert [(chat, key, payload["text"], status) for chat, key, payload, status in rows] == [
        (10, f"broadcast:{broadcast.id}:10", "el", "pending"),
        (20, f"broadcast:{broadcast.id}:20", "tr-teaser", "pending"),
        (30, f"broadcast:{broadcast.id}:30", "en", "pending"),
    ]
    assert await store.read(lambda uow: uow.broadcasts.open_rows(broadcast.id)) == 3

    async with store.uow() as uow:
        await uow.outbox.cancel(broadcast_id=broadcast.id, reason="broadcast cancelled")
    assert await store.read(lambda uow: uow.broadcasts.delivery_counts(broadcast.id)) == {
        "cancelled": 3}
    assert await store.read(lambda uow: uow.broadcasts.open_rows(broadcast.id)) == 0


async def test_an_edited_template_is_a_new_version_and_an_unchanged_save_is_not(
    store: Store,
) -> None:
    async with store.uow() as uow:
        first = await uow.broadcasts.save_template(name="fine", bodies={"el": "Α"}, by="staff:1")
        same = await uow.broadcasts.save_template(name="fine", bodies={"el": "Α"}, by="staff:2")
        edited = await uow.broadcasts.save_template(name="fine", bodies={"el": "Α", "en": "A"},
                                                    by="staff:3")

    current = await store.read(lambda uow: uow.broadcasts.template("fine"))
    versions = await store.read(lambda uow: uow.broadcasts.template_versions("fine"))
    assert (first, same, edited) == (1, 1, 2)
    assert current is not None
    assert (current.bodies, current.version, current.updated_by) == (
        {"el": "Α", "en": "A", "tr": ""}, 2, "staff:3")
    assert [(v.version, v.updated_by, v.bodies["en"]) for v in versions] == [
        (2, "staff:3", "A"), (1, "staff:1", "")]
    assert [t.name for t in await store.read(lambda uow: uow.broadcasts.templates())] == ["fine"]
    assert await store.read(lambda uow: uow.broadcasts.template("none")) is None


async def test_notices_find_their_recipients_and_are_recorded(
    store: Store, sessions: async_sessionmaker[AsyncSession],
) -> None:
    town = await _town(sessions)
    eleni = Holder("person", town["eleni"], "Ελένη")
    andreas = Holder("person", town["andreas"], "Andreas")
    akmi = Holder("company", town["akmi"], "Ακμή Ltd")

    async with store.uow() as uow:
        by_hash = await uow.broadcasts.holder_by_hash(id_hash=["old", "h-eleni"], company=False)
        company = await uow.broadcasts.holder_by_hash(id_hash="h-akmi", company=True)
        in_chats = [await uow.broadcasts.holders_for_chat(chat) for chat in (10, 30, 40)]
        [(debt, holder)] = await uow.broadcasts.debts_by_reference(reference="TAX-1",
                                                                   source="police")
        eleni_chats = await uow.broadcasts.chats_for_holders([eleni])
        reach = [await uow.broadcasts.linked_chats([h]) for h in (eleni, andreas)]
        number = await uow.broadcasts.add_notice(
            key="k1", template="fine", template_version=2, subject=eleni.subject,
            created_by="staff:1", created_at=NOW, chats=1, queued=1)

    assert (by_hash, company) == (eleni, akmi)
    assert in_chats == [[eleni], [akmi], []]  # a representative's link names the company
    assert (debt.reference, debt.kind, debt.amount, holder) == (
        "TAX-1", DebtKind.TAX, Decimal("100.00"), akmi)
    assert eleni_chats == [RecipientChat(10, "el", False)]  # 11 is inactive
    assert reach == [(2, 1), (0, 0)]
    assert await store.read(lambda uow: uow.broadcasts.notice_by_key("k1")) == number
    notice = await store.read(lambda uow: uow.broadcasts.notice(number))
    assert notice is not None and (notice.key, notice.subject, notice.created_at) == (
        "k1", f"person:{town['eleni']}", NOW)
    assert [n.id for n in await store.read(lambda uow: uow.broadcasts.notices(limit=5))] == [
        number]


async def test_a_sent_payload_is_read_back_only_for_its_chat(
    store: Store, sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with transaction(sessions) as session:
        session.add(OutboxMessage(dedupe_key="notice:k1:10", chat_id=10, purpose="notice",
                                  priority=4, payload={"text": "teaser", "details": "full"},
                                  status="sent", not_before=NOW))

    async with store.uow() as uow:
        mine = await uow.broadcasts.sent_payload(dedupe_key="notice:k1:10", chat_id=10)
        theirs = await uow.broadcasts.sent_payload(dedupe_key="notice:k1:10", chat_id=11)

    assert (mine, theirs) == ({"text": "teaser", "details": "full"}, None)
