"""Migration 0004_loginurl: sign-in requests already there belong to their private chat's user."""

from __future__ import annotations

from sqlalchemy import text

from debtbot.store.db import create_engine
from debtbot.store.migrate import upgrade_database


async def test_existing_requests_get_their_chats_user(empty_database_url: str) -> None:
    await upgrade_database(empty_database_url, "0003_signin")
    engine = create_engine(empty_database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text(
                "INSERT INTO signin_requests (id, handle, chat_id, language, bot_username, "
                "created_at, expires_at) VALUES (1, 'h1', 5901, 'el', 'bot', "
                "'2026-12-06 10:00:00+00:00', '2026-12-06 10:15:00+00:00')"
            ))

        await upgrade_database(empty_database_url)

        async with engine.connect() as connection:
            rows = (await connection.execute(
                text("SELECT chat_id, user_id FROM signin_requests")
            )).all()
    finally:
        await engine.dispose()

    assert [tuple(row) for row in rows] == [(5901, 5901)]
