"""Posted messages and chat notes: what the front-ends remember, shared by every process."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import ChatNote, PostedMessage, utc_now
from storage.repositories._common import dialect_insert

__all__ = [
    "delete_chat_note",
    "find_posted",
    "find_posted_by_message",
    "get_chat_note",
    "save_posted",
    "set_chat_note",
]


async def save_posted(
    session: AsyncSession,
    *,
    platform: str,
    workspace_id: str,
    chat_id: str,
    thread_id: str,
    reply_key: str,
    channel: str,
    message_id: str,
    shape: str = "text",
    now: datetime | None = None,
) -> None:
    """Remember (or move) the message that shows ``reply_key`` in this conversation."""
    now = now or utc_now()
    insert = dialect_insert(session, PostedMessage).values(
        platform=platform,
        workspace_id=workspace_id,
        chat_id=chat_id,
        thread_id=thread_id,
        reply_key=reply_key,
        channel=channel,
        message_id=message_id,
        shape=shape,
        updated_at=now,
    )
    await session.exec(
        insert.on_conflict_do_update(
            index_elements=["platform", "workspace_id", "chat_id", "thread_id", "reply_key"],
            set_={"channel": channel, "message_id": message_id, "shape": shape, "updated_at": now},
        )
    )


async def find_posted(
    session: AsyncSession,
    *,
    platform: str,
    workspace_id: str,
    chat_id: str,
    thread_id: str,
    reply_key: str,
) -> PostedMessage | None:
    result = await session.exec(
        select(PostedMessage).where(
            col(PostedMessage.platform) == platform,
            col(PostedMessage.workspace_id) == workspace_id,
            col(PostedMessage.chat_id) == chat_id,
            col(PostedMessage.thread_id) == thread_id,
            col(PostedMessage.reply_key) == reply_key,
        )
    )
    return result.first()


async def find_posted_by_message(
    session: AsyncSession, *, platform: str, channel: str, message_id: str
) -> PostedMessage | None:
    """The reply a platform message shows (a person replied to it)."""
    result = await session.exec(
        select(PostedMessage)
        .where(
            col(PostedMessage.platform) == platform,
            col(PostedMessage.channel) == channel,
            col(PostedMessage.message_id) == message_id,
        )
        .order_by(col(PostedMessage.id).desc())
    )
    return result.first()


async def set_chat_note(
    session: AsyncSession,
    *,
    platform: str,
    scope: str,
    name: str,
    value: str,
    now: datetime | None = None,
) -> None:
    now = now or utc_now()
    await session.exec(
        dialect_insert(session, ChatNote)
        .values(platform=platform, scope=scope, name=name, value=value, updated_at=now)
        .on_conflict_do_update(
            index_elements=["platform", "scope", "name"], set_={"value": value, "updated_at": now}
        )
    )


async def get_chat_note(
    session: AsyncSession, *, platform: str, scope: str, name: str
) -> str | None:
    result = await session.exec(
        select(col(ChatNote.value)).where(
            col(ChatNote.platform) == platform,
            col(ChatNote.scope) == scope,
            col(ChatNote.name) == name,
        )
    )
    return result.first()


async def delete_chat_note(session: AsyncSession, *, platform: str, scope: str, name: str) -> None:
    await session.exec(
        delete(ChatNote).where(
            col(ChatNote.platform) == platform,
            col(ChatNote.scope) == scope,
            col(ChatNote.name) == name,
        )
    )
