"""This chat's event, who organises it, and whether the Events key here may write."""

from __future__ import annotations

from dataclasses import dataclass

from conversations.capabilities.events.access import EventsAccess
from conversations.tools.context import ToolContext
from conversations.types import ConversationAddress
from integrations.events import EventsClient
from storage.models import ChatEvent
from storage.repositories import chat_events


@dataclass(frozen=True)
class Here:
    """What an Events tool works with: the client, and this chat's event (if any)."""

    access: EventsAccess
    client: EventsClient
    event: ChatEvent | None


async def here(ctx: ToolContext) -> Here | None:
    """None when Events is off for this conversation. The asker's profile is kept on the
    way (their name is what the organiser's list shows, and what others' matches call them)."""
    access = ctx.deps.events
    client = await access.client(ctx.address) if access is not None else None
    if access is None or client is None:
        return None
    if ctx.deps.people is not None:
        await ctx.deps.people.lookup(ctx.address, ctx.sender)
    return Here(access, client, await event_of(ctx, ctx.address))


async def event_of(ctx: ToolContext, address: ConversationAddress) -> ChatEvent | None:
    async with ctx.deps.db.session(read_only=True) as session:
        return await chat_events.get_chat_event(
            session,
            platform=address.platform,
            workspace_id=address.workspace_id,
            chat_id=address.chat_id,
        )


async def organises(ctx: ToolContext, access: EventsAccess, event: ChatEvent) -> bool:
    """The event's creator, or an admin of its workspace."""
    if ctx.sender.user_id == event.organiser:
        return True
    return await ctx.deps.admins.is_admin(ctx.address, ctx.sender.user_id)


async def writes_here(ctx: ToolContext) -> bool:
    """Offer the Events write tools only where the key may write (`partner:write`)."""
    access = ctx.deps.events
    return access is not None and await access.can_write(ctx.address)
