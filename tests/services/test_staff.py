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


def test_the_cli_adds_lists_removes_staff_and_reads_the_audit_log(database_url, monkeypatch):
    from typer.testing import CliRunner

    from debtbot.cli import app

    monkeypatch.setenv("DEBTBOT_DATABASE_URL", database_url)
    runner = CliRunner()
    added = runner.invoke(app, ["staff", "add", "42", "--name", "Anna", "--role", "admin"])
    assert (added.exit_code, added.output) == (0, "42 Anna: admin\n")
    refused = runner.invoke(app, ["staff", "add", "43", "--name", "Bob", "--role", "boss"])
    assert refused.exit_code == 1
    assert "role must be operator, supervisor or admin" in refused.output
    assert runner.invoke(app, ["staff", "list"]).output == "42\tadmin\tAnna\n"
    assert runner.invoke(app, ["staff", "remove", "42"]).exit_code == 0
    assert runner.invoke(app, ["staff", "list", "--all"]).output == "42\tadmin\tAnna (removed)\n"
    log = runner.invoke(app, ["audit", "--action", "staff.", "--since", "1d"])
    assert log.exit_code == 0
    assert [line.split("\t")[1:4] for line in log.output.splitlines()] == [
        ["cli", "staff.remove", "staff:42"],
        ["cli", "staff.add", "staff:42"],
    ]
    assert runner.invoke(app, ["audit", "--since", "yesterday-ish"]).exit_code == 2


def test_the_cli_checks_a_notice_csv_before_sending_it(database_url, monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from debtbot.cli import app

    monkeypatch.setenv("DEBTBOT_DATABASE_URL", database_url)
    runner = CliRunner()
    saved = runner.invoke(app, ["template", "set", "pay", "--el", "Πληρώστε {amount}", "--en", "Pay {amount}"])
    assert saved.output == "Saved pay. No tr: Greek is used.\n"
    bad = tmp_path / "bad.csv"
    bad.write_text("chat_id,amount\n12,abc\n", encoding="utf-8")
    result = runner.invoke(app, ["notice", "csv", str(bad), "--template", "pay", "--send"])
    assert result.exit_code == 1
    assert "line 2, amount:" in result.output
    assert result.output.endswith("1 problem(s) in 1 row(s): nothing sent.\n")
