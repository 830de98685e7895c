"""The `debtbot` command as an operator uses it (against a temporary SQLite file)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from debtbot.cli import app

HEADER = (
    "kind,source,reference,authority,holder_type,id_type,id_number,name,date_of_birth,amount,"
    "served_on"
)


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    for name in ("DEBTBOT_TELEGRAM_TOKEN", "DEBTBOT_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "cli.sqlite3"
    monkeypatch.setenv("DEBTBOT_DATABASE_URL", f"sqlite+aiosqlite:///{path}")
    monkeypatch.setenv("DEBTBOT_HASH_KEY", "cli-test-key")
    return path


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, list(args))


def test_help_lists_every_command() -> None:
    result = invoke("--help")

    assert result.exit_code == 0
    for command in ("run", "db", "import"):
        assert command in result.output
    assert "upgrade" in invoke("db", "--help").output


def test_db_upgrade_creates_the_tables_and_can_run_again(database: Path) -> None:
    first = invoke("db", "upgrade")
    second = invoke("db", "upgrade")

    assert (first.exit_code, second.exit_code) == (0, 0)
    assert "up to date" in second.output
    with sqlite3.connect(database) as connection:
        tables = {name for (name,) in connection.execute("SELECT name FROM sqlite_master")}
    assert {"debts", "persons", "outbox", "audit_log", "alembic_version"} <= tables


def test_import_reports_counts_and_line_numbered_errors(database: Path, tmp_path: Path) -> None:
    path = tmp_path / "debts.csv"
    path.write_text(
        f"{HEADER}\n"
        "out_of_court_fine,police,A-1,Police,person,id_card,881234,Ελένη Χριστοδούλου,1990-01-01,100,2026-11-01\n"
        "fine_warrant,police,A-2,Police,person,id_card,881234,Ελένη Χριστοδούλου,1990-01-01,abc,2026-11-01\n"
        "tax,tax,T-1,Tax Department,company,company_reg,HE 1234,Şahin Ltd,,2000,\n",
        encoding="utf-8",
    )

    first = invoke("import", str(path))
    again = invoke("import", str(path))

    assert first.exit_code == 1  # a row was rejected; the valid ones went in
    assert "line 3: amount: 'abc' is not a number" in first.output
    assert "3 rows: 2 new, 0 updated, 0 unchanged, 1 rejected." in first.output
    assert "3 rows: 0 new, 0 updated, 2 unchanged, 1 rejected." in again.output
    with sqlite3.connect(database) as connection:
        names = [name for (name,) in connection.execute("SELECT name FROM persons")]
        audit = connection.execute("SELECT actor, action FROM audit_log").fetchall()
    assert names == ["Ελένη Χριστοδούλου"]
    assert audit == [("cli", "debts.import"), ("cli", "debts.import")]


def test_strict_import_refuses_the_file(database: Path, tmp_path: Path) -> None:
    path = tmp_path / "debts.csv"
    path.write_text(
        f"{HEADER}\n"
        "out_of_court_fine,police,A-1,Police,person,id_card,881234,Eleni,1990-01-01,100,2026-11-01\n"
        "out_of_court_fine,police,A-1,Police,person,id_card,881234,Eleni,1990-01-01,100,2026-11-01\n",
        encoding="utf-8",
    )

    result = invoke("import", "--strict", str(path))

    assert result.exit_code == 1
    assert "line 3: reference: 'A-1' from 'police' is already on line 2" in result.output
    assert "nothing was imported" in result.output
    with sqlite3.connect(database) as connection:
        assert connection.execute("SELECT count(*) FROM debts").fetchone() == (0,)


def test_import_refuses_a_file_missing_a_column(database: Path, tmp_path: Path) -> None:
    path = tmp_path / "debts.csv"
    path.write_text("kind,source,reference\n", encoding="utf-8")

    result = invoke("import", str(path))

    assert result.exit_code == 1
    assert "refused, nothing was imported: missing required column(s): authority" in result.output


def test_import_of_a_missing_file(database: Path, tmp_path: Path) -> None:
    result = invoke("import", str(tmp_path / "nope.csv"))

    assert result.exit_code == 1
    assert "no such file" in result.output


def test_a_notice_list_from_the_cli_waits_for_a_second_supervisor_named_in_the_audit(
    database: Path, tmp_path: Path
) -> None:
    assert invoke("db", "upgrade").exit_code == 0
    for user, role in (("201", "supervisor"), ("202", "supervisor")):
        assert invoke("staff", "add", user, "--name", f"S{user}", "--role", role).exit_code == 0
    rows = [HEADER, "out_of_court_fine,police,OCF-1,Police,person,id_card,1234567,Άννα,1980-01-01,85.00,2026-11-01"]
    registry = tmp_path / "debts.csv"
    registry.write_text("\n".join(rows) + "\n", encoding="utf-8")
    assert invoke("import", str(registry)).exit_code == 0
    with sqlite3.connect(database) as db:
        db.execute("INSERT INTO chats (id, language, active, discreet, reminders_enabled, muted_kinds)"
                   " VALUES (900, 'el', 1, 0, 1, '[]')")
        db.execute("INSERT INTO chat_links (chat_id, person_id, verified_by) VALUES (900, 1, 'dob')")
    assert invoke("template", "set", "pay", "--el", "{name}: {amount}").exit_code == 0
    listing = tmp_path / "list.csv"
    listing.write_bytes("reference;amount\nOCF-1;12,50\n".encode("cp1253"))

    anonymous = invoke("notice", "csv", str(listing), "--template", "pay", "--send")
    assert anonymous.exit_code == 1 and "--as" in anonymous.output
    asked = invoke("notice", "csv", str(listing), "--template", "pay", "--send", "--as", "201")
    assert asked.exit_code == 0, asked.output
    assert "Notice list #1 (1 chat(s)) waits for a second supervisor" in asked.output
    own = invoke("notice", "approve", "1", "--as", "201")
    assert own.exit_code == 1 and "second supervisor" in own.output
    approved = invoke("notice", "approve", "1", "--as", "202")
    assert approved.exit_code == 0, approved.output
    assert "#1 approved by staff:202: sending, 1 chat(s)." in approved.output
    audit = invoke("audit", "--action", "notice_csv.")
    assert "staff:201\tnotice_csv.submit" in audit.output
    assert "staff:202\tnotice_csv.approve" in audit.output


def test_staff_login_link_is_only_for_active_staff(database: Path, monkeypatch) -> None:
    monkeypatch.setenv("DEBTBOT_PUBLIC_URL", "https://console.example.gov.cy/")
    assert invoke("db", "upgrade").exit_code == 0
    assert invoke("staff", "add", "301", "--name", "Anna", "--role", "admin").exit_code == 0
    link = invoke("staff", "login-link", "301")
    assert link.exit_code == 0, link.output
    assert link.output.startswith("https://console.example.gov.cy/console/login?token=301.")
    assert invoke("staff", "login-link", "999").exit_code == 1
def test_keys_status_counts_rows_still_under_the_previous_key(
    database: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = tmp_path / "registry.csv"
    registry.write_text(
        HEADER + "\nout_of_court_fine,police,OCF-1,Police,person,id_card,881001,Eleni,"
        "1980-05-14,100,2026-11-10\n", encoding="utf-8",
    )
    assert invoke("import", str(registry)).exit_code == 0
    monkeypatch.setenv("DEBTBOT_HASH_KEY", "cli-test-key-2")
    monkeypatch.setenv("DEBTBOT_HASH_KEY_PREVIOUS", "cli-test-key")

    result = invoke("keys", "status")

    assert result.exit_code == 0
    assert "persons: 0 under the current key, 1 still under the previous key" in result.output
    assert "1 rows still under the previous key" in result.output
