"""The conversation-level rig for Events matching: one group chat (`HERE`) with its members,
the offline planner as the model (plain phrases → the Events tools), the job runner and the
outbox sender live as in `serve`, against the Events sandbox over loopback HTTP."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from conversations import ConversationManager
from conversations.capabilities.events import import_job, matching
from conversations.offline import OfflinePlanner
from conversations.replies import Reply
from conversations.types import Sender
from integrations.sandbox import (
    DEFAULT_EVENTS_KEY,
    EventsSandboxConfig,
    RunningEventsSandbox,
    running_events_sandbox,
)
from tests.conversations.conftest import Harness
from tests.conversations.live import LiveChat, live_chat
from tests.fakes.chat import RecordingReplier

BOB = Sender("U_BOB", "Bob")
CAROL = Sender("U_CAROL", "Carol")


def quick_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs are polled every 2–3 s in production."""
    monkeypatch.setattr(matching, "poll_delay", lambda: 0.0)
    monkeypatch.setattr(import_job, "poll_delay", lambda: 0.0)


@dataclass
class EventsChat(LiveChat[OfflinePlanner]):
    sandbox: RunningEventsSandbox

    def private_to(self, user: Sender) -> list[str]:
        return [r.text for r in self.chat.replies if r.private_to == user.user_id]

    async def told(self, user: Sender, words: str, *, after: int = 0) -> str:
        """The first private answer to `user` containing `words` (past the first `after`)."""

        def said() -> list[str]:
            return [t for t in self.private_to(user)[after:] if words in t]

        await self.wait(lambda: bool(said()), timeout_s=30)
        return said()[0]

    @property
    def public(self) -> list[Reply]:
        return [r for r in self.chat.replies if r.private_to is None]

    def approval(self, words: str) -> Reply:
        found = [r for r in self.chat.replies if r.approval and words in r.approval.title]
        assert found, self.chat.transcript
        return found[-1]

    async def make_event(self) -> None:
        await self.say("make this channel an event for Friday's offsite")
        await self.wait(lambda: bool(self.shown("Make this chat an event")))
        created = self.approval("Make this chat an event")
        assert created.approval is not None
        await self.press(created.approval.confirm.value)
        await self.wait(lambda: bool(self.shown("This chat is now the event")))

    async def share_everyone(self) -> Reply:
        await self.say("add everyone here")
        await self.wait(lambda: bool(self.shown("with the matching service for")))
        asked = self.approval("with the matching service for")
        assert asked.approval is not None
        await self.press(asked.approval.confirm.value)
        await self.wait(lambda: bool(self.shown("✅ Added")))
        return asked

    async def match(self) -> None:
        await self.say("run matching")
        await self.wait(lambda: bool(self.shown("Matches are ready")))

    def cards(self, words: str) -> list[Reply]:
        return [r for r in self.shown(words) if r.key and r.key.startswith("job:")]


@contextlib.asynccontextmanager
async def events_chat(
    harness: Harness, config: EventsSandboxConfig | None = None, key: str = DEFAULT_EVENTS_KEY
) -> AsyncIterator[EventsChat]:
    async with running_events_sandbox(config or EventsSandboxConfig.fast()) as sandbox:
        harness.events_url, harness.events_key = sandbox.base_url, key

        def make(
            harness: Harness,
            manager: ConversationManager,
            chat: RecordingReplier,
            model: OfflinePlanner,
        ) -> EventsChat:
            return EventsChat(harness, manager, chat, model, sandbox=sandbox)

        async with live_chat(harness, OfflinePlanner(), make) as rig:
            yield rig
