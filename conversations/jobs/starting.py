"""Starting a job from a tool or a button: record it as due, and ring the runner's bell."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from conversations.jobs.kinds import JobKind
from conversations.types import ConversationAddress
from storage import Database, repositories
from storage.models import Action


class JobBell:
    """Tells this process's runner that a job is due now, so it needn't wait for its poll."""

    def __init__(self) -> None:
        self._listeners: list[Callable[[], None]] = []

    def listen(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def ring(self) -> None:
        for listener in self._listeners:
            listener()


async def start_job(
    session: AsyncSession,
    kind: JobKind,
    *,
    status: str,
    address: ConversationAddress,
    conversation_id: str,
    requested_by: str,
    payload: Mapping[str, Any],
    idempotency_key: str | None = None,
    webhook_token_hash: str | None = None,
) -> Action:
    """Record a due job inside the caller's transaction (ring the bell after it commits).
    With an `idempotency_key` already used, the job recorded then is returned unchanged."""
    return await repositories.create_action(
        session,
        kind=kind.name,
        status=status,
        conversation_id=conversation_id,
        platform=address.platform,
        workspace_id=address.workspace_id,
        chat_id=address.chat_id,
        thread_id=address.thread_id,
        requested_by=requested_by,
        payload=payload,
        idempotency_key=idempotency_key,
        webhook_token_hash=webhook_token_hash,
        next_run_at=datetime.now(UTC),
    )


async def wake_job(db: Database, bell: JobBell, job_id: str) -> None:
    """Something a waiting job counts arrived (a vote, a decision): make it due now."""
    async with db.session() as session:
        await repositories.schedule_job(session, action_id=job_id)
    bell.ring()
