"""What every tool gets: the conversation it acts for and the services it may use."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from conversations.admins import WorkspaceAdmins
from conversations.booking.config import BookingConfig
from conversations.credentials import CredentialResolver
from conversations.jobs.starting import JobBell
from conversations.members import ChatMembers
from conversations.outgoing_access import OutgoingAccess
from conversations.people import People
from conversations.replies import Replier, Reply
from conversations.state import ConversationState
from conversations.types import ConversationAddress, Sender
from storage import Database

if TYPE_CHECKING:
    from conversations.capabilities.callagent.access import CallAgentAccess
    from conversations.capabilities.events.access import EventsAccess
    from conversations.capabilities.onegent.access import OnegentAccess
    from conversations.capabilities.voyagent.access import VoyagentAccess
    from conversations.jobs.kinds import JobKind


@dataclass(frozen=True)
class ToolDeps:
    """Long-lived services, shared by all conversations."""

    db: Database
    outgoing: OutgoingAccess
    booking: BookingConfig = field(default_factory=BookingConfig)
    people: People | None = None
    jobs: JobBell = field(default_factory=JobBell)
    job_kinds: Mapping[str, JobKind] = field(default_factory=dict)
    progress_interval_s: float = 5.0
    page_size: int = 5
    enrich_limit: int = 8
    credentials: CredentialResolver | None = None
    """Every partner's credentials; None: the resolver `outgoing` was built with."""
    call_agent: CallAgentAccess | None = None
    onegent: OnegentAccess | None = None
    events: EventsAccess | None = None
    voyagent: VoyagentAccess | None = None
    admins: WorkspaceAdmins = field(default_factory=WorkspaceAdmins)
    """Each front-end says who its workspace admins are."""
    members: ChatMembers = field(default_factory=ChatMembers)
    """Each front-end that can list a chat's members says who they are."""


@dataclass
class ToolContext:
    """One turn of one conversation. `state` is saved by the manager after the turn."""

    deps: ToolDeps
    address: ConversationAddress
    sender: Sender
    replier: Replier
    state: ConversationState
    conversation_id: str
    origin: str = ""
    """The inbound item this turn answers; work it starts is keyed by it, so a turn re-run
    after a crash finds the job it already started instead of starting another."""
    private: bool = False
    """The turn is in the person's own chat with the bot (nobody else reads it)."""
    _started: dict[str, int] = field(default_factory=dict)

    def privately(self, text: str) -> Reply:
        """A short answer for the person in this turn alone (a refusal, "already done"):
        never a message for everyone in a channel or group."""
        return Reply(text=text, private_to=self.sender.user_id)

    def work_key(self, what: str) -> str | None:
        """A key for the n-th piece of `what` this turn starts (None outside a turn)."""
        if not self.origin:
            return None
        self._started[what] = self._started.get(what, 0) + 1
        return f"{self.origin}:{what}:{self._started[what]}"
