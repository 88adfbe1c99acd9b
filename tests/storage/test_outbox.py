from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from storage import Database
from storage.models import OutboxMessage
from storage.repositories import due_outbox, enqueue_outbox, mark_outbox_failed, mark_outbox_sent
from tests.storage.databases import second_database

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


async def _enqueue(db: Database, n: int, *, dedupe: str | None = None) -> OutboxMessage | None:
    async with db.session() as session:
        return await enqueue_outbox(
            session,
            platform="telegram",
            workspace_id="-100",
            chat_id="-100",
            payload={"text": f"reply {n}"},
            dedupe_key=dedupe,
            now=NOW,
        )


async def test_enqueue_dedupe(database: Database) -> None:
    first = await _enqueue(database, 1, dedupe="action:a1:confirmed")
    assert first is not None and first.status == "pending" and first.thread_id == ""
    assert await _enqueue(database, 1, dedupe="action:a1:confirmed") is None
    assert await _enqueue(database, 2) is not None
    assert await _enqueue(database, 3) is not None


async def test_due_outbox_claims_disjoint_batches(database: Database) -> None:
    for n in range(12):
        await _enqueue(database, n)
    other = await second_database(database)
    try:

        async def sender(db: Database) -> list[int]:
            async with db.session() as session:
                batch = await due_outbox(session, now=NOW, limit=5)
                return [m.id for m in batch if m.id is not None]

        batches = await asyncio.gather(*(sender(database if i % 2 else other) for i in range(4)))
    finally:
        await other.dispose()
    claimed = [i for batch in batches for i in batch]
    assert len(claimed) == len(set(claimed)) == 12
    for batch in batches:
        assert batch == sorted(batch)
    async with database.session() as session:
        assert await due_outbox(session, now=NOW) == []
        # leases run out: unsent messages come due again
        again = await due_outbox(session, now=NOW + timedelta(minutes=2), limit=100)
    assert len(again) == 12
    assert {m.attempts for m in again} == {2}


async def test_sent_and_failed(database: Database) -> None:
    a = await _enqueue(database, 1)
    b = await _enqueue(database, 2)
    c = await _enqueue(database, 3)
    assert a is not None and b is not None and c is not None
    assert a.id is not None and b.id is not None and c.id is not None
    async with database.session() as session:
        assert len(await due_outbox(session, now=NOW)) == 3
        assert await mark_outbox_sent(session, outbox_id=a.id, now=NOW)
        assert not await mark_outbox_sent(session, outbox_id=a.id, now=NOW)
        assert await mark_outbox_failed(
            session, outbox_id=b.id, error="429", retry_at=NOW + timedelta(seconds=30)
        )
        assert await mark_outbox_failed(
            session, outbox_id=c.id, error="chat not found", retry_at=None
        )
        assert not await mark_outbox_failed(session, outbox_id=a.id, error="late", retry_at=None)
    async with database.session() as session:
        due = await due_outbox(session, now=NOW + timedelta(seconds=30))
    assert [(m.id, m.last_error, m.attempts) for m in due] == [(b.id, "429", 2)]
