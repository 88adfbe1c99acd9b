"""Conversations (one per chat thread) and their transcript."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam
from sqlmodel import col, func, insert, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Conversation, Message, new_id, utc_now
from storage.repositories._common import (
    RETURNING_OPTIONS,
    dialect_insert,
    is_postgresql,
    table_of,
)

__all__ = [
    "NewMessage",
    "append_messages",
    "find_conversation",
    "get_conversation",
    "get_or_create_conversation",
    "history_window",
    "merge_conversation_state",
    "recent_messages",
    "update_conversation_state",
]


async def get_or_create_conversation(
    session: AsyncSession,
    *,
    platform: str,
    workspace_id: str,
    chat_id: str,
    thread_id: str = "",
    now: datetime | None = None,
) -> Conversation:
    """The conversation at this address, created if missing. Race-safe: concurrent callers
    all get the same row (INSERT … ON CONFLICT DO NOTHING RETURNING, else SELECT)."""
    now = now or utc_now()
    row = {
        "id": new_id(),
        "platform": platform,
        "workspace_id": workspace_id,
        "chat_id": chat_id,
        "thread_id": thread_id,
        "state": {},
        "created_at": now,
        "updated_at": now,
    }
    inserted = await session.exec(
        dialect_insert(session, Conversation)
        .on_conflict_do_nothing(index_elements=["platform", "workspace_id", "chat_id", "thread_id"])
        .returning(Conversation)
        .execution_options(**RETURNING_OPTIONS),
        params=[row],
    )
    created: Conversation | None = inserted.scalars().first()
    if created is not None:
        return created
    found = await find_conversation(
        session, platform=platform, workspace_id=workspace_id, chat_id=chat_id, thread_id=thread_id
    )
    assert found is not None  # another caller inserted it first
    return found


async def get_conversation(
    session: AsyncSession, *, conversation_id: str, workspace_id: str
) -> Conversation | None:
    """A conversation by id, only within ``workspace_id`` (None across tenants)."""
    result = await session.exec(
        select(Conversation).where(
            col(Conversation.id) == conversation_id,
            col(Conversation.workspace_id) == workspace_id,
        )
    )
    return result.first()


# Statements every turn runs, built once with their parameters bound at execution: building
# a statement and its cache key costs more than running it on SQLite.
_AT_ADDRESS = select(Conversation).where(
    col(Conversation.platform) == bindparam("platform"),
    col(Conversation.workspace_id) == bindparam("workspace_id"),
    col(Conversation.chat_id) == bindparam("chat_id"),
    col(Conversation.thread_id) == bindparam("thread_id"),
)
_BY_ID = (
    select(Conversation)
    .where(col(Conversation.id) == bindparam("conversation_id"))
    .execution_options(populate_existing=True)
)
_LOCKED_BY_ID = _BY_ID.with_for_update()
_SET_STATE = (
    update(Conversation)
    .where(col(Conversation.id) == bindparam("conversation_id"))
    .values(state=bindparam("new_state"), updated_at=bindparam("now"))
    .returning(Conversation)
    .execution_options(**RETURNING_OPTIONS)
)
_MESSAGE_COUNT = select(func.count()).where(
    col(Message.conversation_id) == bindparam("conversation_id")
)
_MESSAGES_FROM = (
    select(Message)
    .where(col(Message.conversation_id) == bindparam("conversation_id"))
    .order_by(col(Message.id))
    .offset(bindparam("start"))
)


async def find_conversation(
    session: AsyncSession, *, platform: str, workspace_id: str, chat_id: str, thread_id: str = ""
) -> Conversation | None:
    """The conversation at this address, if it exists (a read: no write lock taken)."""
    where = {
        "platform": platform,
        "workspace_id": workspace_id,
        "chat_id": chat_id,
        "thread_id": thread_id,
    }
    return (await session.exec(_AT_ADDRESS, params=where)).first()


async def update_conversation_state(
    session: AsyncSession,
    *,
    conversation_id: str,
    state: Mapping[str, Any],
    now: datetime | None = None,
) -> bool:
    """Replace the conversation's ``state`` JSON. Returns False if there is no such row."""
    values = {"conversation_id": conversation_id, "new_state": dict(state), "now": now or utc_now()}
    return (await session.exec(_SET_STATE, params=values)).first() is not None


async def merge_conversation_state(
    session: AsyncSession,
    *,
    conversation_id: str,
    changes: Mapping[str, Any],
    now: datetime | None = None,
) -> bool:
    """Replace only the top-level keys in ``changes``, keeping what others wrote meanwhile
    (a job's results landing while a turn runs). Read and write in the caller's write
    transaction; on PostgreSQL the row is locked first — even with nothing to change, so that
    writers of one conversation always take its lock before anything else (no deadlocks)."""
    if is_postgresql(session):
        query = _LOCKED_BY_ID
    elif not changes:
        return True  # SQLite: the write lock already orders this process's writers
    else:
        query = _BY_ID
    found = await session.exec(query, params={"conversation_id": conversation_id})
    conversation = found.first()
    if conversation is None:
        return False
    if not changes:
        return True
    return await update_conversation_state(
        session,
        conversation_id=conversation_id,
        state={**(conversation.state or {}), **changes},
        now=now,
    )


@dataclass(frozen=True)
class NewMessage:
    role: str
    content: Sequence[Any]
    sender_id: str | None = None


async def append_messages(
    session: AsyncSession,
    *,
    conversation_id: str,
    messages: Sequence[NewMessage],
    now: datetime | None = None,
) -> None:
    """Append a turn's entries in one INSERT (one round trip however long the turn was)."""
    if not messages:
        return
    created = now or utc_now()
    rows = [
        {
            "conversation_id": conversation_id,
            "role": m.role,
            "sender_id": m.sender_id,
            "content": list(m.content),
            "created_at": created,
        }
        for m in messages
    ]
    # The rows go as parameters, not in the statement, so its compiled form is cached.
    await session.exec(insert(table_of(Message)), params=rows)


async def recent_messages(
    session: AsyncSession, *, conversation_id: str, limit: int
) -> list[Message]:
    """The last ``limit`` messages of a conversation, oldest first."""
    result = await session.exec(
        select(Message)
        .where(col(Message.conversation_id) == conversation_id)
        .order_by(col(Message.id).desc())
        .limit(limit)
    )
    return list(reversed(result.all()))


async def history_window(
    session: AsyncSession, *, conversation_id: str, at_least: int, step: int
) -> list[Message]:
    """The conversation's latest messages, oldest first: at least `at_least` of them (all,
    when fewer) and fewer than `at_least + step`. The window's start moves only in steps
    of `step`, so successive turns replay the same leading messages (a prompt cache keeps
    them) until it moves."""
    which = {"conversation_id": conversation_id}
    total = (await session.exec(_MESSAGE_COUNT, params=which)).one()
    start = max(0, total - at_least) // step * step
    result = await session.exec(_MESSAGES_FROM, params={**which, "start": start})
    return list(result.all())
