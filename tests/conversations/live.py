"""A conversation running as in `serve`: the manager with its job runner and outbox sender
live, one recorded chat at `HERE`, and the helpers every partner rig needs (wait for what is
shown, say, press, kill the job runner and start a fresh process on the same database)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from conversations import ConversationManager
from conversations.delivery import OutboxSender
from conversations.llm import LLM
from conversations.manager import new_event_id
from conversations.replies import Reply
from conversations.types import ButtonPress, Sender
from tests.conversations.conftest import ALICE, HERE, Harness
from tests.fakes.chat import RecordingReplier

Model = TypeVar("Model", bound=LLM)


@dataclass
class LiveChat(Generic[Model]):
    harness: Harness
    manager: ConversationManager
    chat: RecordingReplier
    model: Model
    jobs: asyncio.Task[None] | None = field(default=None, init=False)

    def start_jobs(self) -> None:
        self.jobs = asyncio.create_task(self.harness.runners[id(self.manager)].run())

    async def stop_jobs(self) -> None:
        """The process dies: its job runner stops (and `restart` forgets its memory)."""
        if self.jobs is not None:
            self.jobs.cancel()
            await asyncio.gather(self.jobs, return_exceptions=True)
            self.jobs = None

    async def restart(self) -> None:
        """A new process on the same database: a fresh manager, runner and memory."""
        await self.stop_jobs()
        self.manager = self.harness.manager(self.model)
        self.start_jobs()

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

    async def say(self, text: str, sender: Sender = ALICE) -> None:
        await self.harness.say(self.manager, text, sender=sender, replier=self.chat, settle=False)

    async def press(self, value: str, sender: Sender = ALICE) -> None:
        await self.manager.handle(ButtonPress(HERE, sender, value, new_event_id()), self.chat)


Chat = TypeVar("Chat", bound=LiveChat[Any])


@contextlib.asynccontextmanager
async def live_chat(
    harness: Harness,
    model: Model,
    make: Callable[[Harness, ConversationManager, RecordingReplier, Model], Chat],
) -> AsyncIterator[Chat]:
    """`make` builds the rig (a `LiveChat` subclass) around the running manager."""
    manager = harness.manager(model)
    chat = RecordingReplier()
    harness.outlet.repliers[HERE] = chat
    outbox = OutboxSender(harness.db, {"console": harness.outlet})
    sending = asyncio.create_task(outbox.run(poll_interval_s=0.05))
    running = make(harness, manager, chat, model)
    running.start_jobs()
    try:
        yield running
    finally:
        await running.stop_jobs()
        sending.cancel()
        await asyncio.gather(sending, return_exceptions=True)
