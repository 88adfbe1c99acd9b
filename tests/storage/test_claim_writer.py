"""Inbound claims never queue behind the turns' writes: one writer batches every waiting
claim into one INSERT, committed before any caller is answered; on SQLite it goes ahead of
the ordinary writers waiting for the write lock, on PostgreSQL it has its own connections."""

from __future__ import annotations

import asyncio

from sqlalchemy import event
from sqlmodel import select

from conversations.inbox import Inbox
from storage import Database
from storage.engine import PrioritySemaphore
from storage.models import ProcessedEvent
from tests.storage.helpers import make_conversation


async def test_waiting_claims_go_in_one_insert_and_duplicates_lose(database: Database) -> None:
    inbox = Inbox(database)
    inserts: list[str] = []
    engines = [database.engine.sync_engine]
    if database.dialect == "postgresql":
        engines = [database._urgent().sync_engine]

    def seen(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO PROCESSED_EVENT"):
            inserts.append(statement)

    for engine in engines:
        event.listen(engine, "before_cursor_execute", seen)
    keys = [f"slack:Ev{i % 40}" for i in range(50)]  # ten keys twice
    fresh = await asyncio.gather(
        *(inbox.claim(key=k, source="slack", payload={"text": k}) for k in keys)
    )
    await inbox.aclose()
    assert sum(fresh) == 40
    assert [fresh[keys.index(k)] for k in set(keys)] == [True] * 40  # the first of each wins
    assert 1 <= len(inserts) <= 3  # everything that was waiting, batched
    async with database.session(read_only=True) as session:
        rows = (await session.exec(select(ProcessedEvent))).all()
    assert sorted(r.key for r in rows) == sorted(set(keys))
    # A later duplicate is still refused.
    again = Inbox(database)
    assert await again.claim(key="slack:Ev1", source="slack", payload={}) is False
    await again.aclose()


async def test_on_sqlite_a_claim_overtakes_the_writers_already_waiting(
    sqlite_database: Database,
) -> None:
    """(On PostgreSQL nothing waits on a lock; the first test shows claims run on their own
    engine there.)"""
    database = sqlite_database
    conversation = await make_conversation(database)
    seen: list[tuple[str, bool]] = []  # each write, and whether the claim was in by then
    first_holds = asyncio.Event()
    let_go = asyncio.Event()

    async def ordinary(name: str, *, hold: bool = False) -> None:
        async with database.session() as session:
            await session.get(type(conversation), conversation.id)
            if hold:
                first_holds.set()
                await let_go.wait()
            claimed = (
                await session.exec(select(ProcessedEvent).where(ProcessedEvent.key == "slack:EvX"))
            ).first()
            seen.append((name, claimed is not None))

    holder = asyncio.ensure_future(ordinary("holder", hold=True))
    await first_holds.wait()
    waiting = [asyncio.ensure_future(ordinary(f"turn{i}")) for i in range(10)]
    await asyncio.sleep(0.05)
    inbox = Inbox(database)
    claim = asyncio.ensure_future(inbox.claim(key="slack:EvX", source="slack", payload={}))
    await asyncio.sleep(0.05)
    assert not claim.done()  # the one write in progress goes first
    let_go.set()
    assert await claim is True
    await asyncio.gather(holder, *waiting)
    await inbox.aclose()
    # Right after the one write in progress, before the ten that waited longer.
    assert seen == [("holder", False)] + [(f"turn{i}", True) for i in range(10)]


async def test_the_priority_lock_serves_urgent_waiters_first_and_survives_cancellation() -> None:
    lock = PrioritySemaphore()
    served: list[str] = []
    await lock.acquire()

    async def wait(name: str, urgent: bool) -> None:
        async with lock.held(urgent=urgent):
            served.append(name)

    tasks = [asyncio.ensure_future(wait(n, n.startswith("u"))) for n in ("n1", "u1", "n2", "u2")]
    gone = asyncio.ensure_future(wait("u-cancelled", True))
    await asyncio.sleep(0)
    gone.cancel()
    await asyncio.sleep(0)
    lock.release()
    await asyncio.gather(*tasks)
    assert served == ["u1", "u2", "n1", "n2"]
    async with lock.held():  # free again
        served.append("after")


async def test_a_waiter_cancelled_just_before_the_release_still_ends_cancelled() -> None:
    """The release drops a cancelled waiter before its task resumes: the task must end with
    its cancellation (not a ValueError from the queue), and the lock pass to the next."""
    lock = PrioritySemaphore()
    await lock.acquire()
    gone = asyncio.ensure_future(lock.acquire())
    nxt = asyncio.ensure_future(lock.acquire())
    await asyncio.sleep(0)
    gone.cancel()  # its waiter is cancelled at once; the task resumes only on the next step
    lock.release()
    await asyncio.sleep(0)
    assert gone.cancelled()
    await nxt
    lock.release()
    async with asyncio.timeout(1):  # free again: taken at once
        await lock.acquire()
