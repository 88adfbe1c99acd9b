"""The conversation-level rig for Events matching: one group chat (`HERE`) with its members,
the offline planner as the model (plain phrases → the Events tools), the job runner and the
outbox sender live as in `serve`, against the Events sandbox over loopback HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest

from conversations import ConversationManager
from conversations.capabilities.events import import_job, matching
from conversations.delivery import OutboxSender
from conversations.manager import new_event_id
from conversations.offline import OfflinePlanner
from conversations.replies import Reply
from conversations.types import ButtonPress, Sender
from integrations.sandbox import (
    DEFAULT_EVENTS_KEY,
    EventsSandboxConfig,
    RunningEventsSandbox,
    running_events_sandbox,
)
from tests.conversations.conftest import ALICE, HERE, Harness
from tests.fakes.chat import RecordingReplier

BOB = Sender("U_BOB", "Bob")
CAROL = Sender("U_CAROL", "Carol")


def quick_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs are polled every 2–3 s in production."""
    monkeypatch.setattr(matching, "poll_delay", lambda: 0.0)
    monkeypatch.setattr(import_job, "poll_delay", lambda: 0.0)


@dataclass
class EventsChat:
    harness: Harness
    sandbox: RunningEventsSandbox
    manager: ConversationManager
    chat: RecordingReplier = field(default_factory=RecordingReplier)
    jobs: asyncio.Task[None] | None = None

    def start_jobs(self) -> None:
        self.jobs = asyncio.create_task(self.harness.runners[id(self.manager)].run())

    async def stop_jobs(self) -> None:
        if self.jobs is not None:
            self.jobs.cancel()
            await asyncio.gather(self.jobs, return_exceptions=True)
            self.jobs = None

    async def restart(self) -> None:
        """A new process on the same database: a fresh manager, runner and memory."""
        await self.stop_jobs()
        self.manager = self.harness.manager(OfflinePlanner())
        self.start_jobs()

    async def say(self, text: str, sender: Sender = ALICE) -> None:
        await self.harness.say(self.manager, text, sender=sender, replier=self.chat, settle=False)

    async def press(self, value: str, sender: Sender = ALICE) -> None:
        await self.manager.handle(ButtonPress(HERE, sender, value, new_event_id()), self.chat)

    async def wait(self, check: Callable[[], bool], timeout_s: float = 10.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not check():
            assert time.monotonic() < deadline, self.chat.transcript
            await asyncio.sleep(0.02)

    def shown(self, words: str) -> list[Reply]:
        return [
            r
            for r in self.chat.replies
            if words in r.text or (r.approval is not None and words in r.approval.title)
        ]

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
        rig = EventsChat(harness, sandbox, harness.manager(OfflinePlanner()))
        harness.outlet.repliers[HERE] = rig.chat
        outbox = OutboxSender(harness.db, {"console": harness.outlet})
        sending = asyncio.create_task(outbox.run(poll_interval_s=0.05))
        rig.start_jobs()
        try:
            yield rig
        finally:
            await rig.stop_jobs()
            sending.cancel()
            await asyncio.gather(sending, return_exceptions=True)
