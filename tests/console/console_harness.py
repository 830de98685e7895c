"""The staff console end to end: the real aiohttp server (API + console), the real bot
polling the local Bot API server, the real outbox sender, and Debian's Chromium driven
headless by Playwright.

Chromium comes from the system (`apt-get install chromium`: /usr/bin/chromium, or
DEBTBOT_TEST_CHROMIUM); without it these tests are skipped with the reason (failed in CI).
Screenshots of the main pages go to test-artifacts/console/ (ignored by git).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from debtbot.devtools import ptb
from debtbot.devtools.botapi import DEFAULT_TOKEN, FakeBotApi
from debtbot.domain.identifiers import identifier_hash, normalise_identifier
from debtbot.http.app import build_http_app, start_http_server
from debtbot.services import notices, staff
from debtbot.services.deps import Deps
from debtbot.services.staff import CLI_ACTOR
from debtbot.settings import Settings
from debtbot.store.models import Chat, ChatLink, DebtRow, Person
from debtbot.telegram.application import build_application
from debtbot.telegram.sender import build_sender, sender_bot

HASH_KEY = "test-hash-key"
# Today at 12:00 in Nicosia (not quiet hours): rows carry the database's own time, so the
# dashboard's 30 days include them.
NOON = datetime.now(UTC).replace(hour=10, minute=0, second=0, microsecond=0)
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"
OPERATOR, SUPERVISOR, SECOND, ADMIN = 7001, 7002, 7003, 7004
CITIZEN, GREEK_CITIZEN = 7100, 7101


def chromium_path() -> str | None:
    wanted = os.environ.get("DEBTBOT_TEST_CHROMIUM") or shutil.which("chromium") or shutil.which(
        "chromium-browser")
    return wanted if wanted and Path(wanted).exists() else None


class Clock:
    def __init__(self, now: datetime = NOON) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def hashed(id_type: str, number: str) -> str:
    return identifier_hash(normalise_identifier(id_type, number), HASH_KEY)


@dataclass
class Console:
    url: str
    deps: Deps
    botapi: FakeBotApi
    clock: Clock
    browser: Any
    contexts: list[Any] = field(default_factory=list)

    async def new_page(self, *, javascript: bool = True, locale: str = "en-GB") -> Any:
        context = await self.browser.new_context(
            java_script_enabled=javascript, locale=locale, accept_downloads=True,
            viewport={"width": 1280, "height": 900},
        )
        self.contexts.append(context)
        return await context.new_page()

    async def link_from_bot(self, user_id: int) -> str:
        await self.botapi.user_sends(user_id, "/console")
        [reply] = await self.botapi.wait_for_messages(user_id)
        found = re.search(r"(http://\S+/console/login\?token=\S+)", reply.text)
        assert found, reply.text
        return found.group(1)

    async def signed_in(self, user_id: int, **options: Any) -> Any:
        page = await self.new_page(**options)
        await page.goto(await self.link_from_bot(user_id))
        await page.get_by_role("button", name=re.compile("Sign in|Είσοδος")).click()
        await page.wait_for_url(f"{self.url}/console")
        return page


async def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


async def _seed(deps: Deps) -> None:
    for user_id, role in ((OPERATOR, "operator"), (SUPERVISOR, "supervisor"),
                          (SECOND, "supervisor"), (ADMIN, "admin")):
        await staff.add_staff(deps, actor=CLI_ACTOR, telegram_user_id=user_id,
                              name={OPERATOR: "Olga Operator", SUPERVISOR: "Sofia Supervisor",
                                    SECOND: "Stelios Supervisor", ADMIN: "Anna Admin"}[user_id],
                              role=role)
    await notices.save_template(deps, actor=CLI_ACTOR, name="pay", bodies={
        "el": "Αγαπητέ/ή {name}, η κλήση {reference} ({amount}) λήγει στις {deadline}.",
        "en": "Dear {name}, notice {reference} ({amount}) is due by {deadline}.",
    })
    async with deps.sessions() as session, session.begin():
        people = [
            Person(id_type="id_card", id_hash=hashed("id_card", "1234567"), name="Maria O'Brien"),
            Person(id_type="id_card", id_hash=hashed("id_card", "2345678"), name="Νίκος Παπάς"),
            Person(id_type="id_card", id_hash=hashed("id_card", "7654321"), name="Nobody Linked"),
        ]
        session.add_all(people)
        await session.flush()
        session.add_all([Chat(id=CITIZEN, language="en"), Chat(id=GREEK_CITIZEN, language="el")])
        await session.flush()
        session.add_all([
            ChatLink(chat_id=CITIZEN, person_id=people[0].id, verified_by="dob"),
            ChatLink(chat_id=GREEK_CITIZEN, person_id=people[1].id, verified_by="dob"),
        ])
        for person, reference in ((people[0], "OCF-1"), (people[1], "OCF-2"),
                                  (people[2], "OCF-3")):
            session.add(DebtRow(source="police", reference=reference, kind="out_of_court_fine",
                                authority="Cyprus Police", person_id=person.id,
                                amount=Decimal("85.00"), served_on=date(2026, 11, 10),
                                status="outstanding"))


@pytest.fixture
async def console(sessions, database_url) -> AsyncIterator[Console]:
    executable = chromium_path()
    if executable is None:
        message = "Chromium is not installed (apt-get install chromium)"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(message)
        pytest.skip(message)
    playwright_api = pytest.importorskip("playwright.async_api")
    clock = Clock()
    port = free_port()
    async with FakeBotApi(token=DEFAULT_TOKEN) as botapi:
        settings = Settings(
            _env_file=None, hash_key=HASH_KEY, database_url=database_url,
            telegram_token=botapi.token, telegram_api_url=botapi.url,
            http_port=port, webhook_url="",
        )
        deps = Deps(settings=settings, sessions=sessions, clock=clock)
        await _seed(deps)
        application = build_application(deps)
        runner = await start_http_server(build_http_app(deps), host="127.0.0.1", port=port)
        stop = asyncio.Event()
        bot = sender_bot(settings)
        try:
            async with ptb.polling(application, poll_timeout=1), bot, \
                    playwright_api.async_playwright() as playwright:
                sender = build_sender(deps, bot, poll_seconds=0.1)
                sending = asyncio.create_task(sender.run(stop))
                browser = await playwright.chromium.launch(executable_path=executable)
                found = Console(settings.public_url, deps, botapi, clock, browser)
                try:
                    yield found
                finally:
                    for context in found.contexts:
                        with contextlib.suppress(Exception):
                            await context.close()
                    await browser.close()
                    stop.set()
                    await sending
        finally:
            await runner.cleanup()
