"""The citizen's dialogues: verification (conversations, attempts, link tokens spent) and
CY Login sign-in requests."""

from __future__ import annotations

from debtbot.store.repository import Repository


class DialogueRepository(Repository):
    """conversations, verification_attempts, used_link_tokens, signin_requests: the only
    writer of their tables."""

    __slots__ = ()
