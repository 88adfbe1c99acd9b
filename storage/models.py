"""SQLModel tables.

Conventions:

* Entity ids (workspace, installation, person, conversation, action, approval) are uuid4 hex
  strings: they travel in button values, URLs and logs and must not be guessable or ordered.
  Append-only logs (message, processed_event, outbox_message) use integer autoincrement ids
  (BIGINT on PostgreSQL), whose order is the insertion order.
* Every timestamp is timezone-aware UTC (``UTCDateTime``; naive datetimes are refused).
* JSON columns are ``jsonb`` on PostgreSQL and JSON text on SQLite; ``None`` is SQL NULL.
* Columns holding people's words or data (history, payloads, answers…) are sealed as a
  whole (``_sealed_json`` / ``_sealed_text``, see ``storage.sealing``): ciphertext on disk,
  clear values in Python. They can't be searched or compared in SQL, only ``IS NULL``.
* "No thread" is ``""``, never NULL, so unique indexes behave the same on both databases.
* Constraint and index names come from ``NAMING_CONVENTION`` so migrations are deterministic.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from storage.sealing import SealedJSON, SealedText

__all__ = [
    "NAMING_CONVENTION",
    "Action",
    "Approval",
    "CallWebhook",
    "ChatEvent",
    "ChatEventMember",
    "ChatEventReview",
    "ChatNote",
    "Conversation",
    "Installation",
    "Message",
    "OutboxMessage",
    "PendingQuestion",
    "Person",
    "PostedMessage",
    "ProcessedEvent",
    "StorageModel",
    "UTCDateTime",
    "Workspace",
    "metadata",
    "new_id",
    "utc_now",
]

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


class UTCDateTime(TypeDecorator[datetime]):
    """``timestamp with time zone``; binds aware datetimes as UTC, returns aware UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime given to a UTC column; use datetime.now(UTC)")
        value = value.astimezone(UTC)
        # SQLite keeps text without an offset: store the UTC wall time.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _json() -> JSON:
    return JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")


def _ts(*, nullable: bool = False, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


def _created(*, index: bool = False) -> Any:
    return Field(
        default_factory=utc_now, sa_column=Column(UTCDateTime(), nullable=False, index=index)
    )


def _json_col(*, nullable: bool, default_factory: Any = None) -> Any:
    if default_factory is None:
        return Field(default=None, sa_column=Column(_json(), nullable=nullable))
    return Field(default_factory=default_factory, sa_column=Column(_json(), nullable=nullable))


def _sealed_json(table: str, column: str, *, nullable: bool, default_factory: Any = None) -> Any:
    """A JSON column sealed as a whole (``storage.sealing``): people's words and data."""
    sa_column: Column[Any] = Column(column, SealedJSON(table, column), nullable=nullable)
    if default_factory is None:
        return Field(default=None, sa_column=sa_column)
    return Field(default_factory=default_factory, sa_column=sa_column)


def _sealed_text(table: str, column: str, *, nullable: bool) -> Any:
    """A text column sealed as a whole (``storage.sealing``)."""
    if nullable:
        return Field(default=None, sa_column=Column(column, SealedText(table, column)))
    return Field(sa_column=Column(column, SealedText(table, column), nullable=False))


def _log_id() -> Any:
    return Field(
        default=None,
        sa_column=Column(
            BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
        ),
    )


class StorageModel(SQLModel, registry=registry(metadata=metadata)):
    """Base of every table of the concierge (its own MetaData, with a naming convention)."""


class Workspace(StorageModel, table=True):
    """A Slack team, a Telegram chat or the console; its partner keys are credentials."""

    __tablename__ = "workspace"
    __table_args__ = (UniqueConstraint("platform", "external_id"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    platform: str = Field(max_length=16)
    external_id: str = Field(max_length=255)
    name: str | None = Field(default=None, max_length=255)
    spend_cap_cents: int | None = None
    """What one booking may cost here, set by a workspace admin; None = the default."""
    created_at: datetime = _created()


class Installation(StorageModel, table=True):
    """The bot's installation in a workspace (one per workspace; reinstalling replaces it)."""

    __tablename__ = "installation"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    workspace_id: str = Field(
        sa_column=Column(
            String(32),
            ForeignKey("workspace.id", ondelete="CASCADE"),
            nullable=False,
            unique=True,
        )
    )
    bot_user_id: str | None = Field(default=None, max_length=64)
    bot_id: str | None = Field(default=None, max_length=64)
    bot_token_ciphertext: bytes
    installer_user_id: str | None = Field(default=None, max_length=64)
    installed_at: datetime = _created()
    refresh_token_ciphertext: bytes | None = None
    expires_at: datetime | None = _ts(nullable=True)
    scopes: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    """The bot scopes the workspace granted, comma-separated."""
    welcomed_at: datetime | None = _ts(nullable=True)
    """When the installer got the welcome DM; None = try again on their next App Home open."""
    rotation_lease_until: datetime | None = _ts(nullable=True)
    """Held by the one process refreshing the bot token (refresh tokens are single-use)."""


class WorkspaceCredential(StorageModel, table=True):
    """A partner key bound to one workspace (sealed, bound to its row), and what kind it is."""

    __tablename__ = "workspace_credential"
    __table_args__ = (UniqueConstraint("workspace_id", "partner"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    workspace_id: str = Field(
        sa_column=Column(String(32), ForeignKey("workspace.id", ondelete="CASCADE"), nullable=False)
    )
    partner: str = Field(max_length=32)
    key_ciphertext: bytes
    key_fingerprint: str = Field(max_length=64)
    kind: str | None = Field(default=None, max_length=16)
    bound_at: datetime = _created()


class BindToken(StorageModel, table=True):
    """A one-time token that lets an admin bind partner keys to one workspace (hash only)."""

    __tablename__ = "bind_token"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    token_hash: str = Field(unique=True, max_length=64)
    workspace_id: str = Field(
        sa_column=Column(String(32), ForeignKey("workspace.id", ondelete="CASCADE"), nullable=False)
    )
    issued_by: str | None = Field(default=None, max_length=255)
    notify: dict[str, Any] | None = _json_col(nullable=True)
    """Where to say that the workspace was bound (the welcome DM's address)."""
    created_at: datetime = _created()
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    used_at: datetime | None = _ts(nullable=True)
    used_by_fingerprint: str | None = Field(default=None, max_length=64)


class Person(StorageModel, table=True):
    """A chat identity and the stable id the concierge uses for it with partners."""

    __tablename__ = "person"
    __table_args__ = (UniqueConstraint("platform", "workspace_external_id", "user_id"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    platform: str = Field(max_length=16)
    workspace_external_id: str = Field(max_length=255)
    user_id: str = Field(max_length=255)
    external_user_id: str = Field(default_factory=new_id, unique=True, max_length=64)
    display_name: str | None = _sealed_text("person", "display_name", nullable=True)
    profile_ciphertext: bytes | None = None
    profile_hash: str | None = Field(default=None, max_length=64)
    booking_profile_ciphertext: bytes | None = None
    """What reservations are made under (name, e-mail, phone), given by the person, sealed."""
    provisioned_at: datetime | None = _ts(nullable=True)
    created_at: datetime = _created()
    updated_at: datetime = _created()


class Conversation(StorageModel, table=True):
    """One chat thread (or a whole chat when ``thread_id == ""``) and its working state."""

    __tablename__ = "conversation"
    __table_args__ = (UniqueConstraint("platform", "workspace_id", "chat_id", "thread_id"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    platform: str = Field(max_length=16)
    workspace_id: str = Field(max_length=255)
    chat_id: str = Field(max_length=255)
    thread_id: str = Field(default="", max_length=255)
    state: dict[str, Any] = _sealed_json(
        "conversation", "state", nullable=False, default_factory=dict
    )
    created_at: datetime = _created()
    updated_at: datetime = _created()


class Message(StorageModel, table=True):
    """One transcript entry; ``content`` is a list of neutral parts storage does not read."""

    __tablename__ = "message"
    __table_args__ = (Index(None, "conversation_id", "id"),)

    id: int | None = _log_id()
    conversation_id: str = Field(
        sa_column=Column(
            String(32), ForeignKey("conversation.id", ondelete="CASCADE"), nullable=False
        )
    )
    role: str = Field(max_length=16)
    sender_id: str | None = Field(default=None, max_length=255)
    content: list[Any] = _sealed_json("message", "content", nullable=False, default_factory=list)
    created_at: datetime = _created()


class Action(StorageModel, table=True):
    """A partner operation that outlives one request (search, booking, call, job)."""

    __tablename__ = "action"
    __table_args__ = (
        Index(None, "status", "kind"),
        Index(None, "kind", "partner_ref"),
        Index(None, "next_run_at"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    kind: str = Field(max_length=64)
    status: str = Field(max_length=32)
    conversation_id: str = Field(
        sa_column=Column(String(32), ForeignKey("conversation.id"), nullable=False, index=True)
    )
    platform: str = Field(max_length=16)
    workspace_id: str = Field(max_length=255)
    chat_id: str = Field(max_length=255)
    thread_id: str = Field(default="", max_length=255)
    requested_by: str = Field(max_length=255)
    partner_ref: str | None = Field(default=None, max_length=255)
    idempotency_key: str | None = Field(default=None, unique=True, max_length=255)
    webhook_token_hash: str | None = Field(default=None, unique=True, max_length=64)
    payload: dict[str, Any] = _sealed_json(
        "action", "payload", nullable=False, default_factory=dict
    )
    result: dict[str, Any] | None = _sealed_json("action", "result", nullable=True)
    error: str | None = _sealed_text("action", "error", nullable=True)
    lease_owner: str | None = Field(default=None, max_length=255)
    lease_until: datetime | None = _ts(nullable=True)
    next_run_at: datetime | None = _ts(nullable=True)
    """When a job runner should next work on it (None: nothing to do until something
    arrives from outside — a webhook, an answer — or it is finished)."""
    attempts: int = 0
    created_at: datetime = _created()
    updated_at: datetime = _created()


class Approval(StorageModel, table=True):
    """A human gate: pending → granted | rejected | expired, resolved exactly once."""

    __tablename__ = "approval"
    __table_args__ = (
        Index(None, "conversation_id", "status"),
        Index(None, "status", "expires_at"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    action_id: str | None = Field(
        default=None,
        sa_column=Column(String(32), ForeignKey("action.id"), nullable=True, index=True),
    )
    conversation_id: str = Field(
        sa_column=Column(String(32), ForeignKey("conversation.id"), nullable=False)
    )
    workspace_id: str = Field(max_length=255)
    requested_by: str = Field(max_length=255)
    status: str = Field(default="pending", max_length=16)
    snapshot: dict[str, Any] = _sealed_json(
        "approval", "snapshot", nullable=False, default_factory=dict
    )
    created_at: datetime = _created()
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    resolved_at: datetime | None = _ts(nullable=True)
    resolved_by: str | None = Field(default=None, max_length=255)


class ProcessedEvent(StorageModel, table=True):
    """An inbound event id claimed before work starts (dedupe that survives restarts)."""

    __tablename__ = "processed_event"

    id: int | None = _log_id()
    key: str = Field(unique=True, max_length=255)
    source: str = Field(max_length=32)
    payload: dict[str, Any] | None = _json_col(nullable=True)
    """The accepted inbound item, so work not finished before a crash is resumed at boot."""
    done_at: datetime | None = _ts(nullable=True)
    lease_owner: str | None = Field(default=None, max_length=255)
    lease_until: datetime | None = _ts(nullable=True)
    """Held by the process working on the item; a dead process's item is taken over after it."""
    created_at: datetime = _created(index=True)


class OutboxMessage(StorageModel, table=True):
    """A reply that must reach a chat; delivered (and retried) by the outbox sender."""

    __tablename__ = "outbox_message"
    __table_args__ = (Index(None, "status", "next_attempt_at"),)

    id: int | None = _log_id()
    platform: str = Field(max_length=16)
    workspace_id: str = Field(max_length=255)
    chat_id: str = Field(max_length=255)
    thread_id: str = Field(default="", max_length=255)
    dedupe_key: str | None = Field(default=None, unique=True, max_length=255)
    payload: dict[str, Any] = _sealed_json(
        "outbox_message", "payload", nullable=False, default_factory=dict
    )
    status: str = Field(default="pending", max_length=16)
    attempts: int = 0
    next_attempt_at: datetime = _created()
    last_error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = _created()
    sent_at: datetime | None = _ts(nullable=True)


class ButtonToken(StorageModel, table=True):
    """A short random token standing for a button's value where platforms allow only a few
    bytes of callback data (Telegram); kept so buttons still work after a restart."""

    __tablename__ = "button_token"

    token: str = Field(primary_key=True, max_length=64)
    value: str = Field(sa_column=Column(Text, nullable=False))
    chat_id: str = Field(max_length=255)
    reply_key: str | None = Field(default=None, max_length=255)
    created_at: datetime = _created(index=True)


class PendingQuestion(StorageModel, table=True):
    """A question a job asks a person mid-task: posted once, answered once.

    ``form`` is ``text``, ``yes_no`` or ``choice`` (``options`` then lists ``{"value",
    "label"}``); when ``deadline`` passes, ``default_value`` is taken (stated in the question).
    """

    __tablename__ = "pending_question"
    __table_args__ = (
        Index(None, "conversation_id", "status"),
        Index(None, "status", "deadline"),
        Index(None, "asked_of", "status"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    action_id: str | None = Field(
        default=None,
        sa_column=Column(String(32), ForeignKey("action.id"), nullable=True, index=True),
    )
    conversation_id: str = Field(
        sa_column=Column(String(32), ForeignKey("conversation.id"), nullable=False)
    )
    platform: str = Field(max_length=16)
    workspace_id: str = Field(max_length=255)
    chat_id: str = Field(max_length=255)
    thread_id: str = Field(default="", max_length=255)
    asked_of: str = Field(max_length=255)
    purpose: str = Field(max_length=64)
    """What the answer is for, read by the job that asked (``session``, ``ticket`` …)."""
    prompt: str = _sealed_text("pending_question", "prompt", nullable=False)
    form: str = Field(max_length=16)
    options: list[Any] = _sealed_json(
        "pending_question", "options", nullable=False, default_factory=list
    )
    context: dict[str, Any] = _sealed_json(
        "pending_question", "context", nullable=False, default_factory=dict
    )
    """What the asker needs to go on once answered (an activity id, a chosen session…)."""
    default_value: str | None = _sealed_text("pending_question", "default_value", nullable=True)
    status: str = Field(default="open", max_length=16)
    answer: str | None = _sealed_text("pending_question", "answer", nullable=True)
    answered_by: str | None = Field(default=None, max_length=255)
    created_at: datetime = _created()
    deadline: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    answered_at: datetime | None = _ts(nullable=True)
    dedupe_key: str | None = Field(default=None, unique=True, max_length=255)
    """One question per partner request (a call's ``request_id``), however it arrives."""
    open_to_all: bool = False
    """Anyone in the conversation may answer (the asker allowed it), not only ``asked_of``."""
    answer_origin: str | None = Field(default=None, max_length=255)
    """The inbound item that answered it: a re-run of that item finishes what it began."""
    private: bool = False
    """Asked in the person's own chat with the bot and answered there (passport details):
    its answer is never written here, only handed to its handler."""


class PostedMessage(StorageModel, table=True):
    """Which platform message shows the reply posted under ``reply_key`` in a conversation,
    so any process can edit it in place (status lines, job cards, confirmations)."""

    __tablename__ = "posted_message"
    __table_args__ = (
        UniqueConstraint("platform", "workspace_id", "chat_id", "thread_id", "reply_key"),
        Index(None, "platform", "channel", "message_id"),
    )

    id: int | None = _log_id()
    platform: str = Field(max_length=16)
    workspace_id: str = Field(max_length=255)
    chat_id: str = Field(max_length=255)
    thread_id: str = Field(default="", max_length=255)
    reply_key: str = Field(max_length=255)
    channel: str = Field(max_length=255)
    message_id: str = Field(max_length=255)
    shape: str = Field(default="text", max_length=16)
    """How the message can be edited: ``text`` or ``photo`` (a caption)."""
    updated_at: datetime = _created()


class ChatNote(StorageModel, table=True):
    """A small fact a front-end keeps about a chat or thread, shared by every process:
    threads the bot takes part in, chats that blocked it, a group's new id, reply anchors."""

    __tablename__ = "chat_note"

    platform: str = Field(primary_key=True, max_length=16)
    scope: str = Field(primary_key=True, max_length=512)
    name: str = Field(primary_key=True, max_length=32)
    value: str = Field(sa_column=Column(Text, nullable=False))
    updated_at: datetime = _created()


class CallWebhook(StorageModel, table=True):
    """The Call Agent webhook configured for one API key: its URL token (hash only) and
    the HMAC secret the partner signs with (sealed, bound to the key's fingerprint)."""

    __tablename__ = "call_webhook"

    key_fingerprint: str = Field(primary_key=True, max_length=64)
    token_hash: str = Field(unique=True, max_length=64)
    secret_ciphertext: bytes
    url: str = _sealed_text("call_webhook", "url", nullable=False)
    """It carries the URL's capability token, so it is sealed like the token's secret."""
    created_at: datetime = _created()


class ChatEvent(StorageModel, table=True):
    """A chat turned into an Events partner event: the durable chat → event link, who
    organises it, and when its attendees were last imported and enriched."""

    __tablename__ = "chat_event"
    __table_args__ = (UniqueConstraint("platform", "workspace_id", "chat_id"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    platform: str = Field(max_length=16)
    workspace_id: str = Field(max_length=255)
    chat_id: str = Field(max_length=255)
    thread_id: str = Field(default="", max_length=255)
    event_id: str = Field(unique=True, max_length=128)
    """Our id for it at the partner (the partner's `event_id`, which we own)."""
    title: str = _sealed_text("chat_event", "title", nullable=False)
    organiser: str = Field(max_length=255)
    imported_at: datetime | None = _ts(nullable=True)
    enriched_at: datetime | None = _ts(nullable=True)
    created_at: datetime = _created()


class ChatEventMember(StorageModel, table=True):
    """A chat member's say about being shared with the Events partner ("don't share me"),
    and when they were last shared."""

    __tablename__ = "chat_event_member"
    __table_args__ = (UniqueConstraint("platform", "workspace_id", "chat_id", "user_id"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    platform: str = Field(max_length=16)
    workspace_id: str = Field(max_length=255)
    chat_id: str = Field(max_length=255)
    user_id: str = Field(max_length=255)
    opted_out: bool = False
    shared_at: datetime | None = _ts(nullable=True)
    updated_at: datetime = _created()


class ChatEventReview(StorageModel, table=True):
    """An identity review shown to an organiser, decided once (the first press wins)."""

    __tablename__ = "chat_event_review"

    review_id: str = Field(primary_key=True, max_length=128)
    chat_event_id: str = Field(
        sa_column=Column(String(32), ForeignKey("chat_event.id"), nullable=False, index=True)
    )
    source_id: str = Field(max_length=255)
    target_id: str = Field(max_length=255)
    decision: str | None = Field(default=None, max_length=16)
    decided_by: str | None = Field(default=None, max_length=255)
    decided_at: datetime | None = _ts(nullable=True)
    created_at: datetime = _created()


class PlanChoice(StorageModel, table=True):
    """One person's say in a group plan: their vote (``vote``: an option's index) or that
    they are in (``in``: a ticket type's index), one row per person and kind, so a changed
    vote replaces the old one and nobody is counted twice."""

    __tablename__ = "plan_choice"
    __table_args__ = (UniqueConstraint("plan_id", "kind", "user_id"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    plan_id: str = Field(
        sa_column=Column(String(32), ForeignKey("action.id"), nullable=False, index=True)
    )
    kind: str = Field(max_length=8)
    user_id: str = Field(max_length=255)
    value: int
    name: str | None = _sealed_text("plan_choice", "name", nullable=True)
    """How the chat calls them, shown beside their vote (sealed: people's names)."""
    updated_at: datetime = _created()
