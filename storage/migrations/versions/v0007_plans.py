"""Group plans: each person's vote and "I'm in", one row per person and kind.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "plan_choice",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("plan_id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.Column("name", sa.LargeBinary(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["action.id"], name=op.f("fk_plan_choice_plan_id_action")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_choice")),
        sa.UniqueConstraint(
            "plan_id", "kind", "user_id", name=op.f("uq_plan_choice_plan_id_kind_user_id")
        ),
    )
    op.create_index(op.f("ix_plan_choice_plan_id"), "plan_choice", ["plan_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_plan_choice_plan_id"), table_name="plan_choice")
    op.drop_table("plan_choice")
