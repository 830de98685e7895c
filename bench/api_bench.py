"""HTTP API benchmark: 100,000 debts upserted through POST /api/debts/upsert.

    python bench/api_bench.py                                    # PostgreSQL, 100,000 debts
    python bench/api_bench.py --debts 20000 --backend sqlite
    python bench/api_bench.py --postgres-url postgresql+asyncpg://postgres@127.0.0.1:5432/h_api

The server is the real one (build_http_app, the aiohttp server, bearer auth, pydantic
validation, services.ingest) in a process of its own; this process is the client,
sending pre-encoded batches over HTTP with `--concurrency` requests in flight. Measured:
  1. insert: 100,000 new debts (and their 100,000 persons) from an empty database;
  2. update: the same batches again with every amount changed (all updates);
  3. unchanged: the same batches a third time (nothing to write).
Goal (issue): at least 5,000 debts a second on PostgreSQL. The database is emptied first
(tables dropped and re-created): give it one of its own. Results: bench/out/api_bench.jsonl.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import text

OUT = Path(__file__).resolve().parent / "out"
DEFAULT_PG = os.environ.get(
    "DEBTBOT_BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/h_api"
)
KINDS = ("out_of_court_fine", "fine_warrant", "admin_fine", "tax", "customs")


def make_debt(n: int, *, amount_cents: int) -> dict[str, Any]:
    kind = KINDS[n % len(KINDS)]
    debt: dict[str, Any] = {
        "kind": kind,
        "source": "bench",
        "reference": f"B{n:08d}",
        "authority": "Bench Authority",
        "holder_type": "person",
        "id_type": "id_card",
        "id_number": f"{1_000_000 + n}",
        "name": f"Citizen {n}",
        "date_of_birth": f"19{50 + n % 50:02d}-{1 + n % 12:02d}-{1 + n % 28:02d}",
        "amount": f"{amount_cents // 100}.{amount_cents % 100:02d}",
        "served_on": f"2026-0{1 + n % 9}-{1 + n % 28:02d}",
        "language": ("el", "en", "tr")[n % 3],
    }
    if kind == "tax":
        debt["due_on"] = "2026-06-30"
    if n % 4 == 0:
        debt["phone"] = f"+3579{n % 10_000_000:07d}"
    return debt


def batches(total: int, size: int, *, bump: int) -> list[bytes]:
    out = []
    for start in range(0, total, size):
        debts = [make_debt(n, amount_cents=5000 + n % 90_000 + bump)
                 for n in range(start, min(start + size, total))]
        out.append(json.dumps({"debts": debts}).encode())
    return out


# --- the server, in a process of its own ----------------------------------------------


def serve(database_url: str, port_queue: Any, token_queue: Any) -> None:
    asyncio.run(_serve(database_url, port_queue, token_queue))


async def _serve(database_url: str, port_queue: Any, token_queue: Any) -> None:
    from debtbot.http.app import bound_port, build_http_app, start_http_server
    from debtbot.services.api_tokens import create_token
    from debtbot.services.deps import Deps
    from debtbot.settings import Settings
    from debtbot.store.db import create_engine, session_factory

    settings = Settings(_env_file=None, database_url=database_url,  # type: ignore[call-arg]
                        hash_key="bench-hash-key", http_max_body_bytes=16 * 1024 * 1024)
    engine = create_engine(database_url)
    deps = Deps(settings=settings, sessions=session_factory(engine))
    token = await create_token(deps, name="bench", scopes=["ingest"])
    runner = await start_http_server(build_http_app(deps), host="127.0.0.1", port=0)
    token_queue.put(token.secret)
    port_queue.put(bound_port(runner))
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
        await engine.dispose()


# --- the client -------------------------------------------------------------------------


async def reset(database_url: str) -> None:
    from debtbot.store.db import create_engine
    from debtbot.store.models import Base

    engine = create_engine(database_url)
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.drop_all)
        await connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
        await connection.run_sync(Base.metadata.create_all)
    await engine.dispose()


async def send_all(url: str, token: str, bodies: list[bytes], *, concurrency: int,
                   expect: str) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    totals = {"inserted": 0, "updated": 0, "unchanged": 0, "received": 0}
    latencies: list[float] = []

    async def worker(client: aiohttp.ClientSession) -> None:
        while not queue.empty():
            body = queue.get_nowait()
            started = time.perf_counter()
            async with client.post(url, data=body, headers=headers) as reply:
                answer = await reply.json()
                if reply.status != 200:
                    raise RuntimeError(f"{reply.status}: {str(answer)[:500]}")
            latencies.append(time.perf_counter() - started)
            for key in totals:
                totals[key] += answer[key]

    timeout = aiohttp.ClientTimeout(total=600)
    async with aiohttp.ClientSession(timeout=timeout) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    received = totals["received"]
    assert totals[expect] == received, (expect, totals)
    return {
        "phase": expect,
        "debts": received,
        "seconds": round(elapsed, 2),
        "debts_per_second": round(received / elapsed),
        "batch_p50_s": round(latencies[len(latencies) // 2], 3),
        "batch_max_s": round(latencies[-1], 3),
        **totals,
    }


async def main_async(args: argparse.Namespace, database_url: str) -> list[dict[str, Any]]:
    await reset(database_url)

    context = multiprocessing.get_context("spawn")
    port_queue, token_queue = context.Queue(), context.Queue()
    server = context.Process(target=serve, args=(database_url, port_queue, token_queue),
                             daemon=True)
    server.start()
    try:
        token = await asyncio.to_thread(token_queue.get, timeout=60)
        port = await asyncio.to_thread(port_queue.get, timeout=60)
        url = f"http://127.0.0.1:{port}/api/debts/upsert"
        print(f"server on {url}; encoding {args.debts:,} debts in batches of {args.batch:,}",
              file=sys.stderr)
        results = []
        for phase, bump in (("inserted", 0), ("updated", 1), ("unchanged", 1)):
            bodies = batches(args.debts, args.batch, bump=bump)
            result = await send_all(url, token, bodies, concurrency=args.concurrency,
                                    expect=phase)
            result.update(backend=args.backend, batch=args.batch,
                          concurrency=args.concurrency,
                          at=datetime.now(UTC).isoformat(timespec="seconds"))
            print(json.dumps(result), file=sys.stderr)
            results.append(result)
        return results
    finally:
        server.terminate()
        server.join(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--debts", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--backend", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--postgres-url", default=DEFAULT_PG)
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    if args.backend == "postgres":
        database_url = args.postgres_url
    else:
        path = OUT / "api_bench.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        database_url = f"sqlite+aiosqlite:///{path}"
    results = asyncio.run(main_async(args, database_url))
    with (OUT / "api_bench.jsonl").open("a") as log:
        for result in results:
            log.write(json.dumps(result) + "\n")
    first = results[0]
    goal = "met" if first["debts_per_second"] >= 5000 else "NOT met"
    print(f"insert: {first['debts_per_second']:,} debts/s through the API "
          f"(goal 5,000/s on PostgreSQL: {goal})")


if __name__ == "__main__":
    main()
