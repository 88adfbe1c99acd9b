from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.exc import StatementError
from sqlmodel import func, select

from storage import Database
from storage.models import Conversation, ProcessedEvent
from storage.repositories import (
    NewMessage,
    append_messages,
    claim_event,
    get_conversation,
    get_or_create_conversation,
    history_window,
    prune_events,
    recent_messages,
    update_conversation_state,
)
from tests.storage.databases import second_database
from tests.storage.helpers import make_conversation


async def test_claim_event_first_wins_among_20_concurrent_claimers(database: Database) -> None:
    other = await second_database(database)  # half the claimers come from "another process"
    try:

        async def claim(db: Database) -> bool:
            async with db.session() as session:
                return await claim_event(session, key="slack:Ev123", source="slack")

        wins = await asyncio.gather(*(claim(database if i % 2 else other) for i in range(20)))
    finally:
        await other.dispose()
    assert sum(wins) == 1
    async with database.session() as session:
        assert await claim_event(session, key="slack:Ev124", source="slack")
        assert not await claim_event(session, key="slack:Ev124", source="slack")
        count = await session.exec(select(func.count()).select_from(ProcessedEvent))
        assert count.one() == 2


async def test_prune_events(database: Database) -> None:
    old = datetime(2020, 1, 1, tzinfo=UTC)
    async with database.session() as session:
        await claim_event(session, key="a", source="console", now=old)
        await claim_event(session, key="b", source="console")
        assert await prune_events(session, before=old + timedelta(days=1)) == 1
        assert await claim_event(session, key="a", source="console")
        assert not await claim_event(session, key="b", source="console")


async def test_get_or_create_conversation_race_yields_one_row(database: Database) -> None:
    async def get(thread: str) -> str:
        async with database.session() as session:
            conversation = await get_or_create_conversation(
                session, platform="slack", workspace_id="T1", chat_id="C1", thread_id=thread
            )
            return conversation.id

    ids = await asyncio.gather(*(get("171.1") for _ in range(20)))
    assert len(set(ids)) == 1
    other = await get("")
    assert other != ids[0]
    async with database.session() as session:
        rows = await session.exec(select(Conversation))
        assert {(c.thread_id, c.id) for c in rows.all()} == {("171.1", ids[0]), ("", other)}


async def test_conversation_state_and_tenant_scope(database: Database) -> None:
    conversation = await make_conversation(database)
    assert conversation.state == {}
    assert conversation.created_at.tzinfo is UTC
    async with database.session() as session:
        assert await update_conversation_state(
            session, conversation_id=conversation.id, state={"last_results": [{"id": "a1"}]}
        )
        assert not await update_conversation_state(session, conversation_id="nope", state={})
    async with database.session() as session:
        again = await get_conversation(session, conversation_id=conversation.id, workspace_id="T1")
        assert again is not None
        assert again.state == {"last_results": [{"id": "a1"}]}
        assert again.updated_at >= conversation.updated_at
        assert (
            await get_conversation(session, conversation_id=conversation.id, workspace_id="T2")
            is None
        )


async def test_messages_are_returned_oldest_first(database: Database) -> None:
    conversation = await make_conversation(database)
    other = await make_conversation(database, chat_id="C2")
    async with database.session() as session:
        for i in range(5):
            await append_messages(
                session,
                conversation_id=conversation.id,
                messages=[
                    NewMessage(
                        "user" if i % 2 == 0 else "assistant",
                        [{"type": "text", "text": f"m{i}"}],
                        "U1" if i % 2 == 0 else None,
                    )
                ],
            )
        await append_messages(session, conversation_id=other.id, messages=[NewMessage("user", [])])
    async with database.session() as session:
        last3 = await recent_messages(session, conversation_id=conversation.id, limit=3)
    assert [m.content[0]["text"] for m in last3] == ["m2", "m3", "m4"]
    assert [m.role for m in last3] == ["user", "assistant", "user"]
    assert [m.sender_id for m in last3] == ["U1", None, "U1"]
    assert all(m.created_at.tzinfo is UTC for m in last3)
    ids = [m.id for m in last3]
    assert ids == sorted(i for i in ids if i is not None)


async def test_the_history_window_starts_at_a_point_that_moves_in_steps(
    database: Database,
) -> None:
    conversation = await make_conversation(database)
    other = await make_conversation(database, chat_id="C-other")
    starts = []
    for i in range(12):
        async with database.session() as session:
            await append_messages(
                session,
                conversation_id=conversation.id,
                messages=[NewMessage("user", [{"type": "text", "text": f"m{i}"}])],
            )
            await append_messages(
                session, conversation_id=other.id, messages=[NewMessage("user", [])]
            )
            window = await history_window(
                session, conversation_id=conversation.id, at_least=4, step=3
            )
        starts.append(window[0].content[0]["text"])
        assert 4 <= len(window) < 7 or len(window) == i + 1
        assert window[-1].content[0]["text"] == f"m{i}"
    # The first message replayed stays put for three turns at a time.
    assert starts == ["m0"] * 6 + ["m3"] * 3 + ["m6"] * 3


async def test_a_turn_is_appended_in_order_in_one_statement(database: Database) -> None:
    conversation = await make_conversation(database)
    turn = [
        NewMessage("user", [{"type": "text", "text": "jazz?"}], "U1"),
        NewMessage("assistant", [{"type": "tool_call", "id": "c1", "name": "x", "args": {}}]),
        NewMessage("user", [{"type": "tool_result", "tool_call_id": "c1", "content": "{}"}]),
    ]
    async with database.session() as session:
        await append_messages(session, conversation_id=conversation.id, messages=turn)
        await append_messages(session, conversation_id=conversation.id, messages=[])
    async with database.session() as session:
        stored = await recent_messages(session, conversation_id=conversation.id, limit=10)
    assert [(m.role, m.content, m.sender_id) for m in stored] == [
        (m.role, list(m.content), m.sender_id) for m in turn
    ]


async def test_naive_datetimes_are_refused(database: Database) -> None:
    conversation = await make_conversation(database)
    with pytest.raises(StatementError, match="naive datetime"):
        async with database.session() as session:
            await append_messages(
                session,
                conversation_id=conversation.id,
                messages=[NewMessage("user", [])],
                now=datetime(2030, 1, 1),  # naive: the point of the test
            )


async def test_timestamps_round_trip_as_utc(database: Database) -> None:
    conversation = await make_conversation(database)
    when = datetime(2030, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    async with database.session() as session:
        await append_messages(
            session,
            conversation_id=conversation.id,
            messages=[NewMessage("user", [])],
            now=when.astimezone(ZoneInfo("Europe/Paris")),
        )
    async with database.session() as session:
        stored = await recent_messages(session, conversation_id=conversation.id, limit=1)
    assert len(stored) == 1
    assert stored[0].created_at == when
    assert stored[0].created_at.tzinfo is UTC
