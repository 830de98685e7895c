"""the citizen's screens: registry dates, refunds, debt messages

debts.surcharge_on and debts.prosecution_on hold the registry's own dates when it sends them
(they win over the rulebook's); payments.refund_due what a payment paid beyond what was due;
debt_messages the messages with debts and buttons sent to each chat, whose buttons /forget
turns into "no longer valid".

Revision ID: 0003_screens
Revises: 0003_fleet
Create Date: 2026-12-06 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_screens"
down_revision: str | None = "0003_fleet"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("debts") as batch:
        batch.add_column(sa.Column("surcharge_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("prosecution_on", sa.Date(), nullable=True))
    with op.batch_alter_table("payments") as batch:
        batch.add_column(sa.Column("refund_due", sa.BigInteger(), nullable=True))
    op.create_table(
        "debt_messages",
        sa.Column("chat_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("message_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("chat_id", "message_id", name=op.f("pk_debt_messages")),
    )


def downgrade() -> None:
    op.drop_table("debt_messages")
    with op.batch_alter_table("payments") as batch:
        batch.drop_column("refund_due")
    with op.batch_alter_table("debts") as batch:
        batch.drop_column("prosecution_on")
        batch.drop_column("surcharge_on")
