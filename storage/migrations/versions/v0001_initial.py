"""Initial schema: workspaces, installations, people, conversations, messages, actions,
approvals, processed events and the outbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Frozen copies of the column types in storage/models.py as of this revision.
def _json() -> sa.JSON:
    return sa.JSON(none_as_null=True).with_variant(
        postgresql.JSONB(none_as_null=True), "postgresql"
    )


def _log_id() -> sa.Column[int]:
    return sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        primary_key=True,
        autoincrement=True,
        nullable=False,
    )


def _uuid(name: str = "id", *, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.String(32), nullable=nullable)


def _str(name: str, length: int, *, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.String(length), nullable=nullable)


def _ts(name: str, *, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "workspace",
        _uuid(),
        _str("platform", 16),
        _str("external_id", 255),
        _str("name", 255, nullable=True),
        sa.Column("spend_cap_cents", sa.Integer(), nullable=True),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workspace")),
        sa.UniqueConstraint(
            "platform", "external_id", name=op.f("uq_workspace_platform_external_id")
        ),
    )
    op.create_table(
        "installation",
        _uuid(),
        _uuid("workspace_id"),
        _str("bot_user_id", 64, nullable=True),
        _str("bot_id", 64, nullable=True),
        sa.Column("bot_token_ciphertext", sa.LargeBinary(), nullable=False),
        _str("installer_user_id", 64, nullable=True),
        _ts("installed_at"),
        sa.Column("refresh_token_ciphertext", sa.LargeBinary(), nullable=True),
        _ts("expires_at", nullable=True),
        sa.Column("scopes", sa.Text(), nullable=True),
        _ts("welcomed_at", nullable=True),
        _ts("rotation_lease_until", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_installation")),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
            name=op.f("fk_installation_workspace_id_workspace"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("workspace_id", name=op.f("uq_installation_workspace_id")),
    )
    op.create_table(
        "workspace_credential",
        _uuid(),
        _uuid("workspace_id"),
        _str("partner", 32),
        sa.Column("key_ciphertext", sa.LargeBinary(), nullable=False),
        _str("key_fingerprint", 64),
        _str("kind", 16, nullable=True),
        _ts("bound_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workspace_credential")),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
            name=op.f("fk_workspace_credential_workspace_id_workspace"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint(
            "workspace_id", "partner", name=op.f("uq_workspace_credential_workspace_id_partner")
        ),
    )
    op.create_table(
        "bind_token",
        _uuid(),
        _str("token_hash", 64),
        _uuid("workspace_id"),
        _str("issued_by", 255, nullable=True),
        sa.Column("notify", _json(), nullable=True),
        _ts("created_at"),
        _ts("expires_at"),
        _ts("used_at", nullable=True),
        _str("used_by_fingerprint", 64, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bind_token")),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
            name=op.f("fk_bind_token_workspace_id_workspace"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("token_hash", name=op.f("uq_bind_token_token_hash")),
    )
    op.create_table(
        "button_token",
        _str("token", 64),
        sa.Column("value", sa.Text(), nullable=False),
        _str("chat_id", 255),
        _str("reply_key", 255, nullable=True),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("token", name=op.f("pk_button_token")),
    )
    op.create_index(op.f("ix_button_token_created_at"), "button_token", ["created_at"])
    op.create_table(
        "person",
        _uuid(),
        _str("platform", 16),
        _str("workspace_external_id", 255),
        _str("user_id", 255),
        _str("external_user_id", 64),
        _str("display_name", 255, nullable=True),
        sa.Column("profile_ciphertext", sa.LargeBinary(), nullable=True),
        _str("profile_hash", 64, nullable=True),
        _ts("provisioned_at", nullable=True),
        _ts("created_at"),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person")),
        sa.UniqueConstraint("external_user_id", name=op.f("uq_person_external_user_id")),
        sa.UniqueConstraint(
            "platform",
            "workspace_external_id",
            "user_id",
            name=op.f("uq_person_platform_workspace_external_id_user_id"),
        ),
    )
    op.create_table(
        "conversation",
        _uuid(),
        _str("platform", 16),
        _str("workspace_id", 255),
        _str("chat_id", 255),
        _str("thread_id", 255),
        sa.Column("state", _json(), nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversation")),
        sa.UniqueConstraint(
            "platform",
            "workspace_id",
            "chat_id",
            "thread_id",
            name=op.f("uq_conversation_platform_workspace_id_chat_id_thread_id"),
        ),
    )
    op.create_table(
        "message",
        _log_id(),
        _uuid("conversation_id"),
        _str("role", 16),
        _str("sender_id", 255, nullable=True),
        sa.Column("content", _json(), nullable=False),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message")),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversation.id"],
            name=op.f("fk_message_conversation_id_conversation"),
            ondelete="CASCADE",
        ),
    )
    op.create_index(op.f("ix_message_conversation_id_id"), "message", ["conversation_id", "id"])
    op.create_table(
        "action",
        _uuid(),
        _str("kind", 64),
        _str("status", 32),
        _uuid("conversation_id"),
        _str("platform", 16),
        _str("workspace_id", 255),
        _str("chat_id", 255),
        _str("thread_id", 255),
        _str("requested_by", 255),
        _str("partner_ref", 255, nullable=True),
        _str("idempotency_key", 255, nullable=True),
        _str("webhook_token_hash", 64, nullable=True),
        sa.Column("payload", _json(), nullable=False),
        sa.Column("result", _json(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        _str("lease_owner", 255, nullable=True),
        _ts("lease_until", nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_action")),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversation.id"],
            name=op.f("fk_action_conversation_id_conversation"),
        ),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_action_idempotency_key")),
        sa.UniqueConstraint("webhook_token_hash", name=op.f("uq_action_webhook_token_hash")),
    )
    op.create_index(op.f("ix_action_conversation_id"), "action", ["conversation_id"])
    op.create_index(op.f("ix_action_kind_partner_ref"), "action", ["kind", "partner_ref"])
    op.create_index(op.f("ix_action_status_kind"), "action", ["status", "kind"])
    op.create_table(
        "approval",
        _uuid(),
        _uuid("action_id", nullable=True),
        _uuid("conversation_id"),
        _str("workspace_id", 255),
        _str("requested_by", 255),
        _str("status", 16),
        sa.Column("snapshot", _json(), nullable=False),
        _ts("created_at"),
        _ts("expires_at"),
        _ts("resolved_at", nullable=True),
        _str("resolved_by", 255, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approval")),
        sa.ForeignKeyConstraint(
            ["action_id"], ["action.id"], name=op.f("fk_approval_action_id_action")
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversation.id"],
            name=op.f("fk_approval_conversation_id_conversation"),
        ),
    )
    op.create_index(op.f("ix_approval_action_id"), "approval", ["action_id"])
    op.create_index(
        op.f("ix_approval_conversation_id_status"), "approval", ["conversation_id", "status"]
    )
    op.create_index(op.f("ix_approval_status_expires_at"), "approval", ["status", "expires_at"])
    op.create_table(
        "processed_event",
        _log_id(),
        _str("key", 255),
        _str("source", 32),
        sa.Column("payload", _json(), nullable=True),
        _ts("done_at", nullable=True),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_processed_event")),
        sa.UniqueConstraint("key", name=op.f("uq_processed_event_key")),
    )
    op.create_index(op.f("ix_processed_event_created_at"), "processed_event", ["created_at"])
    op.create_table(
        "outbox_message",
        _log_id(),
        _str("platform", 16),
        _str("workspace_id", 255),
        _str("chat_id", 255),
        _str("thread_id", 255),
        _str("dedupe_key", 255, nullable=True),
        sa.Column("payload", _json(), nullable=False),
        _str("status", 16),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _ts("next_attempt_at"),
        sa.Column("last_error", sa.Text(), nullable=True),
        _ts("created_at"),
        _ts("sent_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_message")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_outbox_message_dedupe_key")),
    )
    op.create_index(
        op.f("ix_outbox_message_status_next_attempt_at"),
        "outbox_message",
        ["status", "next_attempt_at"],
    )


def downgrade() -> None:
    for table in (
        "outbox_message",
        "processed_event",
        "approval",
        "action",
        "message",
        "conversation",
        "person",
        "button_token",
        "bind_token",
        "workspace_credential",
        "installation",
        "workspace",
    ):
        op.drop_table(table)
