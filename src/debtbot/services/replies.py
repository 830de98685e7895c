"""A citizen's reply that Telegram would not take, however often it was tried, goes to the
outbox at the highest priority instead of vanishing: the active sender delivers it as soon as
Telegram lets it (services.deliver_outbox), from whichever instance holds the lease.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from debtbot.domain.messages import OutboxPurpose, Priority
from debtbot.services import fleet
from debtbot.services.deps import Deps

log = logging.getLogger(__name__)


async def queue_reply(deps: Deps, *, chat_id: int, payload: dict[str, Any]) -> None:
    """Queue a reply (payload as in domain.messages: HTML text, inline buttons) to go first."""
    async with deps.uow() as uow:
        await uow.outbox.enqueue(
            dedupe_key=f"reply:{chat_id}:{uuid.uuid4().hex}",
            chat_id=chat_id,
            purpose=OutboxPurpose.REPLY,
            payload=payload,
            not_before=deps.clock(),
            priority=Priority.REPLY,
        )
    log.warning("reply to chat %s queued in the outbox after its last direct try", chat_id)
    await fleet.count(deps, fleet.REPLY_QUEUED)
