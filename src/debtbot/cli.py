"""The `debtbot` command: the one place everything is wired.

Adding a command is one block: a function decorated with `@app.command()` (or with a group's
`.command()`, e.g. `db.command()`), reading settings with `_settings()` and running async
work with `asyncio.run`. Import heavy modules inside the command, so `debtbot --help` stays
fast and a command's dependencies do not load for the others.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from debtbot.settings import Settings, load_settings

T = TypeVar("T")

app = typer.Typer(
    name="debtbot",
    help="A Telegram bot telling people in Cyprus what they owe the state.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db = typer.Typer(help="The database: migrations.", no_args_is_help=True)
app.add_typer(db, name="db")


def _settings() -> Settings:
    return load_settings()


def _echo_error(message: str) -> None:
    typer.echo(message, err=True)


def _database_problem(settings: Settings, exc: Exception) -> typer.Exit:
    """Say what went wrong with the database in one line (no traceback, no password)."""
    from sqlalchemy.engine import make_url

    where = make_url(settings.database_url).render_as_string(hide_password=True)
    detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    _echo_error(
        f"The database at {where} failed: {type(exc).__name__}: {detail[0] if detail else ''}\n"
        "Is it running, and up to date? `debtbot db upgrade` applies the migrations."
    )
    return typer.Exit(1)


def _rulebook(settings: Settings):  # type: ignore[no-untyped-def]
    """The law in force (debtbot.rulebook); a bad DEBTBOT_RULES_FILE is one line and exit 1."""
    from debtbot.rulebook import RulesFileError, load_rulebook

    try:
        return load_rulebook(settings)
    except RulesFileError as error:
        _echo_error(str(error))
        raise typer.Exit(1) from None


async def _with_deps(settings: Settings, work: Callable[..., Awaitable[T]]) -> T:
    """Run `work(deps)` with an engine that is disposed of afterwards."""
    from debtbot.services.deps import Deps
    from debtbot.store.db import create_engine, session_factory

    rulebook = _rulebook(settings)
    engine = create_engine(settings.database_url)
    try:
        return await work(
            Deps(settings=settings, sessions=session_factory(engine), rulebook=rulebook)
        )
    finally:
        await engine.dispose()


# ---------------------------------------------------------------------------- run


@app.command()
def run(
    local: Annotated[
        bool,
        typer.Option(
            "--local",
            help="Local mode even with a token set: a local Bot API server, the sample "
            "registry and the terminal chat.",
        ),
    ] = False,
) -> None:
    """Run the bot, the reminder scheduler and the HTTP API.

    With no DEBTBOT_TELEGRAM_TOKEN (or with --local) it runs in local mode: everything for
    real, against a local Bot API server in this process, on the sample registry, with the
    terminal chat of `debtbot shell` in front.
    """
    settings = _settings()
    from debtbot.logging_setup import configure_logging
    from debtbot.settings import UnsafeSettings
    from debtbot.store.health import DatabaseUnavailable

    _rulebook(settings)  # the law in force, checked before anything starts

    if local or not settings.telegram_token:
        from debtbot.shell import run_local

        configure_logging("WARNING")  # the chat owns the terminal; problems still show
        # The local-mode line already says to set DEBTBOT_HASH_KEY for real data.
        logging.getLogger("debtbot.settings").setLevel(logging.ERROR)
        from debtbot.store.fleet import AlreadyRunning

        try:
            asyncio.run(run_local(settings))
        except (DatabaseUnavailable, AlreadyRunning) as error:
            _echo_error(str(error))
            raise typer.Exit(2) from None
        except OSError as error:  # the HTTP port is taken, most often
            _echo_error(_serving_problem(settings, error))
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            typer.echo("")
        return
    from sqlalchemy.exc import SQLAlchemyError

    from debtbot.app import run as run_app  # the bot's dependencies load only here
    from debtbot.store.fleet import AlreadyRunning

    configure_logging(settings.log_level)
    try:
        run_app(settings)
    except (UnsafeSettings, DatabaseUnavailable, AlreadyRunning) as error:
        _echo_error(str(error))
        raise typer.Exit(1) from None
    except OSError as error:
        _echo_error(_serving_problem(settings, error))
        raise typer.Exit(1) from None
    except SQLAlchemyError as error:  # a migration that could not be applied
        raise _database_problem(settings, error) from None


def _serving_problem(settings: Settings, error: OSError) -> str:
    return (
        f"Could not serve on {settings.http_host}:{settings.http_port}: {error.strerror or error}. "
        "Is another debtbot running? DEBTBOT_HTTP_PORT chooses another port."
    )


# ---------------------------------------------------------------------------- db


@db.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Apply the migrations (safe to run again: an up-to-date database is left alone)."""
    from sqlalchemy.exc import SQLAlchemyError

    from debtbot.store.migrate import upgrade_database

    settings = _settings()
    try:
        asyncio.run(upgrade_database(settings.database_url, revision, hash_key=settings.hash_key))
    except (SQLAlchemyError, OSError) as exc:
        raise _database_problem(settings, exc) from None
    typer.echo("The database is up to date.")


# ---------------------------------------------------------------------------- import


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="A CSV file (with a header row) or JSON lines.")],
    strict: Annotated[
        bool, typer.Option("--strict", help="Reject the whole file if any row is invalid.")
    ] = False,
    source: Annotated[
        str | None,
        typer.Option(help="The registry the file comes from; fills an empty `source` column."),
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, max=10_000, hidden=True)] = 5000,
) -> None:
    """Import debts from a registry file: upsert by (source, reference).

    Exit status 0: every row went in. 1: some rows were rejected (the valid ones went in), or the file was refused (nothing went in).
    """
    from sqlalchemy.exc import SQLAlchemyError

    from debtbot.services.ingest.pipeline import import_file
    from debtbot.services.ingest.reading import ImportFileError
    from debtbot.store.db import is_sqlite
    from debtbot.store.migrate import upgrade_database

    settings = _settings()
    if not file.is_file():
        _echo_error(f"{file}: no such file")
        raise typer.Exit(1)
    size = file.stat().st_size
    bar = _progress_bar(size, file.name)

    def progress(done: int, total: int) -> None:
        if bar is not None:
            bar.update(done - bar.n)

    async def work(deps):  # type: ignore[no-untyped-def]
        if is_sqlite(settings.database_url):
            await upgrade_database(settings.database_url, hash_key=settings.hash_key)
        return await import_file(
            deps, file, actor="cli", strict=strict, source=source, batch_size=batch_size,
            progress=progress,
        )

    try:
        report = asyncio.run(_with_deps(settings, work))
    except ImportFileError as exc:
        _echo_error(f"{file}: refused, nothing was imported: {exc}")
        raise typer.Exit(1) from None
    except (SQLAlchemyError, OSError) as exc:
        # Batches committed before the failure stay in (each one whole); the rest did not.
        raise _database_problem(settings, exc) from None
    finally:
        if bar is not None:
            bar.close()

    for warning in report.warnings[:50]:
        _echo_error(f"{file}: warning: {warning}")
    if report.warning_count > 50:
        _echo_error(f"{file}: … and {report.warning_count - 50} more warnings")
    for error in report.errors[:200]:
        _echo_error(f"{file}: {error}")
    if report.rejected > 200:
        _echo_error(f"{file}: … and {report.rejected - 200} more rejected rows")
    if not report.committed:
        _echo_error(
            f"{file}: refused (--strict): {report.rejected} of {report.rows} rows are invalid; "
            "nothing was imported."
        )
        raise typer.Exit(1)
    typer.echo(
        f"{file}: {report.rows} rows: {report.inserted} new, {report.updated} updated, "
        f"{report.unchanged} unchanged, {report.rejected} rejected"
        + (f"; {report.closed} closed" if report.closed else "")
        + "."
    )
    if report.rejected:
        raise typer.Exit(1)


def _progress_bar(size: int, name: str):  # type: ignore[no-untyped-def]
    # A bar only where someone watches a large file; scripts and small files get the summary.
    if size < 1_000_000 or not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(total=size, unit="B", unit_scale=True, desc=name, file=sys.stderr)


# ---------------------------------------------------------------------------- keys

keys_app = typer.Typer(help="The keys behind the stored hashes (DEBTBOT_HASH_KEY).",
                       no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@keys_app.command("status")
def keys_status() -> None:
    """How many rows are hashed under the current key, and how many are still under the
    previous one (DEBTBOT_HASH_KEY_PREVIOUS) during a rotation."""
    from sqlalchemy.exc import SQLAlchemyError

    from debtbot.services.keys import key_status

    settings = _settings()
    try:
        status = asyncio.run(_with_deps(settings, key_status))
    except (SQLAlchemyError, OSError) as exc:
        raise _database_problem(settings, exc) from None
    previous = status.previous_key_id or "none (DEBTBOT_HASH_KEY_PREVIOUS is not set)"
    typer.echo(f"current key {status.current_key_id}; previous key {previous}")
    for table in status.tables:
        typer.echo(
            f"{table.table}: {table.current} under the current key, {table.previous} still "
            f"under the previous key, {table.other} under another key"
        )
    if status.under_previous:
        typer.echo(
            f"{status.under_previous} rows still under the previous key: each moves when the "
            "registry sends it again or its person proves who they are."
        )
    elif status.previous_key_id:
        typer.echo("No row is left under the previous key: DEBTBOT_HASH_KEY_PREVIOUS can go.")
    if status.under_other:
        typer.echo(
            f"{status.under_other} rows are under a key that is neither: they match nothing "
            "until the registry sends them again (was DEBTBOT_HASH_KEY_PREVIOUS dropped early?)."
        )


# ---------------------------------------------------------------------------- shell


@app.command()
def shell(
    language: Annotated[
        str, typer.Option(help="Your Telegram language at first contact: el, en or tr.")
    ] = "en",
    link: Annotated[
        str | None,
        typer.Option(help="Start verified as this sample identity number (e.g. 881004)."),
    ] = None,
    link_id_type: Annotated[
        str, typer.Option(help="The type of --link: id_card, arc, passport, company_reg.")
    ] = "id_card",
) -> None:
    """Chat with the bot in the terminal, on sample data in a temporary SQLite file."""
    from debtbot.shell import run_shell

    if language not in ("el", "en", "tr"):
        _echo_error("--language must be el, en or tr.")
        raise typer.Exit(2)
    settings = _settings()
    _rulebook(settings)  # a bad DEBTBOT_RULES_FILE: its one line, before the shell starts
    try:
        asyncio.run(
            run_shell(settings, language=language, link=link, link_id_type=link_id_type)
        )
    except KeyboardInterrupt:
        typer.echo("")  # Ctrl-C leaves the shell quietly; the temporary database is gone


# ---------------------------------------------------------------------------- link-token


@app.command("link-token")
def link_token(
    id_type: Annotated[
        str, typer.Option(help="id_card, arc, passport or company_reg.")
    ] = "id_card",
    number: Annotated[
        str | None,
        typer.Option(help="The identity or registration number (asked for, hidden, if omitted)."),
    ] = None,
    ttl_minutes: Annotated[
        int | None, typer.Option(help="Lifetime (default DEBTBOT_LINK_TOKEN_TTL_MINUTES).")
    ] = None,
    bot: Annotated[
        str | None, typer.Option(help="The bot's username, to print the t.me link too.")
    ] = None,
) -> None:
    """Mint a signed, single-use deep-link token that links a chat in one step."""
    from datetime import UTC, datetime, timedelta

    from debtbot.domain.identifiers import InvalidIdentifier
    from debtbot.services.link_tokens import mint_link_token

    settings = _settings()
    secret = number if number is not None else typer.prompt("Number", hide_input=True)
    minutes = ttl_minutes if ttl_minutes is not None else settings.link_token_ttl_minutes
    now = datetime.now(UTC)
    try:
        token = mint_link_token(
            settings, id_type=id_type, id_number=secret, now=now, ttl=timedelta(minutes=minutes)
        )
    except (InvalidIdentifier, ValueError):
        _echo_error(f"That is not a valid {id_type} number.")
        raise typer.Exit(2) from None

    async def work(deps):  # type: ignore[no-untyped-def]
        async with deps.uow() as uow:
            await uow.audit.record(
                actor="cli", action="link_token.mint", subject=id_type, count=1, at=now
            )

    asyncio.run(_with_deps(settings, work))
    typer.echo(f"https://t.me/{bot.lstrip('@')}?start={token}" if bot else token)
    typer.echo(f"expires {(now + timedelta(minutes=minutes)).isoformat(timespec='seconds')}",
               err=True)


# ---------------------------------------------------------------------------- staff, audit

staff_app = typer.Typer(help="Staff and their roles (operator, supervisor, admin).", no_args_is_help=True)
app.add_typer(staff_app, name="staff")
template_app = typer.Typer(help="Notice templates in el, en and tr.", no_args_is_help=True)
app.add_typer(template_app, name="template")


def _staff_call(work: Callable[..., Awaitable[T]]) -> T:
    from debtbot.services.staff import StaffError

    try:
        return asyncio.run(_with_deps(_settings(), work))
    except StaffError as error:
        _echo_error(f"Not done: {error.detail or error.code}")
        raise typer.Exit(1) from None


@staff_app.command("add")
def staff_add(
    telegram_user_id: Annotated[int, typer.Argument(help="The member's Telegram user id.")],
    name: Annotated[str, typer.Option(help="Their name, as colleagues know it.")],
    role: Annotated[str, typer.Option(help="operator, supervisor or admin.")] = "operator",
    test_recipient: Annotated[
        bool, typer.Option("--test-recipient", help="Receives test-mode broadcasts.")
    ] = False,
) -> None:
    """Add a staff member, or change the role of one (and reactivate them)."""
    from debtbot.services import staff

    view = _staff_call(
        lambda deps: staff.add_staff(
            deps, actor=staff.CLI_ACTOR, telegram_user_id=telegram_user_id, name=name,
            role=role, receives_tests=test_recipient,
        )
    )
    typer.echo(f"{view.telegram_user_id} {view.name}: {view.role.value}")


@staff_app.command("remove")
def staff_remove(
    telegram_user_id: Annotated[int, typer.Argument(help="The member's Telegram user id.")],
) -> None:
    """Remove a staff member (kept, inactive, so the audit log still names them)."""
    from debtbot.services import staff

    view = _staff_call(
        lambda deps: staff.remove_staff(deps, actor=staff.CLI_ACTOR, telegram_user_id=telegram_user_id)
    )
    typer.echo(f"{view.telegram_user_id} {view.name}: removed")


@staff_app.command("login-link")
def staff_login_link(
    telegram_user_id: Annotated[int, typer.Argument(help="The member's Telegram user id.")],
) -> None:
    """A sign-in link to the staff console for an active member: valid 10 minutes, once."""
    from debtbot.services import console_auth

    link = _staff_call(
        lambda deps: console_auth.login_link(deps, telegram_user_id=telegram_user_id, actor="cli")
    )
    typer.echo(link)


@staff_app.command("list")
def staff_list(
    all_: Annotated[bool, typer.Option("--all", help="Include removed members.")] = False,
) -> None:
    """List staff members: user id, role, name."""
    from debtbot.services import staff

    views = _staff_call(lambda deps: staff.list_staff(deps, include_inactive=all_))
    for view in views:
        flags = ("" if view.active else " (removed)") + (" [tests]" if view.receives_tests else "")
        typer.echo(f"{view.telegram_user_id}\t{view.role.value}\t{view.name}{flags}")
    if not views:
        typer.echo("No staff yet: add one with `debtbot staff add USER_ID --name NAME --role admin`.")


@template_app.command("set")
def template_set(
    name: Annotated[str, typer.Argument(help="The template's name, e.g. surcharge-warning.")],
    el: Annotated[str, typer.Option("--el", help="Greek text (required).")],
    en: Annotated[str, typer.Option("--en", help="English text.")] = "",
    tr: Annotated[str, typer.Option("--tr", help="Turkish text.")] = "",
) -> None:
    """Create or replace a notice template; placeholders {name} {reference} {amount} {deadline}."""
    from debtbot.services import notices, staff

    template = _staff_call(
        lambda deps: notices.save_template(
            deps, actor=staff.CLI_ACTOR, name=name, bodies={"el": el, "en": en, "tr": tr}
        )
    )
    missing = [lang for lang, body in template.bodies.items() if not body]
    typer.echo(f"Saved {template.name}." + (f" No {', '.join(missing)}: Greek is used." if missing else ""))


@template_app.command("list")
def template_list() -> None:
    """List notice templates and their languages."""
    from debtbot.services import notices

    for template in _staff_call(notices.list_templates):
        languages = ",".join(lang for lang, body in template.bodies.items() if body)
        typer.echo(f"{template.name}\t{languages}")


notice_app = typer.Typer(help="Notices to people: a checked CSV list.", no_args_is_help=True)
app.add_typer(notice_app, name="notice")


def _staff_actor(deps, telegram_user_id: int | None, role: str):  # type: ignore[no-untyped-def]
    """The active staff member acting through the CLI (`--as`), so the audit log names who."""
    from debtbot.services import staff

    async def find():  # type: ignore[no-untyped-def]
        if telegram_user_id is None:
            raise staff.NotAllowed(f"say who you are with --as YOUR_TELEGRAM_ID (a {role})")
        member = await staff.staff_member(deps, telegram_user_id=telegram_user_id)
        if member is None:
            raise staff.NotAllowed(f"{telegram_user_id} is not an active staff member")
        return staff.Actor.for_staff(member)

    return find()


@notice_app.command("csv")
def notice_csv(
    file: Annotated[Path, typer.Argument(help="CSV (`,` or `;`, UTF-8 or Windows-1253): chat_id, or id_type+id_number, or reference[+source]; other columns are placeholder values.")],
    template: Annotated[str, typer.Option(help="The notice template's name.")],
    send: Annotated[bool, typer.Option("--send", help="Ask a second supervisor to approve sending it, if every row passes (else only check).")] = False,
    as_: Annotated[int | None, typer.Option("--as", help="Your Telegram user id (a supervisor): the audit log names you.")] = None,
) -> None:
    """Check a notice list row by row; with --send, it waits for a second supervisor's approval
    (`debtbot notice approve ID --as THEIR_ID`, the console or the API)."""
    from debtbot.services import broadcasts, staff

    try:
        csv_text = broadcasts.decode_csv(file.read_bytes())
    except (OSError, staff.StaffError) as error:
        _echo_error(f"Cannot read {file}: {getattr(error, 'detail', '') or type(error).__name__}")
        raise typer.Exit(1) from None
    check = _staff_call(
        lambda deps: broadcasts.check_notice_csv(
            deps, actor=staff.CLI_ACTOR, template=template, csv_text=csv_text
        )
    )
    for problem in check.problems:
        typer.echo(f"line {problem.line}{', ' + problem.column if problem.column else ''}: {problem.problem}")
    if check.unreachable:
        typer.echo(f"{len(check.unreachable)} row(s) reach no chat (lines {', '.join(map(str, check.unreachable[:20]))}).")
    if check.missing_translations:
        typer.echo(f"No translation in {', '.join(check.missing_translations)}: Greek is used.")
    if not check.ok:
        typer.echo(f"{len(check.problems)} problem(s) in {check.rows} row(s): nothing sent.")
        raise typer.Exit(1)
    if not send:
        typer.echo(f"{check.rows} row(s) checked, {check.chats} chat(s). Add --send to send.")
        return

    async def submit(deps):  # type: ignore[no-untyped-def]
        actor = await _staff_actor(deps, as_, "supervisor")
        return await broadcasts.send_notice_csv(
            deps, actor=actor, template=template, csv_text=csv_text
        )

    view, _check = _staff_call(submit)
    typer.echo(
        f"Notice list #{view.id} ({view.expected} chat(s)) waits for a second supervisor: "
        f"debtbot notice approve {view.id} --as THEIR_ID"
    )


@notice_app.command("approve")
def notice_approve(
    list_id: Annotated[int, typer.Argument(help="The notice list's (or broadcast's) number.")],
    as_: Annotated[int | None, typer.Option("--as", help="Your Telegram user id (a supervisor who did not submit it).")] = None,
) -> None:
    """Approve another supervisor's notice list (or broadcast): it goes out."""
    from debtbot.services import broadcasts

    async def approve(deps):  # type: ignore[no-untyped-def]
        actor = await _staff_actor(deps, as_, "supervisor")
        view = await broadcasts.approve_broadcast(deps, actor=actor, broadcast_id=list_id)
        if view.kind == "segment":
            await broadcasts.run_broadcasts(deps)
        return view

    view = _staff_call(approve)
    typer.echo(f"#{view.id} approved by {view.approved_by}: {view.status}, {view.expected} chat(s).")


def _since(value: str | None):  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime, timedelta

    if not value:
        return None
    if value[-1] in "dh" and value[:-1].isdigit():
        unit = {"d": "days", "h": "hours"}[value[-1]]
        return datetime.now(UTC) - timedelta(**{unit: int(value[:-1])})
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        _echo_error("--since takes a date (2026-11-01), a time (2026-11-01T09:00) or 7d / 12h.")
        raise typer.Exit(2) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


@app.command()
def audit(
    since: Annotated[str | None, typer.Option(help="2026-11-01, 2026-11-01T09:00 (UTC), 7d or 12h.")] = None,
    action: Annotated[
        str | None, typer.Option(help="An action, or a prefix ending in '.' (broadcast.).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
) -> None:
    """The audit log, newest first: when, who, what, subject, how many."""
    from debtbot.services import audit as audit_log

    moment = _since(since)
    entries = _staff_call(
        lambda deps: audit_log.list_entries(deps, since=moment, action=action, limit=limit)
    )
    for entry in entries:
        typer.echo(
            f"{entry.at:%Y-%m-%d %H:%M:%S}Z\t{entry.actor}\t{entry.action}\t{entry.subject}\t{entry.count}"
        )


# ---------------------------------------------------------------------------- API tokens

token_app = typer.Typer(help="Bearer tokens for the HTTP API.", no_args_is_help=True)
app.add_typer(token_app, name="token")


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Argument(help="Who uses it, e.g. police-registry.")],
    scope: Annotated[
        list[str],
        typer.Option(
            help="ingest, payments, notices, portal or read; repeat it, or separate by commas "
            "(--scope ingest --scope read, or --scope ingest,read)."
        ),
    ],
) -> None:
    """Create a token; it is shown once and only its SHA-256 is stored."""
    from debtbot.services.api_tokens import UnknownScope, create_token

    scopes = ",".join(scope)  # every --scope given, each possibly a comma-separated list
    try:
        created = asyncio.run(
            _with_deps(_settings(), lambda deps: create_token(deps, name=name, scopes=scopes))
        )
    except (UnknownScope, ValueError) as error:
        _echo_error(f"Not done: {error}")
        raise typer.Exit(2) from None
    typer.echo(created.secret)
    _echo_error(
        f"Token {created.token.id} ({created.token.name}: {', '.join(sorted(created.token.scopes))})"
        " created. Copy it now: it cannot be shown again."
    )


@token_app.command("list")
def token_list() -> None:
    """Every token: id, scopes, name, and whether it was revoked (never the token itself)."""
    from debtbot.services.api_tokens import list_tokens

    for view in asyncio.run(_with_deps(_settings(), list_tokens)):
        state = f"revoked {view.revoked_at:%Y-%m-%d}" if view.revoked_at else "active"
        typer.echo(f"{view.id}\t{','.join(sorted(view.scopes))}\t{state}\t{view.name}")


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[int, typer.Argument(help="The token's id (see `debtbot token list`).")],
) -> None:
    """Revoke a token at once."""
    from debtbot.services.api_tokens import revoke_token

    if not asyncio.run(
        _with_deps(_settings(), lambda deps: revoke_token(deps, token_id=token_id))
    ):
        _echo_error(f"No active token {token_id}.")
        raise typer.Exit(1)
    typer.echo(f"Token {token_id} revoked.")


# ---------------------------------------------------------------------------- reminders

reminders_app = typer.Typer(help="Reminders before legal deadlines.", no_args_is_help=True)
app.add_typer(reminders_app, name="reminders")


@reminders_app.command("preview")
def reminders_preview(
    day: Annotated[str, typer.Option("--date", help="The day, YYYY-MM-DD (Nicosia time).")],
) -> None:
    """Show what would go out that day, per kind and language, without sending anything."""
    from datetime import date

    from sqlalchemy.exc import SQLAlchemyError

    from debtbot.services.plan_reminders import preview_reminders

    try:
        when = date.fromisoformat(day)
    except ValueError:
        _echo_error(f"Not a date: {day!r}. Use YYYY-MM-DD, e.g. 2026-12-01.")
        raise typer.Exit(2) from None
    settings = _settings()
    try:
        lines = asyncio.run(_with_deps(settings, lambda deps: preview_reminders(deps, day=when)))
    except SQLAlchemyError as exc:
        raise _database_problem(settings, exc) from None
    typer.echo(f"Reminders due on {when.isoformat()} (Europe/Nicosia), with today's data; "
               "nothing is sent.")
    if not lines:
        typer.echo("None.")
        return
    typer.echo(f"{'kind':<20}{'language':<10}{'before':<18}{'reminders':>9}")
    for line in lines:
        typer.echo(f"{line.kind:<20}{line.language:<10}{line.milestone:<18}{line.count:>9}")
    totals: dict[str, int] = {}
    for line in lines:
        totals[line.kind] = totals.get(line.kind, 0) + line.count
    typer.echo("Per kind: " + ", ".join(f"{kind} {count}" for kind, count in totals.items()))
    typer.echo(f"Total: {sum(totals.values())}")


@reminders_app.command("plan")
def reminders_plan() -> None:
    """Run one reminder sweep now (the scheduler does this every few minutes)."""
    from sqlalchemy.exc import SQLAlchemyError

    from debtbot.services.plan_reminders import plan_reminders

    settings = _settings()
    try:
        report = asyncio.run(_with_deps(settings, plan_reminders))
    except SQLAlchemyError as exc:
        raise _database_problem(settings, exc) from None
    if report.skipped:
        typer.echo("Another instance is planning right now; nothing done.")
        return
    typer.echo(f"{report.planned} reminders planned, {report.dropped} recorded as missed "
               f"({report.seconds:.2f} s).")


# ---------------------------------------------------------------------------- rules

rules_app = typer.Typer(help="The law the bot applies: built in, and DEBTBOT_RULES_FILE.",
                        no_args_is_help=True)
app.add_typer(rules_app, name="rules")


@rules_app.command("show")
def rules_show() -> None:
    """Print the rule versions in force per kind of debt, with their dates and legal bases
    (the built-in law, DEBTBOT_RULES_FILE's versions, and the settings that are rules)."""
    from debtbot.rulebook import describe

    settings = _settings()
    for line in describe(_rulebook(settings), settings):
        typer.echo(line)


# ---------------------------------------------------------------------------- entry point


def main() -> None:
    app()


if __name__ == "__main__":
    main()
