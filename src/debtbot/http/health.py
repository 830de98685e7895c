"""Liveness (`/healthz`: the process answers) and readiness (`/readyz`: the database too)."""

from __future__ import annotations

from typing import Literal

from debtbot.http.base import ApiError, Call, Operation, Reply
from debtbot.services.api_status import database_ready


class Health(Reply):
    status: Literal["ok"]


async def healthz(call: Call) -> Health:
    """The process is up."""
    return Health(status="ok")


async def readyz(call: Call) -> Health:
    """The process is up and its database answers."""
    if not await database_ready(call.deps):
        raise ApiError(503, "not_ready", "The database does not answer.")
    return Health(status="ok")


OPERATIONS = [
    Operation("GET", "/healthz", "healthz", "Liveness", "health", healthz, Health),
    Operation(
        "GET", "/readyz", "readyz", "Readiness (database reachable)", "health", readyz, Health,
        errors=(503,),
    ),
]
