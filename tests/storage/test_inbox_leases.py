"""Inbound items under leases: claimed with a lease, renewed by their owner only, taken over
once their lease ran out — exactly once however many processes race — and released when
done. On SQLite (one process) a start may also take another owner's items at once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from conversations.inbox import Inbox
from storage import Database
from storage.models import ProcessedEvent
from storage.repositories.events import (
    claim_event,
    mark_event_done,
    renew_event_leases,
    take_over_events,
)
from tests.storage.databases import second_database

T = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
A, B, C = "host:1:aaaa", "host:2:bbbb", "host:3:cccc"
PAYLOAD = {"kind": "message", "text": "hello?"}


def at(seconds: float) -> datetime:
    return T + timedelta(seconds=seconds)


async def _claim(db: Database, key: str, *, owner: str = A, until: float = 20) -> bool:
    async with db.session() as session:
        return await claim_event(
            session,
            key=key,
            source="slack",
            payload=PAYLOAD,
            owner=owner,
            until=at(until),
            now=T,
        )


async def _take(
    db: Database, owner: str, *, now: float, limit: int = 100, others_before: float | None = None
) -> list[str]:
    async with db.session() as session:
        rows = await take_over_events(
            session,
            owner=owner,
            until=at(now + 20),
            now=at(now),
            others_before=None if others_before is None else at(others_before),
            limit=limit,
        )
        return [row.key for row in rows]


async def _renew(db: Database, owner: str, *keys: str, until: float) -> set[str]:
    async with db.session() as session:
        return await renew_event_leases(session, keys=keys, owner=owner, until=at(until))


async def _row(db: Database, key: str) -> ProcessedEvent:
    async with db.session(read_only=True) as session:
        row = (await session.exec(select(ProcessedEvent).where(ProcessedEvent.key == key))).one()
        return row


async def test_a_live_lease_is_never_taken_and_done_releases_it(database: Database) -> None:
    assert await _claim(database, "slack:Ev1")
    assert not await _claim(database, "slack:Ev1", owner=B)  # still a dedupe
    claimed = await _row(database, "slack:Ev1")
    assert (claimed.lease_owner, claimed.lease_until) == (A, at(20))

    assert await _take(database, B, now=10) == []  # A's lease is live
    assert await _renew(database, A, "slack:Ev1", until=40) == {"slack:Ev1"}
    assert await _take(database, B, now=30) == []  # renewed: still live past the first expiry
    assert await _renew(database, B, "slack:Ev1", until=60) == set()  # fenced: B holds nothing

    assert await _take(database, B, now=41) == ["slack:Ev1"]  # A stopped renewing: taken
    taken = await _row(database, "slack:Ev1")
    assert (taken.lease_owner, taken.lease_until) == (B, at(61))
    assert await _renew(database, A, "slack:Ev1", until=80) == set()  # A lost it for good
    assert await _renew(database, B, "slack:Ev1", until=80) == {"slack:Ev1"}
    assert await _take(database, C, now=70) == []

    async with database.session() as session:
        await mark_event_done(session, key="slack:Ev1", now=at(75))
    done = await _row(database, "slack:Ev1")
    assert (done.done_at, done.payload, done.lease_until) == (at(75), None, None)
    assert await _renew(database, B, "slack:Ev1", until=100) == set()
    assert await _take(database, C, now=10_000) == []  # done items are never taken again


async def test_only_unfinished_items_with_a_payload_are_taken(database: Database) -> None:
    async with database.session() as session:
        # a plain dedupe claim (OAuth state): nothing to resume
        assert await claim_event(session, key="slack:oauth-state:x", source="slack_oauth")
        # an item claimed without a lease (before leases existed): anybody's
        assert await claim_event(session, key="slack:legacy", source="slack", payload=PAYLOAD)
    assert await _claim(database, "slack:done", until=1)
    async with database.session() as session:
        await mark_event_done(session, key="slack:done")
    assert await _claim(database, "slack:expired", until=1)
    assert await _take(database, B, now=5) == ["slack:legacy", "slack:expired"]


async def test_an_expired_lease_is_taken_exactly_once_by_racing_owners(
    database: Database,
) -> None:
    keys = [f"slack:Ev{n:02d}" for n in range(30)]
    for key in keys:
        assert await _claim(database, key, until=1)  # A died: every lease ran out at T+1
    other = await second_database(database)  # half the racers come from "another process"
    try:

        async def racer(db: Database, owner: str) -> list[str]:
            taken: list[str] = []
            while batch := await _take(db, owner, now=5, limit=4):
                taken.extend(batch)
            return taken

        owners = [B, C, "host:4:dddd", "host:5:eeee"]
        results = await asyncio.gather(
            *(racer(database if i % 2 else other, owner) for i, owner in enumerate(owners))
        )
    finally:
        await other.dispose()
    every = [key for taken in results for key in taken]
    assert sorted(every) == keys  # each taken exactly once
    for owner, taken in zip(owners, results, strict=True):
        for key in taken:
            assert (await _row(database, key)).lease_owner == owner


async def test_a_start_on_sqlite_takes_other_owners_items_at_once(database: Database) -> None:
    assert await _claim(database, "slack:theirs", owner=A, until=20)
    assert await _claim(database, "slack:mine", owner=B, until=20)
    if database.dialect == "postgresql":
        with pytest.raises(ValueError, match="PostgreSQL"):
            await _take(database, B, now=1, others_before=1)
        assert await _take(database, B, now=1) == []  # a replica's live lease is never taken
        return
    assert await _take(database, B, now=1, others_before=0) == []  # claimed at T, not before
    assert await _take(database, B, now=1, others_before=1) == ["slack:theirs"]
    assert (await _row(database, "slack:theirs")).lease_owner == B


async def test_the_inbox_renews_while_held_and_lets_go_when_done(database: Database) -> None:
    first = Inbox(database, owner=A, lease_s=0.6, renew_every_s=0.1)
    second = Inbox(database, owner=B, lease_s=0.6, renew_every_s=0.1)
    try:
        assert await first.claim(key="console:1", source="console", payload=PAYLOAD)
        assert not await second.claim(key="console:1", source="console", payload=PAYLOAD)
        await asyncio.sleep(1.0)  # longer than a lease: only renewals keep it
        assert await second.take_over() == []
        row = await _row(database, "console:1")
        assert row.lease_owner == A and row.lease_until is not None
        assert row.lease_until > datetime.now(UTC)

        async with database.session() as session:
            await first.done(session, key="console:1")
        assert first.held == frozenset()
        row = await _row(database, "console:1")
        assert row.done_at is not None and row.lease_until is None

        assert await first.claim(key="console:2", source="console", payload=PAYLOAD)
        first.let_go("console:2")  # as if its process had died: no more renewals
        if second.single_process:  # SQLite: at start, another owner's item is dead work
            taken = await second.take_over(started_at=datetime.now(UTC))
        else:
            assert await second.take_over() == []
            await asyncio.sleep(0.7)
            taken = await second.take_over()
        assert [row.key for row in taken] == ["console:2"]
        assert second.held == {"console:2"}
        assert await second.take_over() == []  # already held here: not handed out twice
    finally:
        await first.aclose()
        await second.aclose()
