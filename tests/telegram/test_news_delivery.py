"""Issue #16, done when: a verified citizen whose registry record gains a camera fine has the
message at once, in their language, with the Pay button and the next deadline, and nobody
else does. The real import, the scheduler's sender, the real PTB client, the local Bot API."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from citizen_harness import ID_CARD, Clock, add_person, link_person, make_deps, press, running

from debtbot.scheduler import build_scheduler
from debtbot.services.ingest.pipeline import import_file
from debtbot.store.models import Chat
from debtbot.telegram.sender import TelegramSender, sender_bot

MORNING = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)  # 10:00 in Nicosia
CHAT, OTHER = 6301, 6302
HEADER = ("kind,source,reference,authority,holder_type,id_type,id_number,name,date_of_birth,"
          "amount,served_on")


@pytest.fixture
def deps(botapi, sessions, database_url):
    return make_deps(botapi, sessions, database_url, Clock(MORNING))


async def test_a_camera_fine_in_the_registry_file_reaches_the_holders_chat_in_greek(
    botapi, deps, sessions, tmp_path
):
    await link_person(sessions, CHAT, await add_person(sessions))
    await link_person(sessions, OTHER, await add_person(sessions, number="7654321"))
    async with sessions() as session, session.begin():
        (await session.get(Chat, CHAT)).language = "el"
    path = tmp_path / "police.csv"
    path.write_text(
        HEADER + "\n"
        f"out_of_court_fine,police,CAM-2611,Cyprus Police,person,id_card,{ID_CARD},"
        "Andreas Georgiou,1980-11-23,300,2026-11-20\n",
        encoding="utf-8",
    )

    report = await import_file(deps, path, actor="cli")

    assert report.inserted == 1 and report.news == 1
    bot = sender_bot(deps.settings)
    async with bot:
        scheduler = build_scheduler(deps, TelegramSender(bot))
        scheduler.start()
        try:
            messages = await botapi.wait_for_messages(CHAT, timeout=10)
        finally:
            scheduler.shutdown(wait=False)
            await scheduler.wait_sender_stopped()
    [message] = messages
    assert "Νέα οφειλή" in message.text and "Εξώδικο πρόστιμο" in message.text
    assert "CAM-2611" in message.text and "300,00" in message.text
    assert "Επόμενη προθεσμία" in message.text
    pay, details, calendar = message.button_texts
    assert pay.startswith("Πληρωμή") and message.button(pay)["url"].endswith("CAM-2611")
    assert details == "Λεπτομέρειες · CAM-2611" and "ημερολόγιό μου" in calendar
    assert botapi.messages(OTHER) == []

    async with running(deps, botapi):  # the detail view, one tap from the news
        shown = await press(botapi, CHAT, details)
    detail = shown[-1].text
    assert "CAM-2611" in detail and "20 Νοεμβρίου 2026" in detail  # its date of service
