"""drop ix_debts_status_kind

Nearly every debt is outstanding, so an index led by status narrows nothing for the queries
that ask for open debts, and the queries that also name a kind use ix_debts_reminder_served
and ix_debts_reminder_due, which begin with (kind, status). What it did cost: one more index
entry for every debt an import or the API writes (about 8 % of the insert).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 19:50:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_debts_status_kind", table_name="debts")


def downgrade() -> None:
    op.create_index("ix_debts_status_kind", "debts", ["status", "kind"], unique=False)
