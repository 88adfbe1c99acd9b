from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from storage import Database, token_hash
from storage.models import Action, Conversation
from storage.repositories import (
    IdempotencyKeyConflict,
    claim_action_lease,
    create_action,
    get_action,
    get_action_by_partner_ref,
    get_action_by_webhook_token,
    list_open_actions,
    release_action_lease,
    transition_action,
)
from tests.storage.databases import second_database
from tests.storage.helpers import make_conversation

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


async def _action(
    db: Database,
    conversation: Conversation,
    *,
    kind: str = "booking",
    idempotency_key: str | None = None,
    webhook_token_hash: str | None = None,
) -> Action:
    async with db.session() as session:
        return await create_action(
            session,
            kind=kind,
            conversation_id=conversation.id,
            platform=conversation.platform,
            workspace_id=conversation.workspace_id,
            chat_id=conversation.chat_id,
            thread_id=conversation.thread_id,
            requested_by="U1",
            payload={"offer": "o-1", "quantity": 2},
            idempotency_key=idempotency_key,
            webhook_token_hash=webhook_token_hash,
        )


async def _status(db: Database, action_id: str) -> Action:
    async with db.session() as session:
        action = await get_action(session, action_id=action_id, workspace_id="T1")
    assert action is not None
    return action


async def test_create_and_scope_by_workspace(database: Database) -> None:
    conversation = await make_conversation(database, thread_id="1.2")
    action = await _action(database, conversation, webhook_token_hash=token_hash("tok"))
    assert (action.status, action.attempts, action.thread_id) == ("pending", 0, "1.2")
    assert action.payload == {"offer": "o-1", "quantity": 2}
    assert action.result is None
    async with database.session() as session:
        assert await get_action(session, action_id=action.id, workspace_id="T2") is None
        found = await get_action_by_webhook_token(session, token_hash=token_hash("tok"))
        assert found is not None and found.id == action.id
        assert await get_action_by_webhook_token(session, token_hash=token_hash("x")) is None


async def test_idempotency_key(database: Database) -> None:
    conversation = await make_conversation(database)
    first = await _action(database, conversation, idempotency_key="idem-1")
    again = await _action(database, conversation, idempotency_key="idem-1")
    assert again.id == first.id
    elsewhere = await make_conversation(database, workspace_id="T2")
    with pytest.raises(IdempotencyKeyConflict):
        await _action(database, elsewhere, idempotency_key="idem-1")
    with pytest.raises(IdempotencyKeyConflict):
        await _action(database, conversation, kind="call", idempotency_key="idem-1")


async def test_transition_is_monotonic(database: Database) -> None:
    conversation = await make_conversation(database)
    action = await _action(database, conversation)

    async def move(from_: tuple[str, ...], to: str, **kwargs: object) -> bool:
        async with database.session() as session:
            return await transition_action(
                session,
                action_id=action.id,
                from_statuses=from_,
                to_status=to,
                **kwargs,  # type: ignore[arg-type]
            )

    assert await move(("pending",), "running", partner_ref="bk_9", count_attempt=True)
    assert await move(("pending", "running"), "succeeded", result={"ticket": "T-1"})
    # a replayed webhook and a late "running" update are no-ops
    assert not await move(("pending", "running"), "succeeded", result={"ticket": "T-2"})
    assert not await move(("pending",), "running")
    assert not await move((), "failed")
    final = await _status(database, action.id)
    assert (final.status, final.result, final.partner_ref, final.attempts) == (
        "succeeded",
        {"ticket": "T-1"},
        "bk_9",
        1,
    )
    async with database.session() as session:
        by_ref = await get_action_by_partner_ref(session, kind="booking", partner_ref="bk_9")
        assert by_ref is not None and by_ref.id == action.id


async def test_concurrent_transitions_apply_once(database: Database) -> None:
    conversation = await make_conversation(database)
    action = await _action(database, conversation)

    async def finish(i: int) -> bool:
        async with database.session() as session:
            return await transition_action(
                session,
                action_id=action.id,
                from_statuses=("pending", "running"),
                to_status="succeeded" if i % 2 else "failed",
                error=None if i % 2 else f"e{i}",
            )

    assert sum(await asyncio.gather(*(finish(i) for i in range(10)))) == 1


async def test_lease_is_held_by_one_of_two_owners(database: Database) -> None:
    conversation = await make_conversation(database)
    action = await _action(database, conversation)
    other = await second_database(database)
    try:

        async def claim(db: Database, owner: str) -> bool:
            async with db.session() as session:
                return await claim_action_lease(
                    session,
                    action_id=action.id,
                    owner=owner,
                    until=NOW + timedelta(minutes=1),
                    now=NOW,
                )

        results = await asyncio.gather(claim(database, "proc-a"), claim(other, "proc-b"))
    finally:
        await other.dispose()
    assert sorted(results) == [False, True]
    holder = "proc-a" if results[0] else "proc-b"
    loser = "proc-b" if results[0] else "proc-a"
    async with database.session() as session:
        # the holder renews; the other waits until expiry; fencing by lease_owner
        assert await claim_action_lease(
            session, action_id=action.id, owner=holder, until=NOW + timedelta(minutes=2), now=NOW
        )
        assert not await transition_action(
            session,
            action_id=action.id,
            from_statuses=("pending",),
            to_status="running",
            lease_owner=loser,
        )
        assert not await claim_action_lease(
            session,
            action_id=action.id,
            owner=loser,
            until=NOW + timedelta(minutes=5),
            now=NOW + timedelta(minutes=1),
        )
        assert await claim_action_lease(
            session,
            action_id=action.id,
            owner=loser,
            until=NOW + timedelta(minutes=5),
            now=NOW + timedelta(minutes=2),
        )
        assert not await release_action_lease(session, action_id=action.id, owner=holder)
        assert await release_action_lease(session, action_id=action.id, owner=loser)
        assert await claim_action_lease(
            session, action_id=action.id, owner=holder, until=NOW, now=NOW - timedelta(seconds=1)
        )


async def test_list_open_actions(database: Database) -> None:
    conversation = await make_conversation(database)
    a = await _action(database, conversation, kind="search")
    b = await _action(database, conversation, kind="call")
    c = await _action(database, conversation, kind="call")
    await _action(database, conversation, kind="job")
    async with database.session() as session:
        await transition_action(
            session, action_id=c.id, from_statuses=("pending",), to_status="succeeded"
        )
        open_ = await list_open_actions(
            session, kinds=("search", "call"), statuses=("pending", "running")
        )
    assert [x.id for x in open_] == [a.id, b.id]
