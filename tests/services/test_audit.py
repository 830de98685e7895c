"""The audit log reads back newest first, filtered by time, exact action or action prefix."""

from __future__ import annotations

from datetime import timedelta

from staff_seed import NOW, make_deps

from debtbot.services import audit


async def test_entries_filter_by_since_action_and_prefix(sessions):
    deps = make_deps(sessions)
    async with deps.uow() as uow:
        await uow.audit.record(actor="staff:1", action="broadcast.create", subject="broadcast:1")
        await uow.audit.record(actor="cli", action="staff.add", at=NOW - timedelta(days=3))
    await audit.record_now(deps, actor="token:4", action="broadcast.approve", count=12)

    everything = await audit.list_entries(deps)
    assert [e.action for e in everything][-1] == "staff.add"
    assert [e.action for e in await audit.list_entries(deps, action="broadcast.")] == [
        "broadcast.approve", "broadcast.create",
    ]
    [approve] = await audit.list_entries(deps, action="broadcast.approve")
    assert (approve.actor, approve.count) == ("token:4", 12)
    recent = await audit.list_entries(deps, since=NOW - timedelta(days=1))
    assert "staff.add" not in [e.action for e in recent]
    assert len(await audit.list_entries(deps, limit=1)) == 1
    assert await audit.list_entries(deps, action="broadcast") == []


async def test_an_entry_rolls_back_with_its_change(sessions):
    deps = make_deps(sessions)
    try:
        async with deps.uow() as uow:
            await uow.audit.record(actor="cli", action="staff.add")
            raise RuntimeError("the change failed")
    except RuntimeError:
        pass
    assert await audit.list_entries(deps) == []
