"""The same conversation in polling and webhook mode, across two application instances on
one database, and what the user sees when something breaks inside."""

from __future__ import annotations

import logging
from datetime import date

import pytest
from citizen_harness import (
    BORN,
    ID_CARD,
    Clock,
    add_debt,
    add_person,
    link_count,
    make_deps,
    press,
    running,
    say,
    share_contact,
)

from debtbot.services.deps import Deps
from debtbot.store.db import create_engine, session_factory

CHAT = 5601


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def deps(botapi, sessions, database_url, clock):
    return make_deps(botapi, sessions, database_url, clock)


@pytest.mark.parametrize("mode", ["polling", "webhook"])
async def test_full_conversation_from_first_contact_to_pay_button(botapi, deps, sessions, mode):
    person_id = await add_person(sessions)
    await add_debt(sessions, reference="OC-1", person_id=person_id, served_on=date(2026, 11, 1))
    async with running(deps, botapi, mode=mode):
        await say(botapi, CHAT, "/start", language_code="el")
        await press(botapi, CHAT, "Για τον εαυτό μου")
        await press(botapi, CHAT, "Κυπριακό δελτίο ταυτότητας")
        await say(botapi, CHAT, ID_CARD)
        await say(botapi, CHAT, BORN)
        await share_contact(botapi, CHAT)
        [report] = await say(botapi, CHAT, "/debts")
    assert report.text.startswith("Έχετε 1 εκκρεμή οφειλή.")
    assert report.button_texts == ["Πληρωμή 100,00\xa0€ · OC-1", "Λεπτομέρειες · OC-1"]
    if mode == "webhook":
        assert botapi.counters["webhook_deliveries"] >= 6
        assert not botapi.calls_to("getUpdates")


async def test_two_instances_on_one_database_continue_one_conversation(
    botapi, deps, sessions, database_url, clock
):
    await add_person(sessions)
    # A second instance: its own application, engine and sessions, the same database.
    engine = create_engine(database_url)
    other = Deps(settings=deps.settings, sessions=session_factory(engine), clock=clock)
    try:
        async with running(deps, botapi, mode="polling"):
            await say(botapi, CHAT, "/start")
            await press(botapi, CHAT, "Myself")
        async with running(other, botapi, mode="webhook"):
            await press(botapi, CHAT, "Cypriot identity card")
            await say(botapi, CHAT, ID_CARD)
        async with running(deps, botapi, mode="polling"):
            await say(botapi, CHAT, BORN)
            done = await share_contact(botapi, CHAT)
    finally:
        await engine.dispose()
    assert done.text.startswith("Thank you. This chat is now linked to Andreas Georgiou.")
    assert await link_count(sessions, CHAT) == 1


async def test_an_internal_failure_gets_a_short_apology_and_logs_no_user_data(
    botapi, deps, tmp_path, caplog
):
    # A database that cannot be opened: every service call fails inside the handler.
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/missing/dir/db.sqlite3")
    broken = Deps(settings=deps.settings, sessions=session_factory(engine), clock=deps.clock)
    caplog.set_level(logging.WARNING)
    try:
        async with running(broken, botapi):
            [reply] = await say(botapi, CHAT, "1234567 23/11/1980", language_code="tr")
    finally:
        await engine.dispose()
    assert reply.text == "Üzgünüz, bizden kaynaklanan bir sorun oluştu. Lütfen biraz sonra yeniden deneyin."
    logged = caplog.text
    # The database is unreachable: told once as an outage, not a traceback per update.
    assert "lost the " in logged
    assert "(OperationalError: unable to open database file); carrying on" in logged
    assert "Traceback" not in logged
    assert "1234567" not in logged and "23/11/1980" not in logged
