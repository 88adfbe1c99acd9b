"""Two engines (as two processes would) × 10 concurrent writers each: every write lands,
none fails with "database is locked" (SQLite WAL + BEGIN IMMEDIATE + busy_timeout)."""

from __future__ import annotations

import asyncio

from sqlmodel import func, select

from storage import Database
from storage.models import Message
from storage.repositories import (
    NewMessage,
    append_messages,
    recent_messages,
    update_conversation_state,
)
from tests.storage.databases import second_database
from tests.storage.helpers import make_conversation

WRITES_PER_TASK = 5


async def test_two_engines_ten_writers_each(database: Database) -> None:
    conversation = await make_conversation(database)
    other = await second_database(database)

    async def writer(db: Database, name: str) -> None:
        for n in range(WRITES_PER_TASK):
            async with db.session() as session:
                # read, then write, in one transaction: with a deferred BEGIN, SQLite fails
                # this at once ("database is locked") when another connection wrote meanwhile
                last = await recent_messages(session, conversation_id=conversation.id, limit=1)
                await asyncio.sleep(0)
                after = last[0].id if last else None
                await append_messages(
                    session,
                    conversation_id=conversation.id,
                    messages=[NewMessage("user", [{"writer": name, "n": n, "after": after}])],
                )
                await update_conversation_state(
                    session, conversation_id=conversation.id, state={"last_writer": name}
                )

    try:
        await asyncio.gather(
            *(
                writer(db, f"{label}{i}")
                for label, db in (("a", database), ("b", other))
                for i in range(10)
            )
        )
    finally:
        await other.dispose()
    async with database.session() as session:
        count = (
            await session.exec(
                select(func.count())
                .select_from(Message)
                .where(Message.conversation_id == conversation.id)
            )
        ).one()
    assert count == 2 * 10 * WRITES_PER_TASK
