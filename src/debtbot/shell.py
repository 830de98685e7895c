"""`debtbot shell`: chat with the bot in the terminal, on sample data.

Nothing here is a second code path: a local Bot API server (debtbot.devtools.botapi) runs
in-process, the real application (debtbot.telegram.application.build_application) polls it
over HTTP exactly as it polls Telegram, and the terminal plays the user. The sample
registry (debtbot/sample/debts.csv, dates moved to today) is imported into a temporary
SQLite file that is deleted on exit.

Inline buttons and reply-keyboard buttons are shown as numbered choices: type the number to
press one. Anything else is sent as a message. `:help` lists the other commands.
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
import sys
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from debtbot.settings import Settings

CHAT_ID = 100_001
QUIET = 0.35  # seconds without a new bot message before the prompt comes back
FIRST_REPLY_TIMEOUT = 10.0

HELP = """\
Type a message and press Enter to send it to the bot; commands start with / (try /start).
A number presses the button shown with that number.
  :contact PHONE   share your own contact (Telegram's "share my phone number")
  :sticker, :photo, :voice, :location   send one of those
  :edit TEXT       edit your last message
  :screen          show the whole chat again
  :help            this text;   :quit (or Ctrl-D) to leave
Everyone shares their own contact after the date of birth (press its button, type a number);
it has to be the phone on file when there is one.
Sample people (identity card unless noted, date of birth, phone on file):
  881001  14/05/1980  +35799100001    881004  19/07/1968  (no phone)
  881002  03/11/1992  +35799100002    881008  30/06/2001  (no phone)
  passport K1234567  09/09/1985  +447911123456
  company HE 123456, with the reference of one of its notices: TAX-2026-90001
Start with a verified chat at once: debtbot shell --link 881004"""

_TAGS = {"b": "\033[1m", "strong": "\033[1m", "i": "\033[3m", "em": "\033[3m", "code": "\033[36m"}


@dataclass(slots=True)
class Choice:
    label: str
    kind: str  # callback | url | contact | text
    value: str
    message_id: int | None = None


@dataclass(slots=True)
class Terminal:
    """How the shell talks to a person: lines in, lines out (tests pass their own)."""

    read: Callable[[str], Awaitable[str | None]]
    write: Callable[[str], None]
    colour: bool = False
    choices: list[Choice] = field(default_factory=list)
    last_message_id: int | None = None


def console(colour: bool | None = None) -> Terminal:
    async def read(prompt: str) -> str | None:
        try:
            return await asyncio.to_thread(input, prompt)
        except EOFError:
            return None

    return Terminal(
        read=read,
        write=lambda text: print(text, flush=True),
        colour=sys.stdout.isatty() if colour is None else colour,
    )


def _styled(raw_text: str, colour: bool) -> str:
    if not colour:
        return re.sub(r"<[^>]+>", "", raw_text).replace("&lt;", "<").replace("&gt;", ">").replace(
            "&quot;", '"'
        ).replace("&amp;", "&")

    def tag(match: re.Match[str]) -> str:
        closing, name = match.group(1), match.group(2).lower()
        if closing:
            return "\033[0m"
        return _TAGS.get(name, "")

    return html.unescape(re.sub(r"<(/?)([a-zA-Z]+)[^>]*>", tag, raw_text))


def render(messages: list[Any], keyboard: list[list[dict[str, Any]]] | None, terminal: Terminal) -> str:
    """Bot messages as text, every button a numbered choice (kept for the next input)."""
    terminal.choices = []
    blocks = []
    for message in messages:
        marker = " (edited)" if message.edited else ""
        lines = [f"bot{marker}: " + _styled(message.raw_text, terminal.colour)]
        for row in message.buttons:
            cells = []
            for button in row:
                if "url" in button:
                    choice = Choice(button["text"], "url", button["url"])
                else:
                    choice = Choice(
                        button["text"], "callback", button.get("callback_data", ""),
                        message.message_id,
                    )
                terminal.choices.append(choice)
                cells.append(f"[{len(terminal.choices)}] {button['text']}")
            lines.append("    " + "   ".join(cells))
        blocks.append("\n".join(lines))
    if keyboard:
        cells = []
        for row in keyboard:
            for button in row:
                kind = "contact" if button.get("request_contact") else "text"
                terminal.choices.append(Choice(button.get("text", ""), kind, button.get("text", "")))
                cells.append(f"[{len(terminal.choices)}] {button.get('text', '')}")
        blocks.append("keyboard: " + "   ".join(cells))
    return "\n".join(blocks)


async def _seed(deps: Any, folder: Path) -> int:
    from debtbot import sample
    from debtbot.services.ingest.pipeline import import_file
    from debtbot.store.models import Base

    engine = deps.sessions.kw["bind"]
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    today = deps.clock().astimezone(deps.settings.tz).date()
    path = sample.write(folder / "sample.csv", today)
    report = await import_file(deps, path, actor="shell", today=today)
    return report.inserted


async def run_shell(
    settings: Settings,
    *,
    language: str = "en",
    terminal: Terminal | None = None,
    link: str | None = None,
    link_id_type: str = "id_card",
    quiet: float = QUIET,
) -> None:
    """Run the bot against a local Bot API server and let the terminal play the user."""
    from debtbot.devtools import ptb
    from debtbot.devtools.botapi import FakeBotApi
    from debtbot.rulebook import load_rulebook
    from debtbot.services.deps import Deps
    from debtbot.services.link_tokens import mint_link_token
    from debtbot.store.db import create_engine, session_factory
    from debtbot.telegram.application import build_application

    terminal = terminal or console()
    logging.getLogger("httpx").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="debtbot-shell-") as folder:
        async with FakeBotApi() as api:
            url = f"sqlite+aiosqlite:///{Path(folder) / 'shell.sqlite3'}"
            shell_settings = settings.model_copy(
                update={
                    "database_url": url,
                    "telegram_api_url": api.url,
                    "telegram_token": api.token,
                    "webhook_url": "",
                }
            )
            engine = create_engine(url)
            deps = Deps(settings=shell_settings, sessions=session_factory(engine),
                        rulebook=load_rulebook(shell_settings))
            try:
                count = await _seed(deps, Path(folder))
                terminal.write(
                    f"debtbot shell: {count} sample debts in a temporary database; "
                    "the real bot runs behind a local Bot API server.\n" + HELP + "\n"
                )
                application = build_application(deps)
                async with ptb.polling(application, poll_timeout=1):
                    if link:
                        token = mint_link_token(
                            shell_settings, id_type=link_id_type, id_number=link,
                            now=datetime.now(UTC), ttl=timedelta(minutes=15),
                        )
                        await _act(api, terminal, language, f"/start {token}", quiet)
                    await _loop(api, terminal, language, quiet)
            finally:
                await engine.dispose()


LOCAL_DATABASE = "debtbot-local.sqlite3"


def local_mode_line(settings: Settings, database: str) -> str:
    return (
        "Local mode: no DEBTBOT_TELEGRAM_TOKEN is set, so debtbot runs for real against a local "
        f"Bot API server in this process, on the sample registry in {database}, with the HTTP "
        f"API on http://{settings.http_host}:{settings.http_port}. To connect a real bot, set "
        "DEBTBOT_TELEGRAM_TOKEN (from @BotFather) and DEBTBOT_HASH_KEY, and run `debtbot run` again."
    )


async def run_local(
    settings: Settings,
    *,
    terminal: Terminal | None = None,
    language: str = "en",
    folder: Path | None = None,
    quiet: float = QUIET,
) -> None:
    """`debtbot run` without a token: the whole of `debtbot run` (bot, scheduler, outbox sender,
    HTTP API) against a local Bot API server in this process, on the sample registry in a
    SQLite file of its own (never the production database), with the terminal chat in front."""
    from debtbot.app import serve
    from debtbot.devtools.botapi import FakeBotApi
    from debtbot.rulebook import load_rulebook
    from debtbot.services.deps import Deps
    from debtbot.store.db import create_engine, session_factory
    from debtbot.store.migrate import upgrade_database

    terminal = terminal or console()
    rulebook = load_rulebook(settings)  # a bad DEBTBOT_RULES_FILE stops it before anything runs
    folder = folder or Path.cwd()
    database = folder / LOCAL_DATABASE
    url = f"sqlite+aiosqlite:///{database}"
    async with FakeBotApi() as api:
        local = settings.model_copy(update={
            "database_url": url,
            "telegram_api_url": api.url,
            "telegram_token": api.token,
            "webhook_url": "",
            "env": "development",  # sample data only: the development hash key is fine here
        })
        await upgrade_database(url)
        engine = create_engine(url)
        try:
            await _import_sample(
                Deps(settings=local, sessions=session_factory(engine), rulebook=rulebook), folder
            )
        finally:
            await engine.dispose()
        stop = asyncio.Event()
        server = asyncio.create_task(serve(local, stop=stop))
        try:
            await api.wait_for(lambda: api.calls_to("getUpdates") or server.done(), timeout=30)
            if server.done():
                await server  # it failed to start: its error is the one to show
            terminal.write(local_mode_line(local, database.name) + "\n" + HELP + "\n")
            await _loop(api, terminal, language, quiet)
        finally:
            stop.set()
            await server


async def _import_sample(deps: Any, folder: Path) -> None:
    """The sample registry, dates moved to today (importing it again changes nothing)."""
    from debtbot import sample
    from debtbot.services.ingest.pipeline import import_file

    today = deps.clock().astimezone(deps.settings.tz).date()
    with tempfile.TemporaryDirectory(prefix="debtbot-sample-") as scratch:
        path = sample.write(Path(scratch) / "sample.csv", today)
        await import_file(deps, path, actor="local-mode", today=today)


async def _loop(api: Any, terminal: Terminal, language: str, quiet: float) -> None:
    while True:
        line = await terminal.read("you> ")
        if line is None:
            return
        line = line.strip()
        if not line:
            continue
        if line in (":quit", ":exit", "/quit", "/exit"):
            return
        if line == ":help":
            terminal.write(HELP)
            continue
        if line == ":screen":
            terminal.write(render(api.screen(CHAT_ID), api.reply_keyboard(CHAT_ID), terminal))
            continue
        await _act(api, terminal, language, line, quiet)


async def _act(api: Any, terminal: Terminal, language: str, line: str, quiet: float) -> None:
    if line.isdigit() and 1 <= int(line) <= len(terminal.choices):
        choice = terminal.choices[int(line) - 1]
        if choice.kind == "url":
            terminal.write(f"(opens {choice.value} in the browser: nothing reaches the bot)")
            return
        if choice.kind == "callback" and choice.message_id is not None:
            await api.user_presses(CHAT_ID, choice.message_id, choice.value, check=False)
        elif choice.kind == "contact":
            phone = await terminal.read("phone number to share: ")
            if not phone:
                return
            await api.user_shares_contact(CHAT_ID, phone.strip())
        else:
            await api.user_sends(CHAT_ID, choice.value, language_code=language)
    elif line.startswith(":contact "):
        await api.user_shares_contact(CHAT_ID, line.split(maxsplit=1)[1])
    elif line in (":sticker", ":photo", ":voice", ":location"):
        await api.user_sends_update(CHAT_ID, line[1:])
    elif line.startswith(":edit "):
        if terminal.last_message_id is None:
            terminal.write("(nothing to edit yet)")
            return
        await api.user_edits(CHAT_ID, terminal.last_message_id, line.split(maxsplit=1)[1])
    else:
        update = await api.user_sends(CHAT_ID, line, language_code=language)
        terminal.last_message_id = update.get("message", {}).get("message_id")
    await _show_replies(api, terminal, quiet)


async def _show_replies(api: Any, terminal: Terminal, quiet: float) -> None:
    try:
        await api.wait_for_messages(CHAT_ID, 1, timeout=FIRST_REPLY_TIMEOUT)
    except TimeoutError:
        terminal.write("(no answer from the bot)")
        return
    seen = -1
    while len(api.new_messages(CHAT_ID)) != seen:  # until the bot has been quiet a moment
        seen = len(api.new_messages(CHAT_ID))
        await asyncio.sleep(quiet)
    terminal.write(render(api.new_messages(CHAT_ID), api.reply_keyboard(CHAT_ID), terminal))
