"""chats.news_enabled: news of new and changed debts on or off (on by default)

Revision ID: 0003_news
Revises: 0003_signin
Create Date: 2026-12-06 09:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_news"
down_revision: str | None = "0003_signin"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("chats") as batch:
        batch.add_column(
            sa.Column("news_enabled", sa.Boolean(), server_default=sa.true(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("chats") as batch:
        batch.drop_column("news_enabled")
