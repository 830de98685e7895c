"""`debtbot run` as an operator meets it, as a real process: what it refuses, how it waits for a
database, what its log says when the database goes away under it and comes back, and the local
mode a new machine starts in."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

import postgres_databases
from debtbot.devtools.botapi import FakeBotApi
from tcp_proxy import TcpProxy, free_port

DEBTBOT = str(Path(sys.executable).parent / "debtbot")


def backend() -> str:
    return os.environ.get("DEBTBOT_TEST_DB", "sqlite").lower()


def environment(tmp_path: Path, **values: str) -> dict[str, str]:
    """The machine's environment without any DEBTBOT_* setting, plus `values`."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("DEBTBOT_")}
    env.update({"DEBTBOT_HTTP_PORT": str(free_port()), **values})
    return env


def test_run_refuses_the_development_hash_key_outside_development(tmp_path: Path) -> None:
    env = environment(tmp_path, DEBTBOT_TELEGRAM_TOKEN="123:abc",
                      DEBTBOT_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'x.sqlite3'}")

    result = subprocess.run([DEBTBOT, "run"], env=env, cwd=tmp_path, capture_output=True,
                            text=True, timeout=60)

    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "DEBTBOT_HASH_KEY is not set" in lines[0]
    assert "DEBTBOT_ENV=development" in lines[0]
    assert not (tmp_path / "x.sqlite3").exists()  # refused before touching anything


def test_an_unreachable_database_at_start_is_one_line_then_a_non_zero_exit(tmp_path: Path) -> None:
    closed = free_port()  # nothing listens there
    env = environment(
        tmp_path, DEBTBOT_TELEGRAM_TOKEN="123:abc", DEBTBOT_HASH_KEY="operator-test-key",
        DEBTBOT_DATABASE_URL=f"postgresql+asyncpg://debtbot:Secret-Pass@127.0.0.1:{closed}/prod",
        DEBTBOT_DB_STARTUP_WAIT_SECONDS="2",
    )
    started = time.monotonic()

    result = subprocess.run([DEBTBOT, "run"], env=env, cwd=tmp_path, capture_output=True,
                            text=True, timeout=60)

    assert result.returncode == 1
    assert time.monotonic() - started >= 2  # it waited, with retries, before giving up
    output = result.stdout + result.stderr
    assert "Traceback" not in output and "Secret-Pass" not in output
    lines = output.strip().splitlines()
    assert len(lines) == 2, lines  # "waiting for …" and the reason it gave up
    assert f"127.0.0.1:{closed}" in lines[0] and "'prod'" in lines[0]
    assert "did not answer within 2 s" in lines[1] and f"127.0.0.1:{closed}" in lines[1]


def test_a_wrong_database_name_is_not_waited_for(tmp_path: Path) -> None:
    if backend() != "postgres":
        pytest.skip("needs the PostgreSQL server (the PostgreSQL pass runs it)")
    env = environment(
        tmp_path, DEBTBOT_TELEGRAM_TOKEN="123:abc", DEBTBOT_HASH_KEY="operator-test-key",
        DEBTBOT_DATABASE_URL="postgresql+asyncpg://postgres@127.0.0.1:5432/debtbot_no_such_db",
    )
    started = time.monotonic()

    result = subprocess.run([DEBTBOT, "run"], env=env, cwd=tmp_path, capture_output=True,
                            text=True, timeout=60)

    assert result.returncode == 1 and time.monotonic() - started < 30
    assert "Traceback" not in result.stderr
    assert "cannot be used" in result.stderr and "debtbot_no_such_db" in result.stderr


async def _status(http: aiohttp.ClientSession, url: str, **kwargs: object) -> tuple[int, dict, dict]:
    try:
        async with http.get(url, timeout=aiohttp.ClientTimeout(total=10), **kwargs) as response:
            body = await response.json(content_type=None)
            return response.status, body, dict(response.headers)
    except (aiohttp.ClientError, TimeoutError):
        return 0, {}, {}


async def _until(check, within: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"not within {within} s")


async def test_the_database_lost_under_a_running_bot_and_back(tmp_path: Path) -> None:
    if backend() != "postgres":
        pytest.skip("needs the PostgreSQL server (the PostgreSQL pass runs it)")
    direct = postgres_databases.create_database()
    try:
        await _lose_and_regain(tmp_path, direct)
    finally:
        postgres_databases.drop_database(direct)


async def _lose_and_regain(tmp_path: Path, direct: str) -> None:
    proxy = TcpProxy(5432)
    await proxy.start()
    through_proxy = direct.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    assert through_proxy != direct
    async with FakeBotApi() as api:
        env = environment(
            tmp_path, DEBTBOT_TELEGRAM_TOKEN=api.token, DEBTBOT_TELEGRAM_API_URL=api.url,
            DEBTBOT_HASH_KEY="operator-test-key", DEBTBOT_DATABASE_URL=through_proxy,
        )
        base = f"http://127.0.0.1:{env['DEBTBOT_HTTP_PORT']}"
        upgrade = await asyncio.create_subprocess_exec(
            DEBTBOT, "db", "upgrade", env=env, cwd=tmp_path, stdout=subprocess.DEVNULL)
        assert await upgrade.wait() == 0
        token = await asyncio.create_subprocess_exec(
            DEBTBOT, "token", "create", "auditor", "--scope", "read", env=env, cwd=tmp_path,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        secret = (await token.communicate())[0].decode().strip()
        bot = await asyncio.create_subprocess_exec(
            DEBTBOT, "run", env=env, cwd=tmp_path,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        audit = f"{base}/api/audit"
        auth = {"Authorization": f"Bearer {secret}"}
        try:
            async with aiohttp.ClientSession() as http:
                async def ready() -> bool:
                    return (await _status(http, f"{base}/readyz"))[0] == 200

                await _until(ready, 30)
                assert (await _status(http, audit, headers=auth))[0] == 200

                await proxy.stop()  # the database goes away
                await asyncio.sleep(4)  # the sender and the jobs keep trying meanwhile
                status, body, headers = await _status(http, audit, headers=auth)
                assert status == 503
                assert body["error"]["code"] == "database_unavailable"
                assert int(headers["Retry-After"]) > 0
                assert (await _status(http, f"{base}/readyz"))[0] == 503

                await proxy.start()  # and comes back
                await _until(ready, 30)

                async def audit_answers() -> bool:
                    return (await _status(http, audit, headers=auth))[0] == 200

                await _until(audit_answers, 30)
                await asyncio.sleep(3)  # the watch notices within its interval
        finally:
            bot.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(bot.communicate(), 30)
            await proxy.stop()
    log = stderr.decode()
    assert "Traceback" not in log, log
    lost = [line for line in log.splitlines() if "lost the PostgreSQL" in line]
    back = [line for line in log.splitlines() if "is back after" in line]
    still = [line for line in log.splitlines() if "still unreachable" in line]
    assert len(lost) == 1 and len(back) == 1, log
    assert still == []  # under a minute: nothing between "lost" and "back"
    assert f"127.0.0.1:{proxy.port}" in lost[0]
    between = log[log.index(lost[0]):log.index(back[0])].splitlines()[1:]
    assert not [line for line in between if re.search(r" (WARNING|ERROR) ", line)], between


def test_run_without_a_token_starts_local_mode(tmp_path: Path) -> None:
    """The README's first command on a fresh machine: the real bot, scheduler and HTTP API on
    the sample registry, with the terminal chat in front."""
    env = environment(tmp_path)
    port = env["DEBTBOT_HTTP_PORT"]
    bot = subprocess.Popen([DEBTBOT, "run"], env=env, cwd=tmp_path, stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert bot.stdout is not None and bot.stdin is not None
        first = bot.stdout.readline()
        assert first.startswith("Local mode: no DEBTBOT_TELEGRAM_TOKEN is set")
        assert f"http://127.0.0.1:{port}" in first and "debtbot-local.sqlite3" in first
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=10) as answer:
            assert answer.status == 200
        bot.stdin.write("/start\n:quit\n")
        bot.stdin.flush()
        output, errors = bot.communicate(timeout=60)
    finally:
        if bot.poll() is None:
            bot.kill()
    assert bot.returncode == 0
    assert "Welcome!" in output and "[1] Myself" in output
    assert "Traceback" not in errors and errors.strip() == "", errors
    import sqlite3

    with sqlite3.connect(tmp_path / "debtbot-local.sqlite3") as database:
        (debts,) = database.execute("select count(*) from debts").fetchone()
    assert debts == 21  # the sample registry
    assert not (tmp_path / "debtbot.sqlite3").exists()  # the production default is untouched
