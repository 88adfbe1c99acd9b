"""Events from the chat: the chat → event link, members' say about being shared, and
identity reviews decided once.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "chat_event",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("workspace_id", sa.String(255), nullable=False),
        sa.Column("chat_id", sa.String(255), nullable=False),
        sa.Column("thread_id", sa.String(255), nullable=False),
        sa.Column("event_id", sa.String(128), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("organiser", sa.String(255), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("enriched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_event")),
        sa.UniqueConstraint("event_id", name=op.f("uq_chat_event_event_id")),
        sa.UniqueConstraint(
            "platform",
            "workspace_id",
            "chat_id",
            name=op.f("uq_chat_event_platform_workspace_id_chat_id"),
        ),
    )
    op.create_table(
        "chat_event_member",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("workspace_id", sa.String(255), nullable=False),
        sa.Column("chat_id", sa.String(255), nullable=False),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("opted_out", sa.Boolean(), nullable=False),
        sa.Column("shared_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_event_member")),
        sa.UniqueConstraint(
            "platform",
            "workspace_id",
            "chat_id",
            "user_id",
            name=op.f("uq_chat_event_member_platform_workspace_id_chat_id_user_id"),
        ),
    )
    op.create_table(
        "chat_event_review",
        sa.Column("review_id", sa.String(128), nullable=False),
        sa.Column("chat_event_id", sa.String(32), nullable=False),
        sa.Column("source_id", sa.String(255), nullable=False),
        sa.Column("target_id", sa.String(255), nullable=False),
        sa.Column("decision", sa.String(16), nullable=True),
        sa.Column("decided_by", sa.String(255), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["chat_event_id"],
            ["chat_event.id"],
            name=op.f("fk_chat_event_review_chat_event_id_chat_event"),
        ),
        sa.PrimaryKeyConstraint("review_id", name=op.f("pk_chat_event_review")),
    )
    op.create_index(
        op.f("ix_chat_event_review_chat_event_id"),
        "chat_event_review",
        ["chat_event_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_chat_event_review_chat_event_id"), table_name="chat_event_review")
    op.drop_table("chat_event_review")
    op.drop_table("chat_event_member")
    op.drop_table("chat_event")
