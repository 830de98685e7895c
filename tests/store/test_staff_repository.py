"""StaffRepository and AuditRepository on SQLite and PostgreSQL: staff are added, updated,
reactivated and deactivated, never deleted; console sessions and API tokens live and end;
the console's delivery figures and the audit log read back as the console shows them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from debtbot.store.db import transaction
from debtbot.store.models import Chat, OutboxMessage
from debtbot.store.staff import StaffRecord
from debtbot.store.unit_of_work import Store

NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


@pytest.fixture
def store(sessions: async_sessionmaker[AsyncSession]) -> Store:
    return Store(sessions)


async def test_a_member_is_added_updated_deactivated_and_reactivated(store: Store) -> None:
    async with store.uow() as uow:
        await uow.staff.save(telegram_user_id=201, name="Sofia", role="operator",
                             receives_tests=False)
        promoted = await uow.staff.save(telegram_user_id=201, name="Sofia K.",
                                        role="supervisor", receives_tests=True)
        removed = await uow.staff.deactivate(201)
        unknown = await uow.staff.deactivate(999)

    assert promoted == StaffRecord(201, "Sofia K.", "supervisor", True, True, None)
    assert removed is not None and removed.active is False
    assert unknown is None
    assert await store.read(lambda uow: uow.staff.members(include_inactive=False)) == []
    [kept] = await store.read(lambda uow: uow.staff.members(include_inactive=True))
    assert (kept.telegram_user_id, kept.active) == (201, False)

    async with store.uow() as uow:
        back = await uow.staff.save(telegram_user_id=201, name="Sofia K.", role="supervisor",
                                    receives_tests=True)
    assert back.active is True


async def test_test_recipients_are_active_members_who_receive_tests_in_their_language(
    store: Store, sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with transaction(sessions) as session:
        session.add(Chat(id=302, language="tr"))
    async with store.uow() as uow:
        for user_id, tests in ((301, True), (302, True), (303, False), (304, True)):
            await uow.staff.save(telegram_user_id=user_id, name=f"m{user_id}", role="admin",
                                 receives_tests=tests)
        await uow.staff.deactivate(304)

    recipients = await store.read(lambda uow: uow.staff.test_recipients())
    member = await store.read(lambda uow: uow.staff.member(302))
    assert recipients == [(301, "en"), (302, "tr")]
    assert member is not None and member.language == "tr"


async def test_a_console_session_is_touched_and_ended_once(store: Store) -> None:
    async with store.uow() as uow:
        await uow.staff.add_console_session(id="s" * 64, staff_user_id=201, csrf="c",
                                            language="el", now=NOW)
    later = NOW + timedelta(minutes=5)
    async with store.uow() as uow:
        await uow.staff.touch_console_session("s" * 64, now=later, language="en")
        await uow.staff.end_console_session("s" * 64, now=later)
        await uow.staff.end_console_session("s" * 64, now=later + timedelta(hours=1))

    found = await store.read(lambda uow: uow.staff.console_session("s" * 64))
    assert found is not None
    assert (found.staff_user_id, found.language, found.last_seen_at, found.ended_at) == (
        201, "en", later, later)
    assert await store.read(lambda uow: uow.staff.console_session("x" * 64)) is None


async def test_a_token_is_found_by_its_hash_and_revoked_once(store: Store) -> None:
    async with store.uow() as uow:
        token = await uow.staff.add_token(name="registry", token_hash="h" * 64,
                                          scopes=["ingest", "read"], now=NOW)
    async with store.uow() as uow:
        first = await uow.staff.revoke_token(token.id, now=NOW + timedelta(days=1))
        second = await uow.staff.revoke_token(token.id, now=NOW + timedelta(days=2))
        missing = await uow.staff.revoke_token(token.id + 1, now=NOW)

    found = await store.read(lambda uow: uow.staff.token_by_hash("h" * 64))
    assert (token.name, token.scopes, token.revoked_at) == ("registry", ("ingest", "read"), None)
    assert (first, second, missing) == (True, False, False)
    assert found is not None and found.revoked_at == NOW + timedelta(days=1)
    assert [t.id for t in await store.read(lambda uow: uow.staff.tokens())] == [token.id]


async def test_the_console_reads_deliveries_by_notice_state_and_day(
    store: Store, sessions: async_sessionmaker[AsyncSession],
) -> None:
    rows = [("notice:k1:5", 5, "notice", "sent", NOW), ("notice:k1:6", 6, "notice", "failed", NOW),
            ("notice:k10:7", 7, "notice", "sent", NOW - timedelta(days=1)),
            ("reminder:1", 5, "reminder", "pending", NOW - timedelta(days=1))]
    async with transaction(sessions) as session:
        for key, chat_id, purpose, status, at in rows:
            session.add(OutboxMessage(dedupe_key=key, chat_id=chat_id, purpose=purpose,
                                      priority=1, payload={"text": "x"}, status=status,
                                      not_before=at, created_at=at))

    async with store.uow() as uow:
        of_notice = await uow.staff.messages(notice_key="k1")
        failed = await uow.staff.messages(status="failed")
        counts = await uow.staff.message_counts(notice_key="k1")
        daily = await uow.staff.daily_counts(since=NOW - timedelta(days=2))

    assert [m.chat_id for m in of_notice] == [6, 5]  # newest first; k10 is another notice
    assert [m.dedupe_key for m in failed] == ["notice:k1:6"]
    assert counts == {"sent": 1, "failed": 1}
    assert sorted(daily) == sorted([
        (date(2026, 12, 6), "notice", "sent", 1), (date(2026, 12, 6), "notice", "failed", 1),
        (date(2026, 12, 5), "notice", "sent", 1), (date(2026, 12, 5), "reminder", "pending", 1),
    ])


async def test_the_audit_log_reads_newest_first_by_action_prefix_and_forgets_old_entries(
    store: Store,
) -> None:
    async with store.uow() as uow:
        for minutes, action in ((0, "broadcast.create"), (5, "broadcast_x.other"),
                                (9, "broadcast.approve"), (-90 * 24 * 60, "staff.add")):
            await uow.audit.record(actor="x" * 150, action=action, count=minutes,
                                   details={"n": minutes}, at=NOW + timedelta(minutes=minutes))

    broadcast = await store.read(lambda uow: uow.audit.entries(action_prefix="broadcast."))
    assert [(e.action, e.details, e.at) for e in broadcast] == [
        ("broadcast.approve", {"n": 9}, NOW + timedelta(minutes=9)),
        ("broadcast.create", {"n": 0}, NOW),
    ]
    assert {len(e.actor) for e in broadcast} == {100}  # cut to the column, never refused
    async with store.uow() as uow:
        forgotten = await uow.audit.delete_before(before=NOW - timedelta(days=30), limit=10)
    assert forgotten == 1
    assert len(await store.read(lambda uow: uow.audit.entries())) == 3
