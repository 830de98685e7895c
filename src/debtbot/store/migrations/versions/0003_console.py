"""the staff console: template versions, notices, console sessions, list approval

Revision ID: 0003_console
Revises: 0003_law
Create Date: 2026-12-06 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_console"
down_revision: str | None = "0003_law"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("notice_templates") as batch:
        batch.add_column(sa.Column("version", sa.Integer(), server_default=sa.text("1"),
                                   nullable=False))
    op.create_table(
        "notice_template_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("template_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("body_el", sa.Text(), nullable=False),
        sa.Column("body_en", sa.Text(), nullable=False),
        sa.Column("body_tr", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"),
                  nullable=False),
        sa.ForeignKeyConstraint(["template_id"], ["notice_templates.id"], ondelete="CASCADE",
                                name=op.f("fk_notice_template_versions_template_id_notice_templates")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice_template_versions")),
        sa.UniqueConstraint("template_id", "version",
                            name=op.f("uq_notice_template_versions_template_id")),
    )
    op.create_index(op.f("ix_notice_template_versions_template_id"), "notice_template_versions",
                    ["template_id"], unique=False)
    # The versions so far: each template's current text is its version 1.
    op.execute(
        "INSERT INTO notice_template_versions "
        "(template_id, version, body_el, body_en, body_tr, created_by, created_at) "
        "SELECT id, 1, body_el, body_en, body_tr, updated_by, updated_at FROM notice_templates"
    )
    op.create_table(
        "notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("template", sa.String(length=100), nullable=False),
        sa.Column("template_version", sa.Integer(), nullable=True),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("chats", sa.Integer(), nullable=False),
        sa.Column("queued", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notices")),
        sa.UniqueConstraint("key", name=op.f("uq_notices_key")),
    )
    op.create_index(op.f("ix_notices_created_at"), "notices", ["created_at"], unique=False)
    op.create_table(
        "console_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("staff_user_id", sa.BigInteger(), nullable=False),
        sa.Column("csrf", sa.String(length=64), nullable=False),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_sessions")),
    )
    op.create_index(op.f("ix_console_sessions_staff_user_id"), "console_sessions",
                    ["staff_user_id"], unique=False)
    with op.batch_alter_table("broadcasts") as batch:
        batch.add_column(sa.Column("template_version", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("rejected_by", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("reject_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("source_csv", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("broadcasts") as batch:
        batch.drop_column("source_csv")
        batch.drop_column("reject_reason")
        batch.drop_column("rejected_by")
        batch.drop_column("template_version")
    op.drop_index(op.f("ix_console_sessions_staff_user_id"), table_name="console_sessions")
    op.drop_table("console_sessions")
    op.drop_index(op.f("ix_notices_created_at"), table_name="notices")
    op.drop_table("notices")
    op.drop_index(op.f("ix_notice_template_versions_template_id"),
                  table_name="notice_template_versions")
    op.drop_table("notice_template_versions")
    with op.batch_alter_table("notice_templates") as batch:
        batch.drop_column("version")
