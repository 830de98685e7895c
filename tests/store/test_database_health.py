"""What counts as the database being away, and how an outage is told: one line when it goes,
at most one a minute while it stays away, one when it is back."""

from __future__ import annotations

import logging
import sqlite3

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from debtbot.store.health import OutageLog, describe, is_database_outage


def _wrapped(orig: BaseException) -> OperationalError:
    return OperationalError("select 1", {}, orig)


@pytest.mark.parametrize("error", [
    ConnectionRefusedError(111, "Connection refused"),
    TimeoutError(),
    _wrapped(sqlite3.OperationalError("unable to open database file")),
    type("ConnectionDoesNotExistError", (Exception,), {})("connection was closed"),
])
def test_lost_connections_are_outages(error: BaseException) -> None:
    assert is_database_outage(error)


@pytest.mark.parametrize("error", [
    _wrapped(sqlite3.OperationalError("database is locked")),
    IntegrityError("insert", {}, Exception("duplicate key")),
    ValueError("bad input"),
])
def test_refused_queries_are_not_outages(error: BaseException) -> None:
    assert not is_database_outage(error)


def test_an_outage_is_one_line_then_one_a_minute_then_back(caplog: pytest.LogCaptureFixture) -> None:
    now = [1000.0]
    outage = OutageLog(clock=lambda: now[0], where="PostgreSQL at db:5432, database 'debtbot'")
    caplog.set_level(logging.INFO, logger="debtbot.database")
    for _ in range(150):  # four attempts a second for 150 s
        for _ in range(4):
            outage.failed(ConnectionRefusedError(111, "Connection refused"))
        now[0] += 1
    outage.recovered()
    outage.recovered()  # said once

    lines = [record.getMessage() for record in caplog.records]
    assert len(lines) == 4, lines
    assert lines[0].startswith("lost the PostgreSQL at db:5432, database 'debtbot'")
    assert "still unreachable after 60 s" in lines[1] and "still unreachable after 120 s" in lines[2]
    assert lines[3].startswith("the PostgreSQL at db:5432, database 'debtbot' is back after 150 s")


def test_the_password_is_never_described() -> None:
    where = describe("postgresql+asyncpg://debtbot:s3cret@db:6543/debtbot")
    assert where == "PostgreSQL at db:6543, database 'debtbot'" and "s3cret" not in where
