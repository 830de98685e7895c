"""`debtbot token create|list|revoke`: the token is printed once; only its hash is kept."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from debtbot.cli import app
from debtbot.store.db import create_engine, session_factory
from debtbot.store.models import ApiToken, Base


async def _schema(url: str) -> None:
    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    await engine.dispose()


async def _tokens(url: str) -> list[ApiToken]:
    engine = create_engine(url)
    async with session_factory(engine)() as session:
        rows = list(await session.scalars(select(ApiToken)))
    await engine.dispose()
    return rows


def test_token_create_list_revoke(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.sqlite3'}"
    asyncio.run(_schema(url))
    env = {"DEBTBOT_DATABASE_URL": url}
    runner = CliRunner()

    created = runner.invoke(app, ["token", "create", "police-registry", "--scope",
                                  "ingest,read"], env=env)
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip()
    assert secret.startswith("dbt_")
    [row] = asyncio.run(_tokens(url))
    assert row.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert row.scopes == ["ingest", "read"] and row.name == "police-registry"

    listed = runner.invoke(app, ["token", "list"], env=env)
    assert "police-registry" in listed.stdout and "active" in listed.stdout
    assert secret not in listed.stdout

    assert runner.invoke(app, ["token", "revoke", str(row.id)], env=env).exit_code == 0
    assert runner.invoke(app, ["token", "revoke", str(row.id)], env=env).exit_code == 1
    assert "revoked" in runner.invoke(app, ["token", "list"], env=env).stdout


def test_an_unknown_scope_is_refused(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.sqlite3'}"
    asyncio.run(_schema(url))
    result = CliRunner().invoke(app, ["token", "create", "x", "--scope", "everything"],
                                env={"DEBTBOT_DATABASE_URL": url})
    assert result.exit_code == 2
    assert asyncio.run(_tokens(url)) == []


def test_every_scope_given_is_kept(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.sqlite3'}"
    asyncio.run(_schema(url))
    result = CliRunner().invoke(
        app, ["token", "create", "registry", "--scope", "ingest", "--scope", "read,payments"],
        env={"DEBTBOT_DATABASE_URL": url},
    )
    assert result.exit_code == 0, result.output
    [row] = asyncio.run(_tokens(url))
    assert sorted(row.scopes) == ["ingest", "payments", "read"]
    assert "ingest, payments, read" in result.stderr
