"""dates of birth and phones as keyed hashes; key fingerprints; CY Login sign-in requests

persons.date_of_birth and persons.phone held what they say in plain text: a copy of the
database alone told who was born when and how to call them. They become HMACs bound to the
person's identifier hash (debtbot.domain.keys), made here with DEBTBOT_HASH_KEY, and the
plain columns go. Every person and company row records the fingerprint of the key its hashes
were made with (key_id), so a later key rotation can tell which rows are left to move.

On SQLite, secure_delete is on while this runs, so the pages the plain values leave are
overwritten instead of lingering in the file. On PostgreSQL the old row versions stay in the
table's files until it is vacuumed: run `VACUUM FULL persons` after upgrading.

Downgrading brings the columns back empty: the plain values cannot be recovered from hashes.

Revision ID: 0003_signin
Revises: 0003_console
Create Date: 2026-12-06 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "0003_signin"
down_revision: str | None = "0003_console"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 5000


def _hash_key():  # type: ignore[no-untyped-def]
    from debtbot.domain.keys import HashKey
    from debtbot.settings import load_settings

    secret = context.config.attributes.get("hash_key") or load_settings().hash_key
    return HashKey(secret)


def upgrade() -> None:
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    if sqlite:
        op.execute("PRAGMA secure_delete = ON")
    with op.batch_alter_table("persons") as batch:
        batch.add_column(sa.Column("date_of_birth_hash", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("phone_hash", sa.String(length=64), nullable=True))
        batch.add_column(
            sa.Column("key_id", sa.String(length=16), nullable=False, server_default="")
        )
    with op.batch_alter_table("companies") as batch:
        batch.add_column(
            sa.Column("key_id", sa.String(length=16), nullable=False, server_default="")
        )

    key = _hash_key()
    persons = sa.table(
        "persons",
        sa.column("id", sa.Integer),
        sa.column("id_hash", sa.String),
        sa.column("date_of_birth", sa.Date),
        sa.column("phone", sa.String),
        sa.column("date_of_birth_hash", sa.String),
        sa.column("phone_hash", sa.String),
        sa.column("key_id", sa.String),
    )
    last = 0
    while True:
        rows = bind.execute(
            sa.select(persons.c.id, persons.c.id_hash, persons.c.date_of_birth, persons.c.phone)
            .where(persons.c.id > last)
            .order_by(persons.c.id)
            .limit(_BATCH)
        ).all()
        if not rows:
            break
        last = rows[-1].id
        bind.execute(
            persons.update()
            .where(persons.c.id == sa.bindparam("row_id"))
            .values(
                date_of_birth_hash=sa.bindparam("dob"),
                phone_hash=sa.bindparam("tel"),
                key_id=sa.bindparam("kid"),
                date_of_birth=None,
                phone=None,
            ),
            [
                {
                    "row_id": row.id,
                    "dob": key.date_of_birth(row.id_hash, row.date_of_birth)
                    if row.date_of_birth is not None else None,
                    "tel": key.phone(row.id_hash, row.phone.strip()) if row.phone else None,
                    "kid": key.key_id,
                }
                for row in rows
            ],
        )
    op.execute(sa.text("UPDATE companies SET key_id = :kid").bindparams(kid=key.key_id))

    with op.batch_alter_table("persons") as batch:
        batch.drop_column("date_of_birth")
        batch.drop_column("phone")
        batch.alter_column("key_id", server_default=None)
    with op.batch_alter_table("companies") as batch:
        batch.alter_column("key_id", server_default=None)

    op.create_table(
        "signin_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("handle", sa.String(length=64), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("bot_username", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=64), nullable=True),
        sa.Column("nonce", sa.String(length=64), nullable=True),
        sa.Column("code_verifier", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signin_requests")),
        sa.UniqueConstraint("handle", name=op.f("uq_signin_requests_handle")),
        sa.UniqueConstraint("state", name=op.f("uq_signin_requests_state")),
    )
    op.create_index(
        op.f("ix_signin_requests_chat_id"), "signin_requests", ["chat_id"], unique=False
    )
    if sqlite:
        op.execute("PRAGMA secure_delete = OFF")


def downgrade() -> None:
    op.drop_index(op.f("ix_signin_requests_chat_id"), table_name="signin_requests")
    op.drop_table("signin_requests")
    with op.batch_alter_table("companies") as batch:
        batch.drop_column("key_id")
    with op.batch_alter_table("persons") as batch:
        batch.add_column(sa.Column("date_of_birth", sa.Date(), nullable=True))
        batch.add_column(sa.Column("phone", sa.String(length=20), nullable=True))
        batch.drop_column("key_id")
        batch.drop_column("phone_hash")
        batch.drop_column("date_of_birth_hash")
