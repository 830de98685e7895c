"""News the day it happens (issue #16): a new debt told at once to the chats linked to its
holder, a change a citizen cares about, a debt closed, a threshold passed. Planned in the
ingest's own transaction under unique keys; nobody else hears of it. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from debtbot.domain.identifiers import identifier_hash, normalise_identifier
from debtbot.services.deliver_outbox import compose
from debtbot.services.deps import Deps
from debtbot.services.ingest.pipeline import import_file
from debtbot.services.ingest.upsert import cancel_debts
from debtbot.services.plan_reminders import plan_reminders
from debtbot.settings import Settings
from debtbot.store.models import Chat, ChatLink, DebtRow, OutboxMessage, Person
from debtbot.store.unit_of_work import Store

HASH_KEY = "test-hash-key"
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # 12:00 in Nicosia
HEADER = (
    "kind,source,reference,authority,holder_type,id_type,id_number,name,date_of_birth,"
    "amount,served_on,status"
)
MARIA = "881002"
JOHN = "881005"


def row(reference: str, *, id_number: str = MARIA, amount: str = "100", served_on: str =
        "2026-11-19", status: str = "", kind: str = "out_of_court_fine",
        authority: str = "Cyprus Police") -> str:
    return ",".join([kind, "police", reference, authority, "person", "id_card", id_number,
                     "Μαρία Κωνσταντίνου", "1992-11-03", amount, served_on, status])


class Clock:
    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def deps(sessions: async_sessionmaker[AsyncSession], clock: Clock) -> Deps:
    return Deps(settings=Settings(hash_key=HASH_KEY), sessions=sessions, clock=clock)


@pytest.fixture
def importer(deps: Deps, tmp_path: Path):  # type: ignore[no-untyped-def]
    count = 0

    async def run(*lines: str, batch_size: int = 5000):  # type: ignore[no-untyped-def]
        nonlocal count
        count += 1
        path = tmp_path / f"file{count}.csv"
        path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
        return await import_file(deps, path, actor="test", batch_size=batch_size)

    return run


async def link(
    sessions: async_sessionmaker[AsyncSession], chat_id: int, id_number: str = MARIA, *,
    language: str = "en", **chat: object,
) -> None:
    """A chat verified as the holder of `id_number` (who must be on file already)."""
    id_hash = identifier_hash(normalise_identifier("id_card", id_number), HASH_KEY)
    async with sessions() as session, session.begin():
        person_id = await session.scalar(select(Person.id).where(Person.id_hash == id_hash))
        if person_id is None:
            person = Person(id_type="id_card", id_hash=id_hash, name="someone")
            session.add(person)
            await session.flush()
            person_id = person.id
        if await session.get(Chat, chat_id) is None:
            session.add(Chat(id=chat_id, language=language, **chat))
            await session.flush()
        session.add(ChatLink(chat_id=chat_id, person_id=person_id, verified_by="dob"))


async def news(sessions: async_sessionmaker[AsyncSession]) -> list[OutboxMessage]:
    async with sessions() as session:
        rows = await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        return [r for r in rows if r.payload.get("news")]


async def test_a_new_debt_is_told_at_once_in_the_chats_language_with_pay_and_deadline(
    sessions, importer
) -> None:
    await link(sessions, 42, language="el")
    await link(sessions, 43, JOHN)  # someone else, linked too: hears nothing of Maria's fine

    report = await importer(row("OC-1"))

    assert report.inserted == 1
    [message] = await news(sessions)
    assert message.chat_id == 42 and message.status == "pending"
    assert message.purpose == "reminder" and message.payload["milestone"] == "news.new"
    text = message.payload["text"]
    assert "Νέα οφειλή" in text and "Εξώδικο πρόστιμο" in text and "OC-1" in text
    assert "Cyprus Police" in text and "100,00" in text
    # Served 19 November: payable since 23 November (note 1: 72 hours after the end of the day
    # of service); day 30 is Saturday 19 December, which Cap. 1 art. 31 does not move.
    assert "19 Δεκεμβρίου 2026" in text  # the last day before the surcharge
    [[pay], [details, calendar]] = message.payload["buttons"]
    assert pay["url"].startswith("https://") and "OC-1" in pay["url"]
    # The detail view and the calendar file, as /debts offers them (callback data included).
    debt_id = message.debt_id
    assert details == {"text": "Λεπτομέρειες · OC-1", "callback_data": f"debt:show:{debt_id}"}
    assert calendar["callback_data"] == f"debt:ics:{debt_id}"
    assert message.not_before == NOW


async def test_the_same_file_again_sends_nothing_more(sessions, importer) -> None:
    await link(sessions, 42)
    await importer(row("OC-1"), row("OC-2"))

    again = await importer(row("OC-1"), row("OC-2"))

    assert again.unchanged == 2
    assert len(await news(sessions)) == 2


async def test_a_chat_linked_after_the_debt_was_created_gets_no_new_debt_message(
    sessions, importer
) -> None:
    await importer(row("OC-1"))
    await link(sessions, 42)

    await importer(row("OC-1"))  # yesterday's file again
    await importer(row("OC-2"))

    assert [m.payload["text"].count("OC-") for m in await news(sessions)] == [1]
    [message] = await news(sessions)
    assert "OC-2" in message.payload["text"]


async def test_ten_new_fines_in_one_import_go_out_as_one_message_per_chat(
    sessions, importer, deps
) -> None:
    await link(sessions, 42)
    await link(sessions, 44, JOHN)

    await importer(*[row(f"OC-{n}") for n in range(10)], row("OC-J", id_number=JOHN))

    assert len(await news(sessions)) == 11
    async with Store(sessions).uow() as uow:
        claimed = await uow.outbox.claim(worker="w", now=NOW, limit=50)
    groups = compose(claimed)

    assert sorted((group.chat_id, len(group.rows)) for group in groups) == [(42, 10), (44, 1)]
    [maria] = [group for group in groups if group.chat_id == 42]
    assert all(f"OC-{n}" in maria.message.text for n in range(10))
    assert len(maria.message.buttons) == 10  # a Pay button per fine, in one message
    assert maria.message.text.count("/reminders") == 1  # the footer once


async def test_discreet_mode_names_neither_kind_nor_amount(sessions, importer) -> None:
    await link(sessions, 42, discreet=True)

    await importer(row("OC-1"))

    [message] = await news(sessions)
    text = message.payload["text"]
    assert "100" not in text and "fine" not in text.lower() and "OC-1" not in text
    assert message.payload["buttons"][0][0]["callback_data"].startswith("debt:show:")


async def test_a_discreet_chat_gets_one_teaser_for_many_new_debts(sessions, importer) -> None:
    await link(sessions, 42, discreet=True)

    await importer(*[row(f"OC-{n}") for n in range(5)])

    rows = await news(sessions)
    assert sorted(m.status for m in rows) == ["cancelled"] * 4 + ["pending"]  # folded in one
    [message] = [m for m in rows if m.status == "pending"]
    assert "€" not in message.payload["text"] and "OC-" not in message.payload["text"]
    assert message.payload["buttons"][0][0]["callback_data"] == "debts:page:1"


async def test_a_big_file_leaves_its_news_to_the_next_sweep_which_words_it_once(
    sessions, importer, deps, monkeypatch
) -> None:
    import debtbot.services.plan_news as plan_news

    monkeypatch.setattr(plan_news, "WORD_AT_ONCE", 2)
    await link(sessions, 42, language="tr")

    report = await importer(*[row(f"OC-{n}") for n in range(3)])

    assert report.news == 3
    assert [m.status for m in await news(sessions)] == ["held"] * 3  # never sent as they are
    swept = await plan_reminders(deps)
    again = await plan_reminders(deps)
    rows = await news(sessions)
    assert swept.news == 3 and again.news == 0
    assert [m.status for m in rows] == ["pending"] * 3 and rows[0].not_before == NOW
    assert all("Yeni borç" in m.payload["text"] for m in rows)
    assert [m.payload["text"].count("/reminders") for m in rows] == [0, 0, 1]  # one footer


async def test_muted_kind_news_off_paused_and_blocked_chats_hear_nothing(
    sessions, importer, clock
) -> None:
    await link(sessions, 41, muted_kinds=["out_of_court_fine"])
    await link(sessions, 42, news_enabled=False)
    await link(sessions, 43, snoozed_until=NOW + timedelta(days=3))
    await link(sessions, 44, active=False)
    await link(sessions, 45, muted_kinds=["tax"])

    await importer(row("OC-1"))

    assert [m.chat_id for m in await news(sessions)] == [45]


async def test_quiet_hours_hold_the_news_until_nine(sessions, importer, clock) -> None:
    clock.now = datetime(2026, 11, 23, 21, 30, tzinfo=UTC)  # 23:30 in Nicosia
    await link(sessions, 42)

    await importer(row("OC-1"))

    [message] = await news(sessions)
    assert message.not_before == datetime(2026, 11, 24, 7, 0, tzinfo=UTC)  # 09:00 Nicosia


async def test_a_debt_created_and_closed_in_one_file_is_no_news(sessions, importer) -> None:
    await link(sessions, 42)

    # A file names each debt once: the closing line is refused, and the news of the first
    # stays unsent (the file contradicts itself), whether or not the lines share a batch.
    one = await importer(row("OC-1"), row("OC-1", status="cancelled"))
    two = await importer(row("OC-2"), row("OC-2", status="withdrawn"), batch_size=1)

    assert (one.rejected, two.rejected, one.news, two.news) == (1, 1, 0, 0)
    assert [m.status for m in await news(sessions)] == ["cancelled", "cancelled"]


async def test_a_debt_closed_in_a_later_batch_before_its_news_went_out_is_no_news(
    sessions, importer
) -> None:
    await link(sessions, 42)

    await importer(row("OC-1"), row("OC-2"), batch_size=1)
    await importer(row("OC-1", status="withdrawn"))  # the news of OC-1 is still queued

    rows = await news(sessions)
    assert [(m.payload["milestone"], m.status) for m in rows] == [
        ("news.new", "cancelled"), ("news.new", "pending"),
    ]


async def test_a_file_import_holds_its_news_until_it_has_finished(
    sessions, importer, deps
) -> None:
    await link(sessions, 42)
    seen: list[datetime] = []

    async def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        result = await original(*args, **kwargs)
        async with sessions() as session:
            seen.extend(await session.scalars(select(OutboxMessage.not_before)))
        return result

    import debtbot.services.ingest.pipeline as ingest

    original = ingest.upsert_debts
    ingest.upsert_debts = spy
    try:
        await importer(row("OC-1"), row("OC-2"), row("OC-3"), batch_size=1)
    finally:
        ingest.upsert_debts = original

    assert seen and all(moment > NOW for moment in seen)  # held while the file is read
    assert [m.not_before for m in await news(sessions)] == [NOW] * 3  # then released


async def test_a_debt_moved_to_another_person_is_told_to_the_new_holder_only(
    sessions, importer
) -> None:
    await link(sessions, 42)  # Maria
    await link(sessions, 43, JOHN)
    await importer(row("OC-1"))  # Maria's (news to 42, still pending)

    await importer(row("OC-1", id_number=JOHN))  # the registry says: John's

    rows = await news(sessions)
    assert [(m.chat_id, m.status) for m in rows] == [(42, "cancelled"), (43, "pending")]
    assert "OC-1" in rows[1].payload["text"] and rows[1].payload["milestone"] == "news.new"


async def test_changes_a_citizen_cares_about_are_told_once_each(sessions, importer) -> None:
    await importer(row("OC-1"), row("OC-2", served_on=""), row("OC-3"), row("OC-4"),
                   row("OC-5"), row("OC-6"))
    await link(sessions, 42)

    await importer(
        row("OC-1", amount="80"),  # corrected
        row("OC-2", served_on="2026-11-21"),  # service recorded: the clock starts
        row("OC-3", status="cancelled"),
        row("OC-4", status="withdrawn"),
        row("OC-5", status="paid"),
        row("OC-6", authority="Cyprus Police HQ"),  # an internal detail: no news
    )
    again = await importer(row("OC-1", amount="80"))  # the same correction again

    assert again.unchanged == 1
    texts = {m.payload["milestone"] + ":" + m.payload["text"].split("\n")[0]: m
             for m in await news(sessions)}
    assert len(texts) == 5
    amount = next(m for k, m in texts.items() if k.startswith("news.amount"))
    assert "€100.00" in amount.payload["text"] and "€80.00" in amount.payload["text"]
    assert amount.payload["buttons"]
    served = next(m for k, m in texts.items() if k.startswith("news.served"))
    assert "Date of service recorded" in served.payload["text"]
    assert "21 November 2026" in served.payload["text"]
    closed = sorted(m.payload["text"] for k, m in texts.items() if k.startswith("news.closed"))
    assert any("Good news" in t and "cancelled" in t and "OC-3" in t for t in closed)
    assert any("Good news" in t and "withdrawn" in t and "OC-4" in t for t in closed)
    assert any("paid" in t and "OC-5" in t for t in closed)
    assert all(m.debt_id is None for k, m in texts.items() if k.startswith("news.closed"))


async def test_a_cancellation_through_the_api_is_good_news(sessions, importer, deps) -> None:
    await importer(row("OC-1"))
    await link(sessions, 42, language="tr")

    assert await cancel_debts(deps, [("police", "OC-1")], actor="test") == 1

    [message] = await news(sessions)
    assert "OC-1" in message.payload["text"] and message.status == "pending"


# -------------------------------------------------------------------------- thresholds


async def _fine_served(sessions, importer, served: date) -> int:  # type: ignore[no-untyped-def]
    await importer(row("OC-T", served_on=served.isoformat()))
    await link(sessions, 42)
    async with sessions() as session:
        return int(await session.scalar(select(DebtRow.id).where(DebtRow.reference == "OC-T")))


async def test_a_threshold_passed_today_is_told_once(sessions, importer, deps, clock) -> None:
    clock.now = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    debt = await _fine_served(sessions, importer, date(2026, 11, 2))
    await plan_reminders(deps)
    clock.now = datetime(2026, 12, 2, 22, 5, tzinfo=UTC)  # 00:05 on 3 December: day 31

    report = await plan_reminders(deps)
    again = await plan_reminders(deps)

    [message] = [m for m in await news(sessions) if m.payload["milestone"].startswith("passed")]
    assert report.news == 1 and again.news == 0
    assert message.dedupe_key == f"reminder:{debt}:passed.surcharge:0:42"
    text = message.payload["text"]
    assert "Surcharge" in text and "3 December 2026" in text and "€150.00" in text
    assert "could not tell you" not in text and not message.payload["late"]
    assert message.not_before == datetime(2026, 12, 3, 7, 0, tzinfo=UTC)  # after quiet hours


async def test_a_threshold_passed_while_down_is_told_late_once(
    sessions, importer, deps, clock
) -> None:
    clock.now = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    await _fine_served(sessions, importer, date(2026, 11, 2))
    await plan_reminders(deps)
    clock.now = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)  # down from 20 Nov to 5 Dec

    await plan_reminders(deps)
    clock.now += timedelta(days=1)
    await plan_reminders(deps)

    [message] = [m for m in await news(sessions) if m.payload["milestone"].startswith("passed")]
    assert message.payload["late"] is True
    assert "could not tell you on the day" in message.payload["text"]


@pytest.mark.parametrize("language", ["el", "en", "tr"])
def test_amounts_are_written_exactly_as_babel_writes_them(language: str) -> None:
    import random
    from decimal import Decimal

    from debtbot.i18n import translator
    from debtbot.services.news_text import _money

    t = translator(language)
    rng = random.Random(16)  # noqa: S311
    amounts = [Decimal("0"), Decimal("0.05"), Decimal("999.99"), Decimal("1000"),
               Decimal("1234567.89")] + [Decimal(rng.randrange(10**10)) / 100 for _ in range(2000)]
    assert [_money(t, a) for a in amounts] == [t.money(a) for a in amounts]


async def test_a_chat_with_news_off_is_not_told_of_a_threshold(
    sessions, importer, deps, clock
) -> None:
    clock.now = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    await importer(row("OC-T", served_on="2026-11-02"))
    await link(sessions, 42, news_enabled=False)
    await plan_reminders(deps)
    clock.now = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)

    report = await plan_reminders(deps)

    assert report.news == 0 and await news(sessions) == []
