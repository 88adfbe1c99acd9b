"""Jobs, pending questions, posted messages and chat notes; leases on inbound items.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.JSON:
    return sa.JSON(none_as_null=True).with_variant(
        postgresql.JSONB(none_as_null=True), "postgresql"
    )


def _str(name: str, length: int, *, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.String(length), nullable=nullable)


def _ts(name: str, *, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    with op.batch_alter_table("action") as batch:
        batch.add_column(_ts("next_run_at", nullable=True))
        batch.create_index(op.f("ix_action_next_run_at"), ["next_run_at"])
    with op.batch_alter_table("processed_event") as batch:
        batch.add_column(_str("lease_owner", 255, nullable=True))
        batch.add_column(_ts("lease_until", nullable=True))
    op.create_table(
        "pending_question",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("action_id", sa.String(32), nullable=True),
        sa.Column("conversation_id", sa.String(32), nullable=False),
        _str("platform", 16),
        _str("workspace_id", 255),
        _str("chat_id", 255),
        _str("thread_id", 255),
        _str("asked_of", 255),
        _str("purpose", 64),
        sa.Column("prompt", sa.Text(), nullable=False),
        _str("form", 16),
        sa.Column("options", _json(), nullable=False),
        sa.Column("context", _json(), nullable=False),
        sa.Column("default_value", sa.Text(), nullable=True),
        _str("status", 16),
        sa.Column("answer", sa.Text(), nullable=True),
        _str("answered_by", 255, nullable=True),
        _ts("created_at"),
        _ts("deadline"),
        _ts("answered_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_question")),
        sa.ForeignKeyConstraint(
            ["action_id"], ["action.id"], name=op.f("fk_pending_question_action_id_action")
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversation.id"],
            name=op.f("fk_pending_question_conversation_id_conversation"),
        ),
    )
    op.create_index(op.f("ix_pending_question_action_id"), "pending_question", ["action_id"])
    op.create_index(
        op.f("ix_pending_question_conversation_id_status"),
        "pending_question",
        ["conversation_id", "status"],
    )
    op.create_index(
        op.f("ix_pending_question_status_deadline"), "pending_question", ["status", "deadline"]
    )
    op.create_table(
        "posted_message",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
            nullable=False,
        ),
        _str("platform", 16),
        _str("workspace_id", 255),
        _str("chat_id", 255),
        _str("thread_id", 255),
        _str("reply_key", 255),
        _str("channel", 255),
        _str("message_id", 255),
        _str("shape", 16),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_posted_message")),
        sa.UniqueConstraint(
            "platform",
            "workspace_id",
            "chat_id",
            "thread_id",
            "reply_key",
            name=op.f("uq_posted_message_platform_workspace_id_chat_id_thread_id_reply_key"),
        ),
    )
    op.create_index(
        op.f("ix_posted_message_platform_channel_message_id"),
        "posted_message",
        ["platform", "channel", "message_id"],
    )
    op.create_table(
        "chat_note",
        _str("platform", 16),
        _str("scope", 512),
        _str("name", 32),
        sa.Column("value", sa.Text(), nullable=False),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("platform", "scope", "name", name=op.f("pk_chat_note")),
    )


def downgrade() -> None:
    op.drop_table("chat_note")
    op.drop_table("posted_message")
    op.drop_table("pending_question")
    with op.batch_alter_table("processed_event") as batch:
        batch.drop_column("lease_until")
        batch.drop_column("lease_owner")
    with op.batch_alter_table("action") as batch:
        batch.drop_index(op.f("ix_action_next_run_at"))
        batch.drop_column("next_run_at")
