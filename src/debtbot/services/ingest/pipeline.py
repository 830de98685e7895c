"""A file import, batch by batch: a thread reads and checks the file and prepares the next
batches (reading.py, validation.py, upsert.prepare_batch) while the event loop writes the one
before (upsert.py), one unit of work per batch. With `strict`, the file is checked first and
nothing is written unless every row is valid.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import sys
import threading
from collections.abc import Awaitable, Callable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

from debtbot.domain.keys import Keyring
from debtbot.domain.rules import Rulebook
from debtbot.services.deps import Deps
from debtbot.services.ingest.reading import (
    ImportFileError,
    ImportReport,
    Progress,
    validated_rows,
)
from debtbot.services.ingest.upsert import (
    PreparedBatch,
    prepare_batch,
    upsert_debts,
)
from debtbot.services.ingest.validation import DebtRecord, RecordError
from debtbot.services.plan_news import release_held_news, withhold_new_debt_news
from debtbot.store.unit_of_work import Store

DEFAULT_BATCH_SIZE = 5000


async def import_file(
    deps: Deps,
    path: Path | str,
    *,
    actor: str,
    strict: bool = False,
    source: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Progress | None = None,
    today: date | None = None,
) -> ImportReport:
    """Import a CSV or JSON-lines file in batches, one transaction per batch.

    Rows that fail validation are reported and skipped; with `strict` the file is checked
    first and nothing is written unless every row is valid. Raises ImportFileError when the
    file as a whole cannot be read (then nothing is written either).
    """
    path = Path(path)
    if not path.is_file():
        raise ImportFileError(f"{path} is not a file")
    if today is None:
        today = deps.clock().astimezone(deps.settings.tz).date()
    report = ImportReport()
    if strict:
        for item in validated_rows(path, report, today=today, source=source, progress=progress):
            if isinstance(item, RecordError):
                report.error(item)
        if report.rejected:
            report.committed = False
            async with deps.uow() as uow:
                await uow.audit.record(
                    actor=actor, action="debts.import", count=0,
                    details={"file": path.name, "rows": report.rows, "rejected": report.rejected,
                             "strict": True, "committed": False},
                    at=deps.clock(),
                )
            return report
        report = ImportReport()  # second pass: the counts again, this time writing

    batch_number = 0
    # The news of the whole file goes out together when it has been read to the end (one
    # message per chat however the batches fall); if the import dies, after the hold.
    holds: list[datetime] = []

    async def flush(batch: PreparedBatch) -> None:
        nonlocal batch_number
        batch_number += 1
        result = await upsert_debts(
            deps, batch, actor=actor,
            audit_details={"file": path.name, "batch": batch_number, "strict": strict},
            durable=False, news_hold=IMPORT_NEWS_HOLD,
        )
        report.news += result.news_planned
        if result.news_held_until is not None:
            holds.append(result.news_held_until)
        report.inserted += result.inserted
        report.updated += result.updated
        report.unchanged += result.unchanged
        report.closed += len(result.closed_debt_ids)
        report.messages_cancelled += result.cancelled_messages
        if batch_number & (batch_number - 1) == 0:  # batches 1, 2, 4, 8, …: the tables doubled
            await _refresh_statistics(deps)

    with _bulk_pace():
        await _write_batches(path, report, flush, today=today, source=source,
                             progress=progress, batch_size=batch_size,
                             keyring=deps.settings.keyring, store=deps.store,
                             rulebook=deps.rulebook)
    if batch_number == 0:
        # An import with nothing to write is still in the audit log.
        await flush(prepare_batch([], deps.settings.keyring, rulebook=deps.rulebook))
    else:
        await _refresh_statistics(deps)
    if holds:
        async with deps.uow() as uow:
            if report.repeated:
                report.news -= await withhold_new_debt_news(uow, report.repeated)
            await release_held_news(uow, deps.settings, holds=holds, now=deps.clock(),
                                    rulebook=deps.rulebook)
    return report


# How long a file import may hold back its news before it goes out anyway (a crash midway).
IMPORT_NEWS_HOLD = timedelta(minutes=30)


async def _refresh_statistics(deps: Deps) -> None:
    async with deps.uow() as uow:
        await uow.debts.refresh_statistics()


@contextlib.contextmanager
def _bulk_pace() -> Iterator[None]:
    # A million rows allocate tens of millions of short-lived objects, hardly any in a
    # reference cycle (a rejected row's error): scanning the youngest generation every 700
    # allocations (the default) costs about a tenth of the validation time for little.
    # Collections still run, less often; the setting is restored afterwards.
    thresholds = gc.get_threshold()
    gc.set_threshold(max(thresholds[0], 50_000), *thresholds[1:])
    # The reading thread keeps the interpreter lock busy; each time the database answers,
    # the writing side waits for the lock up to the switch interval (5 ms by default) while
    # the server sits idle. A 0.2 ms interval hands it over at once.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(0.0002)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        sys.setswitchinterval(interval)


async def _write_batches(
    path: Path,
    report: ImportReport,
    flush: Callable[[PreparedBatch], Awaitable[None]],
    *,
    today: date,
    source: str | None,
    progress: Progress | None,
    batch_size: int,
    keyring: Keyring,
    store: Store,
    rulebook: Rulebook,
) -> None:
    # Reading, validating and preparing batches (a thread of its own) overlaps writing them:
    # the database's share of the work (the server, or SQLite's C code) runs meanwhile. The
    # reader keeps up to READ_AHEAD batches ready, so neither side waits for the other's
    # slower batches: reading a batch and writing one take about as long.
    loop = asyncio.get_running_loop()
    ready: asyncio.Queue[PreparedBatch | BaseException | None] = asyncio.Queue()
    slots = threading.Semaphore(READ_AHEAD)
    stop = threading.Event()

    def read() -> None:
        records = _batches(
            validated_rows(path, report, today=today, source=source, progress=progress),
            report, batch_size,
        )
        try:
            for batch in records:
                prepared = prepare_batch(batch, keyring, rulebook=rulebook)
                store.prepare(prepared.debts)  # the store's own encoding, off the writer's path
                while not slots.acquire(timeout=0.1):
                    if stop.is_set():
                        return
                if stop.is_set():
                    return
                loop.call_soon_threadsafe(ready.put_nowait, prepared)
            loop.call_soon_threadsafe(ready.put_nowait, None)
        except BaseException as exc:  # noqa: BLE001 (handed to the writing side, raised there)
            loop.call_soon_threadsafe(ready.put_nowait, exc)
        finally:
            records.close()  # closes the file

    reader = threading.Thread(target=read, name="debtbot-import-reader", daemon=True)
    reader.start()
    try:
        while (item := await ready.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            slots.release()
            await flush(item)
    finally:
        stop.set()
        await asyncio.to_thread(reader.join)


READ_AHEAD = 3  # prepared batches the reading thread may hold ready (about 3 MB each)


def _batches(
    items: Iterator[DebtRecord | RecordError], report: ImportReport, size: int
) -> Iterator[list[DebtRecord]]:
    batch: list[DebtRecord] = []
    for item in items:
        if isinstance(item, RecordError):
            report.error(item)
            continue
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


