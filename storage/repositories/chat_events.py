"""Chats turned into Events partner events: the chat → event link, members' say about being
shared, who has spoken in the chat, and identity reviews decided once."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import (
    ChatEvent,
    ChatEventMember,
    ChatEventReview,
    Conversation,
    Message,
    Person,
    new_id,
    utc_now,
)
from storage.repositories._common import RETURNING_OPTIONS, dialect_insert, table_of

__all__ = [
    "chat_senders",
    "create_chat_event",
    "decide_review",
    "get_chat_event",
    "get_chat_event_by_id",
    "get_review",
    "mark_enriched",
    "mark_imported",
    "mark_members_shared",
    "member_rows",
    "people_by_partner_id",
    "save_review",
    "set_member_sharing",
    "undo_review_decision",
]


async def get_chat_event(
    session: AsyncSession, *, platform: str, workspace_id: str, chat_id: str
) -> ChatEvent | None:
    result = await session.exec(
        select(ChatEvent).where(
            col(ChatEvent.platform) == platform,
            col(ChatEvent.workspace_id) == workspace_id,
            col(ChatEvent.chat_id) == chat_id,
        )
    )
    return result.first()


async def get_chat_event_by_id(
    session: AsyncSession, *, chat_event_id: str, platform: str
) -> ChatEvent | None:
    """The event by its row id on this platform; the caller checks who may act on it (a
    Telegram organiser presses in their private chat, which is another "workspace")."""
    result = await session.exec(
        select(ChatEvent).where(
            col(ChatEvent.id) == chat_event_id, col(ChatEvent.platform) == platform
        )
    )
    return result.first()


async def create_chat_event(
    session: AsyncSession,
    *,
    platform: str,
    workspace_id: str,
    chat_id: str,
    thread_id: str,
    event_id: str,
    title: str,
    organiser: str,
    now: datetime | None = None,
) -> tuple[ChatEvent, bool]:
    """The chat's event, recorded once (race-safe): (row, whether this call created it).
    A chat that already has an event keeps it."""
    inserted = await session.exec(
        dialect_insert(session, ChatEvent)
        .values(
            id=new_id(),
            platform=platform,
            workspace_id=workspace_id,
            chat_id=chat_id,
            thread_id=thread_id,
            event_id=event_id,
            title=title,
            organiser=organiser,
            created_at=now or utc_now(),
        )
        .on_conflict_do_nothing()
        .returning(col(ChatEvent.id))
    )
    created = inserted.first() is not None
    row = await get_chat_event(
        session, platform=platform, workspace_id=workspace_id, chat_id=chat_id
    )
    assert row is not None
    return row, created


async def mark_imported(session: AsyncSession, *, chat_event_id: str, at: datetime) -> None:
    await session.exec(
        update(ChatEvent).where(col(ChatEvent.id) == chat_event_id).values(imported_at=at)
    )


async def mark_enriched(session: AsyncSession, *, chat_event_id: str, at: datetime) -> None:
    await session.exec(
        update(ChatEvent).where(col(ChatEvent.id) == chat_event_id).values(enriched_at=at)
    )


async def set_member_sharing(
    session: AsyncSession,
    *,
    platform: str,
    workspace_id: str,
    chat_id: str,
    user_id: str,
    opted_out: bool,
    now: datetime | None = None,
) -> None:
    """Record a member's "don't share me" (or that they changed their mind)."""
    where = {"platform": platform, "workspace_id": workspace_id, "chat_id": chat_id}
    await _upsert_members(session, where, [user_id], {"opted_out": opted_out}, now or utc_now())


async def member_rows(
    session: AsyncSession, *, platform: str, workspace_id: str, chat_id: str
) -> dict[str, ChatEventMember]:
    result = await session.exec(
        select(ChatEventMember).where(
            col(ChatEventMember.platform) == platform,
            col(ChatEventMember.workspace_id) == workspace_id,
            col(ChatEventMember.chat_id) == chat_id,
        )
    )
    return {row.user_id: row for row in result.all()}


async def mark_members_shared(
    session: AsyncSession,
    *,
    platform: str,
    workspace_id: str,
    chat_id: str,
    user_ids: Collection[str],
    at: datetime,
) -> None:
    """These members were sent to the partner at `at` (a member who opted out meanwhile
    stays out)."""
    where = {"platform": platform, "workspace_id": workspace_id, "chat_id": chat_id}
    await _upsert_members(session, where, user_ids, {"shared_at": at}, at)


async def _upsert_members(
    session: AsyncSession,
    where: dict[str, str],
    user_ids: Collection[str],
    fields: dict[str, Any],
    now: datetime,
) -> None:
    """Each member's row gets `fields`, created (not opted out) where missing: one
    statement for all of them."""
    if not user_ids:
        return
    insert = dialect_insert(session, table_of(ChatEventMember))
    changed = [*fields, "updated_at"]
    statement = insert.on_conflict_do_update(
        index_elements=["platform", "workspace_id", "chat_id", "user_id"],
        set_={name: insert.excluded[name] for name in changed},
    )
    rows = [
        {
            "id": new_id(),
            **where,
            "user_id": user_id,
            "opted_out": False,
            **fields,
            "updated_at": now,
        }
        for user_id in user_ids
    ]
    await session.exec(statement, params=rows)


async def chat_senders(
    session: AsyncSession, *, platform: str, workspace_id: str, chat_id: str
) -> list[str]:
    """Everyone who has written in the chat (any of its threads), first to write first."""
    result = await session.exec(
        select(Message.sender_id, Message.id)
        .join(Conversation, col(Conversation.id) == col(Message.conversation_id))
        .where(
            col(Conversation.platform) == platform,
            col(Conversation.workspace_id) == workspace_id,
            col(Conversation.chat_id) == chat_id,
            col(Message.role) == "user",
            col(Message.sender_id).is_not(None),
        )
        .order_by(col(Message.id))
    )
    seen: dict[str, None] = {}
    for sender_id, _ in result.all():
        if sender_id:
            seen.setdefault(sender_id, None)
    return list(seen)


async def people_by_partner_id(
    session: AsyncSession, *, platform: str, workspace_id: str, partner_ids: Collection[str]
) -> dict[str, Person]:
    """The people of this workspace behind these partner (external user) ids."""
    if not partner_ids:
        return {}
    result = await session.exec(
        select(Person).where(
            col(Person.platform) == platform,
            col(Person.workspace_external_id) == workspace_id,
            col(Person.external_user_id).in_(list(partner_ids)),
        )
    )
    return {person.external_user_id: person for person in result.all()}


async def save_review(
    session: AsyncSession,
    *,
    review_id: str,
    chat_event_id: str,
    source_id: str,
    target_id: str,
) -> ChatEventReview:
    """The review as shown to an organiser (kept as it was the first time)."""
    await session.exec(
        dialect_insert(session, ChatEventReview)
        .values(
            review_id=review_id,
            chat_event_id=chat_event_id,
            source_id=source_id,
            target_id=target_id,
            created_at=utc_now(),
        )
        .on_conflict_do_nothing()
    )
    row = await get_review(session, review_id=review_id)
    assert row is not None
    return row


async def get_review(session: AsyncSession, *, review_id: str) -> ChatEventReview | None:
    result = await session.exec(
        select(ChatEventReview).where(col(ChatEventReview.review_id) == review_id)
    )
    return result.first()


async def decide_review(
    session: AsyncSession,
    *,
    review_id: str,
    decision: str,
    decided_by: str,
    now: datetime | None = None,
) -> ChatEventReview | None:
    """Claim the decision of an undecided review: one conditional UPDATE, so of two presses
    (one person's double click, or two organisers) exactly one wins; None for the others."""
    result = await session.exec(
        update(ChatEventReview)
        .where(col(ChatEventReview.review_id) == review_id, col(ChatEventReview.decision).is_(None))
        .values(decision=decision, decided_by=decided_by, decided_at=now or utc_now())
        .returning(ChatEventReview)
        .execution_options(**RETURNING_OPTIONS)
    )
    return result.scalars().first()


async def undo_review_decision(session: AsyncSession, *, review_id: str, decided_by: str) -> None:
    """The partner did not take the decision: the review is open to decide again."""
    await session.exec(
        update(ChatEventReview)
        .where(
            col(ChatEventReview.review_id) == review_id,
            col(ChatEventReview.decided_by) == decided_by,
        )
        .values(decision=None, decided_by=None, decided_at=None)
    )
