"""Private questions: asked in a person's own chat with the bot, their answers never kept.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("pending_question") as batch:
        batch.add_column(
            sa.Column("private", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.create_index(
            op.f("ix_pending_question_asked_of_status"), ["asked_of", "status"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("pending_question") as batch:
        batch.drop_index(op.f("ix_pending_question_asked_of_status"))
        batch.drop_column("private")
