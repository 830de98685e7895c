"""Databases the tests create for themselves on a PostgreSQL server, and drop afterwards.

`DEBTBOT_TEST_POSTGRES_URL` names the server (and the database to connect to while creating
others, `postgres` by default). Every database made here is called `debtbot_test_<run>_<n>`, where
`<run>` is unique to this test run, so two runs on one server never meet, and nothing is ever
dropped in a database that existed before the run.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import secrets
import threading

from sqlalchemy.engine import make_url

DEFAULT_SERVER_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
PREFIX = "debtbot_test_"

_RUN = f"{os.getpid()}_{secrets.token_hex(3)}"
_created: list[str] = []
_lock = threading.Lock()


def server_url() -> str:
    return os.environ.get("DEBTBOT_TEST_POSTGRES_URL", DEFAULT_SERVER_URL)


def _driver_dsn(url: str) -> str:
    """The URL asyncpg itself takes (no `+asyncpg`)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _admin(statement: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(_driver_dsn(server_url()), timeout=10)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def _run(coroutine) -> None:
    """Run an administrative statement from sync or async code (a thread of its own)."""
    failure: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(coroutine)
        except BaseException as exc:  # re-raised in the caller's thread
            failure.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]


def create_database() -> str:
    """A new empty database on the server; its SQLAlchemy URL. Dropped at the end of the run
    (or earlier with `drop_database`)."""
    with _lock:
        name = f"{PREFIX}{_RUN}_{len(_created)}"
        _created.append(name)
    _run(_admin(f'CREATE DATABASE "{name}"'))
    return make_url(server_url()).set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    name = make_url(url).database
    if name not in _created:
        raise ValueError(f"{name} was not created by this test run; it is not dropped")
    _run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    with _lock:
        _created.remove(name)


def drop_all() -> None:
    for name in list(_created):
        try:
            _run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        except Exception as exc:  # the server may be gone; say what is left behind
            print(f"could not drop test database {name}: {exc}")  # noqa: T201
        else:
            _created.remove(name)


atexit.register(drop_all)
