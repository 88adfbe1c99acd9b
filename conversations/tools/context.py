"""What every tool gets: the conversation it acts for and the services it may use."""

from __future__ import annotations

from dataclasses import dataclass, field

from conversations.booking.config import BookingConfig
from conversations.outgoing_access import OutgoingAccess
from conversations.people import People
from conversations.replies import Replier
from conversations.state import ConversationState
from conversations.types import ConversationAddress, Sender
from storage import Database


@dataclass(frozen=True)
class ToolDeps:
    """Long-lived services, shared by all conversations."""

    db: Database
    outgoing: OutgoingAccess
    booking: BookingConfig = field(default_factory=BookingConfig)
    people: People | None = None
    progress_interval_s: float = 5.0
    page_size: int = 5
    enrich_limit: int = 8


@dataclass
class ToolContext:
    """One turn of one conversation. `state` is saved by the manager after the turn."""

    deps: ToolDeps
    address: ConversationAddress
    sender: Sender
    replier: Replier
    state: ConversationState
    conversation_id: str
