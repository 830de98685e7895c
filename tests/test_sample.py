"""The sample data imports cleanly and keeps its debts' ages whatever the date."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from debtbot import sample
from debtbot.services.deps import Deps
from debtbot.services.ingest.pipeline import import_file
from debtbot.settings import Settings
from debtbot.store.models import Company, CompanyRepresentative, DebtRow, Person


async def test_the_sample_imports_without_errors_or_warnings(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    today = date(2027, 3, 1)
    deps = Deps(settings=Settings(hash_key="k"), sessions=sessions,
                clock=lambda: datetime(2027, 3, 1, 10, tzinfo=UTC))
    path = sample.write(tmp_path / "sample.csv", today)

    report = await import_file(deps, path, actor="test", today=today)

    assert (report.rejected, report.errors, report.warnings) == (0, [], [])
    async with sessions() as session:
        counts = [await session.scalar(select(func.count()).select_from(model))
                  for model in (Person, Company, CompanyRepresentative, DebtRow)]
        kinds = set(await session.scalars(select(DebtRow.kind)))
        served = await session.scalar(
            select(DebtRow.served_on).where(DebtRow.reference == "OOC-2026-000103"))
    assert counts == [9, 3, 3, 21]
    assert kinds == {"out_of_court_fine", "fine_warrant", "admin_fine", "tax", "customs"}
    assert served == date(2027, 2, 28)  # served "yesterday", as on the day it was written
