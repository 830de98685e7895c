"""The statements every update runs, prepared once under a name.

Building a statement costs more than running it, so the hot ones are module constants,
registered here by name; a run then finds SQLAlchemy's compiled form in its compiled cache
(the cache key of a constant is worked out once) and goes through the public
`execute`. Only public APIs: no compiler state, no driver internals.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql import Executable

_statements: dict[str, Executable] = {}


def prepare(name: str, statement: Executable) -> None:
    """Register `statement` under `name` (at import: one name, one statement)."""
    if name in _statements and _statements[name] is not statement:
        raise ValueError(f"a statement named {name!r} is registered already")
    _statements[name] = statement


async def fetch(
    db: AsyncConnection | AsyncSession, name: str, parameters: Mapping[str, Any]
) -> Sequence[Sequence[Any]]:
    """The rows of the statement named `name`, typed as SQLAlchemy types them."""
    return (await db.execute(_statements[name], parameters)).all()


async def execute(
    db: AsyncConnection | AsyncSession, name: str, parameters: Mapping[str, Any]
) -> None:
    """Run the writing statement named `name` (the caller commits: `Store.write_once` or
    the unit of work)."""
    await db.execute(_statements[name], parameters)
