"""Import benchmark: a generated registry file of N rows (default 1,000,000) into PostgreSQL and
SQLite through the same code path as `debtbot import` (streamed, 5,000-row batches).

    python bench/import_bench.py                       # both backends, 1,000,000 rows
    python bench/import_bench.py --rows 100000 --backend sqlite
    python bench/import_bench.py --postgres-url postgresql+asyncpg://postgres@127.0.0.1:5432/h_store
    python bench/import_bench.py --backend postgres --linked 50000   # issue #16

`--linked N`: before the import, verified chats (el, en, tr in turn) are linked to holders of
the file chosen so that N of its new open debts belong to them: the import then plans N
"new debt" messages (the news of issue #16) in its own transactions.

The PostgreSQL database is emptied first (every table is dropped, then migrated): give it
one of its own. Each import runs in a fresh child process so its peak RSS is its own.
Goals: under 60 s on PostgreSQL, under 90 s on SQLite, peak RSS under 300 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import random
import resource
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "out"
DEFAULT_PG = os.environ.get(
    "DEBTBOT_BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/h_store"
)
COLUMNS = (
    "kind", "source", "reference", "authority", "holder_type", "id_type", "id_number", "name",
    "date_of_birth", "phone", "language", "amount", "served_on", "due_on", "status", "points",
)
KINDS = (
    ("out_of_court_fine", "police", "Cyprus Police"),
    ("fine_warrant", "courts", "District Court"),
    ("admin_fine", "rtd", "Road Transport Department"),
    ("tax", "tax", "Tax Department"),
    ("customs", "customs", "Department of Customs and Excise"),
)
FIRST = ("Γιώργος", "Μαρία", "Ανδρέας", "Ελένη", "Ayşe", "Mehmet", "Çağla", "John", "Priya",
         "Νίκος", "Özlem", "Σοφία")
LAST = ("Παπαδόπουλος", "Κωνσταντίνου", "Yılmaz", "Öztürk", "Şahin", "Smith", "Χριστοδούλου",
        "Georgiou", "Ιωάννου", "Demir")
TODAY = date(2026, 11, 23)


def generate(path: Path, rows: int, *, seed: int = 7) -> None:
    """Stream `rows` registry rows to `path`: about three debts per holder, 5 % companies."""
    rng = random.Random(seed)  # noqa: S311 (test data)
    holders = max(1, rows // 3)
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(COLUMNS)
        for n in range(rows):
            holder = rng.randrange(holders)
            kind, source, authority = KINDS[n % len(KINDS)]
            served = TODAY - timedelta(days=rng.randrange(0, 400))
            if holder % 20 == 0:
                identity = ("company", "company_reg", f"HE{100000 + holder}",
                            f"{LAST[holder % len(LAST)]} Λτδ", "", "", "")
            else:
                born = date(1940, 1, 1) + timedelta(days=holder % 25000)
                phone = f"+3579{holder % 10_000_000:07d}" if holder % 3 == 0 else ""
                identity = ("person", "id_card", str(1_000_000 + holder),
                            f"{FIRST[holder % len(FIRST)]} {LAST[(holder // 7) % len(LAST)]}",
                            born.isoformat(), phone, ("el", "en", "tr", "")[holder % 4])
            holder_type, id_type, number, name, born_text, phone, language = identity
            writer.writerow((
                kind, source, f"{source.upper()}-{n:08d}", authority, holder_type, id_type,
                number, name, born_text, phone, language,
                f"{rng.randrange(20, 5000)}.{rng.randrange(100):02d}",
                "" if kind == "tax" else served.isoformat(),
                (served + timedelta(days=60)).isoformat() if kind == "tax" else "",
                "paid" if n % 50 == 0 else "", str(rng.randrange(0, 7)) if n % 5 == 0 else "",
            ))


def linked_holders(path: Path, debts: int) -> list[str]:
    """Person holders (id card numbers) whose open debts in the file add up to `debts`."""
    open_debts: dict[str, int] = {}
    with path.open(encoding="utf-8", newline="") as file:
        for record in csv.DictReader(file):
            if record["holder_type"] == "person" and record["status"] != "paid":
                number = record["id_number"]
                open_debts[number] = open_debts.get(number, 0) + 1
    chosen: list[str] = []
    total = 0
    for number in sorted(open_debts, key=int):
        if total >= debts:
            break
        chosen.append(number)
        total += open_debts[number]
    return chosen


async def _link_chats(url: str, numbers: list[str]) -> None:
    """A person (as the registry would have them from an earlier file), a chat and a link per
    number, written straight to the tables."""
    from sqlalchemy import insert, select

    from debtbot.domain.identifiers import identifier_hash, normalise_identifier
    from debtbot.store.db import create_engine
    from debtbot.store.models import Chat, ChatLink, Person

    engine = create_engine(url)
    async with engine.begin() as connection:
        hashes = [identifier_hash(normalise_identifier("id_card", n), "bench-key")
                  for n in numbers]
        for start in range(0, len(hashes), 5000):
            await connection.execute(insert(Person), [
                {"id_type": "id_card", "id_hash": h, "name": "on file"}
                for h in hashes[start:start + 5000]
            ])
        ids = dict((await connection.execute(select(Person.id_hash, Person.id))).all())
        chats = [{"id": 10**9 + n, "language": ("el", "en", "tr")[n % 3]}
                 for n in range(len(hashes))]
        links = [{"chat_id": 10**9 + n, "person_id": ids[h], "verified_by": "dob"}
                 for n, h in enumerate(hashes)]
        for start in range(0, len(chats), 5000):
            await connection.execute(insert(Chat), chats[start:start + 5000])
            await connection.execute(insert(ChatLink), links[start:start + 5000])
    await engine.dispose()


async def _prepare(url: str, linked: list[str] | None = None) -> None:
    from sqlalchemy import text

    from debtbot.store.db import create_engine, is_sqlite
    from debtbot.store.migrate import upgrade_database

    if is_sqlite(url):
        database = Path(url.split("///", 1)[1])
        for leftover in database.parent.glob(database.name + "*"):
            leftover.unlink()
    else:
        engine = create_engine(url)
        async with engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
        await engine.dispose()
    await upgrade_database(url)
    if linked:
        await _link_chats(url, linked)


async def _import(url: str, path: Path) -> dict[str, object]:
    from debtbot.services.deps import Deps
    from debtbot.services.ingest.pipeline import import_file
    from debtbot.settings import Settings
    from debtbot.store.db import create_engine, session_factory

    engine = create_engine(url)
    deps = Deps(settings=Settings(hash_key="bench-key", database_url=url),
                sessions=session_factory(engine),
                clock=lambda: datetime(2026, 11, 23, 10, tzinfo=UTC))
    started = time.perf_counter()
    report = await import_file(deps, path, actor="bench", today=TODAY)
    seconds = time.perf_counter() - started
    server_cpu = await _server_cpu_seconds(engine)
    news = await _news_count(engine)
    await engine.dispose()
    return {
        "news": news,
        "server_cpu_seconds": server_cpu,
        "rows": report.rows, "inserted": report.inserted, "updated": report.updated,
        "unchanged": report.unchanged, "rejected": report.rejected, "seconds": seconds,
    }


async def _news_count(engine: Any) -> int:
    from sqlalchemy import text

    async with engine.connect() as connection:
        return int((await connection.execute(text(
            "SELECT count(*) FROM outbox WHERE dedupe_key LIKE 'news:%'"
        ))).scalar_one())


async def _server_cpu_seconds(engine: Any) -> float | None:
    """CPU time of this database's PostgreSQL backends (the import's pooled connections),
    read from /proc: the server's share of the work, whatever else the machine is doing.
    None for SQLite, or when the server is not on this machine."""
    from sqlalchemy import text

    if engine.dialect.name != "postgresql":
        return None
    async with engine.connect() as connection:
        pids = (await connection.execute(text(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
        ))).scalars().all()
    return _cpu_seconds(pids)


def _cpu_seconds(pids: list[int]) -> float | None:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


def child(url: str, path: Path, *, prepare: bool, linked: Path | None = None) -> None:
    if prepare:
        numbers = json.loads(linked.read_text()) if linked else None
        asyncio.run(_prepare(url, numbers))
    result = asyncio.run(_import(url, path))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result["peak_rss_mb"] = usage.ru_maxrss / 1024  # ru_maxrss is in KiB on Linux
    result["cpu_seconds"] = usage.ru_utime + usage.ru_stime  # this process, all its threads
    sys.stdout.write(json.dumps(result) + "\n")


def run_child(
    url: str, path: Path, *, prepare: bool, linked: Path | None = None
) -> dict[str, object]:
    command = [sys.executable, __file__, "--child", url, "--file", str(path)]
    if prepare:
        command.append("--prepare")
    if linked is not None:
        command += ["--linked-file", str(linked)]
    output = subprocess.run(command, check=True, capture_output=True, text=True)  # noqa: S603
    return json.loads(output.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=("both", "postgres", "sqlite"), default="both")
    parser.add_argument("--postgres-url", default=DEFAULT_PG)
    parser.add_argument("--reimport", action="store_true", help="also time a second import")
    parser.add_argument("--linked", type=int, default=0,
                        help="link chats to holders of this many new debts first (issue #16)")
    parser.add_argument("--linked-file", help=argparse.SUPPRESS)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    parser.add_argument("--prepare", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, Path(args.file), prepare=args.prepare,
              linked=Path(args.linked_file) if args.linked_file else None)
        return

    OUT.mkdir(exist_ok=True)
    path = OUT / f"debts-{args.rows}.csv"
    if not path.exists():
        started = time.perf_counter()
        generate(path, args.rows)
        print(f"generated {path} ({path.stat().st_size / 1e6:.0f} MB) in "
              f"{time.perf_counter() - started:.1f} s")
    linked: Path | None = None
    if args.linked:
        linked = OUT / f"linked-{args.rows}-{args.linked}.json"
        if not linked.exists():
            linked.write_text(json.dumps(linked_holders(path, args.linked)))
        print(f"{len(json.loads(linked.read_text())):,} holders linked to chats, "
              f"about {args.linked:,} of the file's debts")
    targets = []
    if args.backend in ("both", "postgres"):
        targets.append(("PostgreSQL", args.postgres_url))
    if args.backend in ("both", "sqlite"):
        targets.append(("SQLite", f"sqlite+aiosqlite:///{OUT / 'bench.sqlite3'}"))
    for label, url in targets:
        runs = [("first import", True)] + ([("re-import", False)] if args.reimport else [])
        for what, prepare in runs:
            result = run_child(url, path, prepare=prepare, linked=linked)
            rate = result["rows"] / result["seconds"]  # type: ignore[operator]
            print(
                f"{label:10} {what:12} {result['rows']:>9,} rows  {result['seconds']:7.1f} s  "
                f"{rate:9,.0f} rows/s  peak RSS {result['peak_rss_mb']:.0f} MB  "
                f"CPU {result['cpu_seconds']:.1f} s"
                + (f" + server {result['server_cpu_seconds']:.1f} s  "
                   if result.get("server_cpu_seconds") is not None else "  ")
                +
                f"(new {result['inserted']:,}, updated {result['updated']:,}, "
                f"unchanged {result['unchanged']:,}, rejected {result['rejected']:,}, "
                f"news {result['news']:,})"
            )


if __name__ == "__main__":
    main()
