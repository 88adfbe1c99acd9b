"""Calls and reservations: one question per partner request, open to all or not, the item
that answered it, Call Agent webhooks, a person's booking profile.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("person") as batch:
        batch.add_column(sa.Column("booking_profile_ciphertext", sa.LargeBinary(), nullable=True))
    with op.batch_alter_table("pending_question") as batch:
        batch.add_column(sa.Column("dedupe_key", sa.String(255), nullable=True))
        batch.add_column(sa.Column("answer_origin", sa.String(255), nullable=True))
        batch.add_column(
            sa.Column("open_to_all", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.create_unique_constraint(op.f("uq_pending_question_dedupe_key"), ["dedupe_key"])
    op.create_table(
        "call_webhook",
        sa.Column("key_fingerprint", sa.String(64), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("secret_ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key_fingerprint", name=op.f("pk_call_webhook")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_call_webhook_token_hash")),
    )


def downgrade() -> None:
    with op.batch_alter_table("person") as batch:
        batch.drop_column("booking_profile_ciphertext")
    op.drop_table("call_webhook")
    with op.batch_alter_table("pending_question") as batch:
        batch.drop_constraint(op.f("uq_pending_question_dedupe_key"), type_="unique")
        batch.drop_column("open_to_all")
        batch.drop_column("answer_origin")
        batch.drop_column("dedupe_key")
