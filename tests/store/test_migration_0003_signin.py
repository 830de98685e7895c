"""Migration 0003_signin: the dates of birth and phones already on file become keyed hashes,
and the plain values are gone (on SQLite, from the file's bytes too)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import inspect, text

from debtbot.domain.identifiers import normalise_identifier
from debtbot.domain.keys import HashKey
from debtbot.store.db import create_engine, is_sqlite
from debtbot.store.migrate import upgrade_database

KEY = HashKey("migration-test-key")


async def test_existing_rows_are_hashed_and_the_plain_columns_dropped(
    empty_database_url: str,
) -> None:
    await upgrade_database(empty_database_url, "0002")
    with_phone = KEY.identifier(normalise_identifier("id_card", "881001"))
    without = KEY.identifier(normalise_identifier("passport", "K1234567"))
    engine = create_engine(empty_database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO persons (id, id_type, id_hash, name, date_of_birth, phone) "
                    "VALUES (1, 'id_card', :a, 'Eleni', :born, '+35799100001'), "
                    "(2, 'passport', :b, 'John', NULL, NULL)"
                ),
                {"a": with_phone, "b": without, "born": date(1980, 5, 14)},
            )
            await connection.execute(
                text("INSERT INTO companies (id, reg_hash, name) VALUES (1, 'c1', 'Acme')")
            )

        await upgrade_database(empty_database_url, hash_key=KEY.secret)

        async with engine.connect() as connection:
            columns = await connection.run_sync(
                lambda sync: {c["name"] for c in inspect(sync).get_columns("persons")}
            )
            rows = (await connection.execute(text(
                "SELECT id, date_of_birth_hash, phone_hash, key_id FROM persons ORDER BY id"
            ))).all()
            companies = (await connection.execute(text("SELECT key_id FROM companies"))).all()
    finally:
        await engine.dispose()

    assert "date_of_birth" not in columns and "phone" not in columns
    assert [tuple(row) for row in rows] == [
        (1, KEY.date_of_birth(with_phone, date(1980, 5, 14)),
         KEY.phone(with_phone, "+35799100001"), KEY.key_id),
        (2, None, None, KEY.key_id),
    ]
    assert [tuple(row) for row in companies] == [(KEY.key_id,)]
    if is_sqlite(empty_database_url):
        raw = Path(empty_database_url.split(":///", 1)[1]).read_bytes()  # noqa: ASYNC240
        assert b"+35799100001" not in raw and b"1980-05-14" not in raw
