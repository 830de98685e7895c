"""debts: the time of service and the tax measures' own dates

Type E note 1 counts the 72 hours from the time of service when the registry knows it
(`served_at`); the Tax Collection Law counts each objection window from its own event: the
debtor informed of a bank freeze (9B(5), `freeze_notified_on`), the seizure (9Γ(5),
`seized_on`), the written notice of a charge on immovable property (9Δ(4),
`charge_notified_on`). All optional: NULL = the registry did not say.

Revision ID: 0003_law
Revises: 0002
Create Date: 2026-12-06 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_law"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("debts") as batch:
        batch.add_column(sa.Column("served_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("freeze_notified_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("seized_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("charge_notified_on", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("debts") as batch:
        batch.drop_column("charge_notified_on")
        batch.drop_column("seized_on")
        batch.drop_column("freeze_notified_on")
        batch.drop_column("served_at")
