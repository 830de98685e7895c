"""Staff and roles: only admins manage staff; removing deactivates; every change is audited."""

from __future__ import annotations

import pytest
from staff_seed import ADMIN, OPERATOR, SUPERVISOR, add_chat, make_deps

from debtbot.services import audit, staff
from debtbot.services.staff import CLI_ACTOR, Invalid, NotAllowed, NotFound, Role


async def test_admin_adds_lists_and_removes_staff(sessions):
    deps = make_deps(sessions)
    await add_chat(sessions, 555, language="el")
    added = await staff.add_staff(
        deps, actor=ADMIN, telegram_user_id=555, name="Maria", role="supervisor", receives_tests=True
    )
    assert added.role is Role.SUPERVISOR
    assert added.language == "el"
    assert (await staff.staff_member(deps, telegram_user_id=555)).name == "Maria"

    removed = await staff.remove_staff(deps, actor=ADMIN, telegram_user_id=555)
    assert removed.active is False
    assert await staff.staff_member(deps, telegram_user_id=555) is None
    assert await staff.list_staff(deps) == []
    assert [v.telegram_user_id for v in await staff.list_staff(deps, include_inactive=True)] == [555]

    entries = await audit.list_entries(deps, action="staff.")
    assert [(e.action, e.actor, e.subject) for e in entries] == [
        ("staff.remove", "staff:301", "staff:555"),
        ("staff.add", "staff:301", "staff:555"),
    ]


async def test_adding_again_updates_the_role_and_reactivates(sessions):
    deps = make_deps(sessions)
    await staff.add_staff(deps, actor=CLI_ACTOR, telegram_user_id=7, name="Nikos", role="operator")
    await staff.remove_staff(deps, actor=CLI_ACTOR, telegram_user_id=7)
    again = await staff.add_staff(deps, actor=CLI_ACTOR, telegram_user_id=7, name="Nikos", role="admin")
    assert (again.role, again.active) == (Role.ADMIN, True)
    assert len(await staff.list_staff(deps)) == 1


@pytest.mark.parametrize("actor", [OPERATOR, SUPERVISOR])
async def test_only_admins_manage_staff(sessions, actor):
    deps = make_deps(sessions)
    with pytest.raises(NotAllowed):
        await staff.add_staff(deps, actor=actor, telegram_user_id=9, name="X", role="admin")
    assert await staff.list_staff(deps, include_inactive=True) == []
    assert await audit.list_entries(deps) == []


async def test_bad_role_name_or_unknown_member_is_refused(sessions):
    deps = make_deps(sessions)
    with pytest.raises(Invalid) as bad:
        await staff.add_staff(deps, actor=ADMIN, telegram_user_id=9, name="X", role="boss")
    assert bad.value.code == "bad_role"
    with pytest.raises(Invalid):
        await staff.add_staff(deps, actor=ADMIN, telegram_user_id=9, name="  ", role="operator")
    with pytest.raises(NotFound):
        await staff.remove_staff(deps, actor=ADMIN, telegram_user_id=404)


def test_roles_nest():
    assert Role.ADMIN.includes(Role.SUPERVISOR)
    assert Role.SUPERVISOR.includes(Role.OPERATOR)
    assert not Role.OPERATOR.includes(Role.SUPERVISOR)
