"""sign-in requests remember the Telegram user who asked for them, and the browser

"Sign in with CY Login" became a login_url button: Telegram signs the pressing user's id into
the URL, and only the user who asked for the sign-in may go on to the provider. Requests made
before this revision belonged to private chats, whose id is their user's id. Each press's
data opens the page once (telegram_auth_date only grows). The browser that
leaves for the provider is given a cookie (its hash kept here); the callback must bring it back.

Revision ID: 0004_loginurl
Revises: 0003_screens
Create Date: 2026-12-06 10:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_loginurl"
down_revision: str | None = "0003_screens"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("signin_requests") as batch:
        batch.add_column(sa.Column("user_id", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("telegram_auth_date", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("browser_hash", sa.String(length=64), nullable=True))
    op.execute("UPDATE signin_requests SET user_id = chat_id")


def downgrade() -> None:
    with op.batch_alter_table("signin_requests") as batch:
        batch.drop_column("browser_hash")
        batch.drop_column("telegram_auth_date")
        batch.drop_column("user_id")
