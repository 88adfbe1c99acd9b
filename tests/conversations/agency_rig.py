"""The conversation-level rig for the travel agency: one chat (`HERE`), the offline planner
as the model (plain phrases → the agency tools), the job runner and the outbox sender live as
in `serve`, against the Voyagent sandbox over loopback HTTP."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from conversations import ConversationManager
from conversations.offline import OfflinePlanner
from conversations.replies import Reply
from conversations.types import Sender
from integrations.sandbox.server import RunningVoyagentSandbox, running_voyagent_sandbox
from integrations.sandbox.voyagent_state import (
    DEFAULT_EMAIL,
    DEFAULT_PASSWORD,
    VoyagentSandboxConfig,
)
from tests.conversations.conftest import ALICE, Harness
from tests.conversations.live import LiveChat, live_chat
from tests.fakes.chat import RecordingReplier

BOB = Sender("U_BOB", "Bob")
ADMIN = Sender("U_ADMIN", "Ada Admin")
LISBON = "ask the agency to plan 5 days in Lisbon for 4 in May"


@dataclass
class AgencyChat(LiveChat[OfflinePlanner]):
    sandbox: RunningVoyagentSandbox

    def private_to(self, user: Sender) -> list[str]:
        return [r.text for r in self.chat.replies if r.private_to == user.user_id]

    def approval(self, words: str) -> Reply:
        found = [r for r in self.chat.replies if r.approval and words in r.approval.title]
        assert found, self.chat.transcript
        return found[-1]

    def last_answer(self) -> Reply:
        """The newest reply that is not part of an agency turn: the agency's turns are
        streamed into the same chat meanwhile, and a late edit may come after our answer."""
        ours = [r for r in self.chat.replies if not (r.key and ":turn:" in r.key)]
        assert ours, self.chat.transcript
        return ours[-1]

    def turn(self, number: int) -> list[Reply]:
        """Every post and edit of the agency's turn `number`, in order."""
        return [r for r in self.chat.replies if r.key and r.key.endswith(f":turn:{number}")]

    async def handed_over(self, budget: str = "€6,000") -> None:
        """Ask for the Lisbon trip, answer the budget question, press Send."""
        await self.say(LISBON)
        await self.wait(lambda: bool(self.shown("What budget")))
        await self.say(budget)
        await self.send()
        await self.wait(lambda: bool(self.shown("is answering in this thread")), 15)

    async def send(self) -> None:
        """Press Send on the trip's confirmation, once it is shown."""
        await self.wait(lambda: bool(self.shown("Send this trip to the travel agency")))
        sent = self.approval("Send this trip to the travel agency")
        assert sent.approval is not None
        await self.press(sent.approval.confirm.value)

    async def say(self, text: str, sender: Sender = ALICE, *, private: bool = False) -> None:
        await self.harness.say(
            self.manager, text, sender=sender, replier=self.chat, settle=False, private=private
        )

    def approvals(self) -> list[Reply]:
        """Each agency approval card as first posted (pending)."""
        return [
            r
            for r in self.chat.replies
            if r.approval is not None
            and "asks for your approval" in r.approval.title
            and r.approval.status == "pending"
        ]

    async def wait_for_approvals(self, count: int) -> Reply:
        await self.wait(lambda: len(self.approvals()) >= count, 15)
        return self.approvals()[count - 1]

    def session_id(self) -> str:
        (session_id,) = self.sandbox.state.sessions
        return str(session_id)

    async def agency_asks(self) -> Reply:
        await self.wait(lambda: bool(self.shown("asks for your approval")), 15)
        return self.approval("asks for your approval")


@contextlib.asynccontextmanager
async def agency_chat(
    harness: Harness,
    config: VoyagentSandboxConfig | None = None,
    login: tuple[str, str] = (DEFAULT_EMAIL, DEFAULT_PASSWORD),
) -> AsyncIterator[AgencyChat]:
    async with running_voyagent_sandbox(config or VoyagentSandboxConfig.fast()) as sandbox:
        harness.voyagent_url, harness.voyagent_login = sandbox.base_url, login

        def make(
            harness: Harness,
            manager: ConversationManager,
            chat: RecordingReplier,
            model: OfflinePlanner,
        ) -> AgencyChat:
            return AgencyChat(harness, manager, chat, model, sandbox=sandbox)

        async with live_chat(harness, OfflinePlanner(), make) as rig:
            assert ALICE.user_id != ADMIN.user_id
            yield rig
