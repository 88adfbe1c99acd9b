"""Partner operations that outlive one request, recorded as action rows.

A search, booking, call or job is an action: created before the partner is asked, moved
forward by one conditional update, never backwards, so replays and races change nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from conversations.types import ConversationAddress
from storage import Database, repositories

RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"


@dataclass
class TrackedAction:
    """Handle given to the work while it runs; its outcome is written when the block exits."""

    id: str
    status: str = SUCCEEDED
    result: dict[str, Any] | None = None
    error: str | None = None

    def succeed(self, result: dict[str, Any] | None = None) -> None:
        self.status, self.result = SUCCEEDED, result

    def fail(self, error: str) -> None:
        self.status, self.error = FAILED, error


@contextlib.asynccontextmanager
async def tracked(
    db: Database,
    *,
    kind: str,
    address: ConversationAddress,
    requested_by: str,
    conversation_id: str,
    payload: dict[str, Any],
) -> AsyncIterator[TrackedAction]:
    """Record an action as running, hand it to the work, and settle it however the work ends."""
    async with db.session() as session:
        row = await repositories.create_action(
            session,
            kind=kind,
            status=RUNNING,
            conversation_id=conversation_id,
            platform=address.platform,
            workspace_id=address.workspace_id,
            chat_id=address.chat_id,
            thread_id=address.thread_id,
            requested_by=requested_by,
            payload=payload,
        )
        action = TrackedAction(id=row.id)
    try:
        yield action
    except BaseException as error:
        action.fail(type(error).__name__)
        raise
    finally:
        async with db.session() as session:
            await repositories.transition_action(
                session,
                action_id=action.id,
                from_statuses=(RUNNING,),
                to_status=action.status,
                result=action.result,
                error=action.error,
            )
