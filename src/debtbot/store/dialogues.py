"""The citizen's dialogues: verification (conversations, attempts, link tokens spent) and
CY Login sign-in requests."""

from __future__ import annotations

from datetime import datetime

from debtbot.store.repository import Repository


class DialogueRepository(Repository):
    """conversations, verification_attempts, used_link_tokens, signin_requests: the only
    writer of their tables."""

    __slots__ = ()

    # -- added for staff
    async def spend_link_token(self, *, token_id: str, used_at: datetime,
                               expires_at: datetime) -> bool:
        """Mark the token used; False if it already was (by this or a concurrent
        redemption)."""
        from sqlalchemy.dialects import postgresql, sqlite

        from debtbot.store.models import UsedLinkToken

        dialect = (self._db.get_bind() if hasattr(self._db, "get_bind") else self._db).dialect
        insert = postgresql.insert if dialect.name == "postgresql" else sqlite.insert
        result = await self._db.execute(
            insert(UsedLinkToken).values(token_id=token_id, used_at=used_at,
                                         expires_at=expires_at)
            .on_conflict_do_nothing(index_elements=["token_id"])
            .returning(UsedLinkToken.token_id)
        )
        return result.scalar_one_or_none() is not None
