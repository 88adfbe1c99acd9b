"""Which platform message shows a reply key in a conversation: shared by every front-end, so
any process can edit in place what another one posted."""

from __future__ import annotations

from typing import Any

from conversations.types import ConversationAddress
from storage import Database, repositories
from storage.models import PostedMessage


async def find_posted(db: Database, address: ConversationAddress, key: str) -> PostedMessage | None:
    async with db.session(read_only=True) as session:
        return await repositories.find_posted(
            session,
            platform=address.platform,
            workspace_id=address.workspace_id,
            chat_id=address.chat_id,
            thread_id=address.thread_id,
            reply_key=key,
        )


async def save_posted(
    db: Database,
    address: ConversationAddress,
    key: str,
    *,
    channel: str,
    message_id: str,
    shape: str = "text",
    if_missing: bool = False,
) -> None:
    """Remember that this message shows `key` (unless `if_missing` and one already does)."""
    where: dict[str, Any] = {
        "platform": address.platform,
        "workspace_id": address.workspace_id,
        "chat_id": address.chat_id,
        "thread_id": address.thread_id,
        "reply_key": key,
    }
    async with db.session() as session:
        if if_missing and await repositories.find_posted(session, **where) is not None:
            return
        await repositories.save_posted(
            session, **where, channel=channel, message_id=message_id, shape=shape
        )
