"""The unit of work on SQLite and PostgreSQL: what a `deps.uow()` block writes is committed
when it ends and rolled back, all of it, when it raises; `deps.read` sees what was committed
and nothing else; `deps.write_once` commits on its own."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from debtbot.services.deps import Deps
from debtbot.settings import Settings

NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


class ChangeFailed(Exception):
    pass


@pytest.fixture
def deps(sessions) -> Deps:  # type: ignore[no-untyped-def]
    return Deps(settings=Settings(), sessions=sessions, clock=lambda: NOW)


async def _staff_added(deps: Deps, user_id: int = 7) -> None:
    async with deps.uow() as uow:
        await uow.staff.save(telegram_user_id=user_id, name="Olga", role="operator",
                             receives_tests=False)
        await uow.audit.record(actor="cli", action="staff.add", subject=f"staff:{user_id}")


async def test_what_a_unit_of_work_writes_is_committed_when_it_ends(deps: Deps) -> None:
    await _staff_added(deps)

    member = await deps.read(lambda uow: uow.staff.member(7))
    entries = await deps.read(lambda uow: uow.audit.entries())
    assert member is not None and (member.name, member.role, member.active) == (
        "Olga", "operator", True)
    assert [(e.action, e.subject) for e in entries] == [("staff.add", "staff:7")]


async def test_an_exception_rolls_back_everything_in_the_unit_of_work(deps: Deps) -> None:
    await _staff_added(deps)

    with pytest.raises(ChangeFailed):
        async with deps.uow() as uow:
            await uow.staff.deactivate(7)
            await uow.staff.save(telegram_user_id=8, name="Stelios", role="supervisor",
                                 receives_tests=True)
            await uow.audit.record(actor="cli", action="staff.remove", subject="staff:7")
            raise ChangeFailed

    members = await deps.read(lambda uow: uow.staff.members(include_inactive=True))
    entries = await deps.read(lambda uow: uow.audit.entries())
    assert [(m.telegram_user_id, m.active) for m in members] == [(7, True)]
    assert [e.action for e in entries] == ["staff.add"]


async def test_a_read_sees_committed_data_and_nothing_before_the_commit(deps: Deps) -> None:
    async with deps.uow() as uow:
        await uow.audit.record(actor="cli", action="staff.add")
        seen_inside = await uow.audit.entries()
        seen_outside = await deps.read(lambda other: other.audit.entries())
    seen_after = await deps.read(lambda uow: uow.audit.entries())

    assert [e.action for e in seen_inside] == ["staff.add"]  # the unit of work sees its own
    assert seen_outside == []  # another connection does not, before the commit
    assert [e.action for e in seen_after] == ["staff.add"]


async def test_a_write_once_commits_on_its_own(deps: Deps) -> None:
    taken = await deps.write_once(lambda uow: uow.fleet.take_update(update_id=41, now=NOW))
    await deps.write_once(lambda uow: uow.fleet.add_to_counter("reply_queued", 2))

    again = await deps.write_once(lambda uow: uow.fleet.take_update(update_id=41, now=NOW))
    counters = await deps.read(lambda uow: uow.fleet.counters())
    async with deps.uow() as uow:
        forgotten = await uow.fleet.forget_updates_before(before=NOW.replace(year=2027),
                                                          limit=10)
    assert (taken, again) == (True, False)
    assert counters == {"reply_queued": 2}
    assert forgotten == 1
