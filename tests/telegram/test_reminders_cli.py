"""`debtbot reminders preview` and `debtbot reminders plan`, as an operator runs them."""

from __future__ import annotations

import asyncio
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from debtbot.cli import app
from debtbot.store.db import create_engine, session_factory
from debtbot.store.migrate import upgrade_database
from debtbot.store.models import Chat, ChatLink, DebtRow, OutboxMessage, Person


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(tmp_path)
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.sqlite3'}"
    monkeypatch.setenv("DEBTBOT_DATABASE_URL", url)
    monkeypatch.delenv("DEBTBOT_TELEGRAM_TOKEN", raising=False)

    async def seed() -> None:
        await upgrade_database(url)
        engine = create_engine(url)
        sessions = session_factory(engine)
        async with sessions() as session, session.begin():
            for n, language in enumerate(["el", "el", "tr"], start=1):
                session.add(Person(id=n, id_type="id_card", id_hash=f"h{n}", name=f"P{n}"))
                session.add(Chat(id=100 + n, language=language))
                await session.flush()
                session.add(ChatLink(chat_id=100 + n, person_id=n, verified_by="dob"))
                session.add(DebtRow(source="police", reference=f"R{n}", kind="out_of_court_fine",
                                    person_id=n, amount=Decimal("100"),
                                    served_on=date(2026, 11, 2)))
        await engine.dispose()

    asyncio.run(seed())
    return url


def _outbox_count(url: str) -> int:
    async def count() -> int:
        engine = create_engine(url)
        async with session_factory(engine)() as session:
            rows = (await session.execute(OutboxMessage.__table__.select())).all()
        await engine.dispose()
        return len(rows)

    return asyncio.run(count())


def test_preview_shows_a_days_reminders_per_kind_and_language(database):
    result = CliRunner().invoke(app, ["reminders", "preview", "--date", "2026-11-26"])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any(line.split() == ["out_of_court_fine", "el", "surcharge", "2"] for line in lines)
    assert any(line.split() == ["out_of_court_fine", "tr", "surcharge", "1"] for line in lines)
    assert "Total: 3" in result.output
    assert _outbox_count(database) == 0  # nothing planned, nothing sent


def test_preview_of_a_quiet_day_says_none(database):
    result = CliRunner().invoke(app, ["reminders", "preview", "--date", "2026-11-20"])

    assert result.exit_code == 0
    assert result.output.strip().endswith("None.")


def test_preview_refuses_a_bad_date_without_a_traceback(database):
    result = CliRunner().invoke(app, ["reminders", "preview", "--date", "26/11/2026"])

    assert result.exit_code == 2
    assert "Use YYYY-MM-DD" in result.output
    assert "Traceback" not in result.output
