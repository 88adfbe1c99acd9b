"""SQLite writes run on the loop's thread, yet the loop is never held: a write waits for
another process's lock in a thread, a failed statement rolls back cleanly, and the WAL
reaches the database file through the background checkpoints, not through commits."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage import Database
from storage.engine import sqlite_path
from storage.models import Message
from storage.repositories import NewMessage, append_messages
from tests.storage.helpers import make_conversation


async def _say(session: AsyncSession, conversation_id: str, text: str, **more: Any) -> None:
    message = NewMessage("user", [{"type": "text", "text": text, **more}])
    await append_messages(session, conversation_id=conversation_id, messages=[message])


async def _messages(database: Database) -> int:
    async with database.session(read_only=True) as session:
        return (await session.exec(select(func.count()).select_from(Message))).one()


def _size(path: str) -> int:
    return Path(path).stat().st_size


def _path(database: Database) -> str:
    path = sqlite_path(database.url)
    assert path is not None
    return str(path)


async def test_a_write_waits_for_another_process_lock_while_the_loop_runs(
    sqlite_database: Database,
) -> None:
    conversation = await make_conversation(sqlite_database)
    other = sqlite3.connect(_path(sqlite_database), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    async def write() -> None:
        async with sqlite_database.session() as session:
            await _say(session, conversation.id, "after the lock")

    ticker = asyncio.ensure_future(tick())
    writing = asyncio.ensure_future(write())
    await asyncio.sleep(0.4)
    assert not writing.done() and ticks >= 10  # waiting, and the loop goes on meanwhile
    other.execute("COMMIT")
    await asyncio.wait_for(writing, 5)
    ticker.cancel()
    other.close()
    assert await _messages(sqlite_database) == 1


async def test_a_failed_write_rolls_back_and_the_next_one_lands(
    sqlite_database: Database,
) -> None:
    conversation = await make_conversation(sqlite_database)
    with pytest.raises(Exception, match="no such table"):
        async with sqlite_database.session() as session:
            await _say(session, conversation.id, "rolled back")
            await (await session.connection()).execute(text("INSERT INTO nowhere VALUES (1)"))
    async with sqlite_database.session() as session:
        await _say(session, conversation.id, "kept")
    assert await _messages(sqlite_database) == 1


async def test_commits_leave_the_wal_to_the_background_checkpoints(
    sqlite_database: Database,
) -> None:
    conversation = await make_conversation(sqlite_database)
    path = _path(sqlite_database)
    before = _size(path)
    for n in range(40):
        async with sqlite_database.session() as session:
            await _say(session, conversation.id, "x" * 4000, n=n)
    assert _size(f"{path}-wal") > 100_000  # the commits went to the WAL only
    for _ in range(60):  # checkpointed within a few seconds, not by any commit
        if _size(path) > before + 100_000:
            break
        await asyncio.sleep(0.1)
    assert _size(path) > before + 100_000
