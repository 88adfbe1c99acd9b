"""Small helpers for storage tests."""

from __future__ import annotations

from storage import Database
from storage.models import Conversation
from storage.repositories import get_or_create_conversation


async def make_conversation(
    db: Database, *, workspace_id: str = "T1", chat_id: str = "C1", thread_id: str = ""
) -> Conversation:
    async with db.session() as session:
        return await get_or_create_conversation(
            session,
            platform="slack",
            workspace_id=workspace_id,
            chat_id=chat_id,
            thread_id=thread_id,
        )
