from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from storage import Database
from storage.models import Approval
from storage.repositories import create_approval, expire_approvals, get_approval, resolve_approval
from tests.storage.databases import second_database
from tests.storage.helpers import make_conversation

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
SNAPSHOT = {"offer": "o-1", "price": {"amount": "42.00", "currency": "EUR"}, "quantity": 2}


async def _approval(db: Database, *, expires_in: timedelta = timedelta(minutes=10)) -> Approval:
    conversation = await make_conversation(db)
    async with db.session() as session:
        return await create_approval(
            session,
            conversation_id=conversation.id,
            workspace_id=conversation.workspace_id,
            requested_by="U1",
            snapshot=SNAPSHOT,
            expires_at=NOW + expires_in,
            now=NOW,
        )


async def test_resolved_exactly_once_under_concurrent_attempts(database: Database) -> None:
    approval = await _approval(database)
    other = await second_database(database)
    try:

        async def click(i: int) -> Approval | None:
            async with (database if i % 2 else other).session() as session:
                return await resolve_approval(
                    session,
                    approval_id=approval.id,
                    workspace_id="T1",
                    requested_by="U1",
                    to_status="granted" if i % 3 else "rejected",
                    now=NOW + timedelta(seconds=1),
                )

        results = await asyncio.gather(*(click(i) for i in range(12)))
    finally:
        await other.dispose()
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    async with database.session() as session:
        stored = await get_approval(session, approval_id=approval.id, workspace_id="T1")
    assert stored is not None
    assert (stored.status, stored.resolved_by, stored.snapshot) == (
        winners[0].status,
        "U1",
        SNAPSHOT,
    )
    assert stored.resolved_at == NOW + timedelta(seconds=1)


@pytest.mark.parametrize(
    ("workspace_id", "requested_by", "at"),
    [
        ("T1", "U2", NOW),  # someone else clicked
        ("T2", "U1", NOW),  # same user id, another workspace
        ("T1", "U1", NOW + timedelta(minutes=10)),  # at the deadline
        ("T1", "U1", NOW + timedelta(hours=1)),  # after expiry
    ],
    ids=["other-requester", "other-workspace", "at-deadline", "expired"],
)
async def test_refused(
    database: Database, workspace_id: str, requested_by: str, at: datetime
) -> None:
    approval = await _approval(database)
    async with database.session() as session:
        assert (
            await resolve_approval(
                session,
                approval_id=approval.id,
                workspace_id=workspace_id,
                requested_by=requested_by,
                to_status="granted",
                now=at,
            )
            is None
        )
        assert await get_approval(session, approval_id=approval.id, workspace_id="T2") is None
        stored = await get_approval(session, approval_id=approval.id, workspace_id="T1")
    assert stored is not None and stored.status == "pending"


async def test_invalid_target_status(database: Database) -> None:
    approval = await _approval(database)
    async with database.session() as session:
        with pytest.raises(ValueError, match="granted or rejected"):
            await resolve_approval(
                session,
                approval_id=approval.id,
                workspace_id="T1",
                requested_by="U1",
                to_status="expired",  # type: ignore[arg-type]
                now=NOW,
            )


async def test_expire(database: Database) -> None:
    soon = await _approval(database, expires_in=timedelta(minutes=1))
    later = await _approval(database, expires_in=timedelta(hours=1))
    async with database.session() as session:
        expired = await expire_approvals(session, now=NOW + timedelta(minutes=5))
        assert [a.id for a in expired] == [soon.id]
        assert expired[0].status == "expired"
        assert await expire_approvals(session, now=NOW + timedelta(minutes=5)) == []
        # an expired approval can no longer be granted
        assert (
            await resolve_approval(
                session,
                approval_id=soon.id,
                workspace_id="T1",
                requested_by="U1",
                to_status="granted",
                now=NOW,
            )
            is None
        )
        granted = await resolve_approval(
            session,
            approval_id=later.id,
            workspace_id="T1",
            requested_by="U1",
            to_status="granted",
            now=NOW + timedelta(minutes=5),
        )
    assert granted is not None and granted.status == "granted"
