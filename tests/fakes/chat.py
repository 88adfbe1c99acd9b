"""A replier that records what a person in the chat would see."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.console.render import render_reply
from conversations.replies import Progress, Reply


@dataclass
class RecordedStream:
    deltas: list[str] = field(default_factory=list)
    closed: bool = False

    async def append(self, delta: str) -> None:
        assert not self.closed
        self.deltas.append(delta)

    async def close(self) -> None:
        self.closed = True


@dataclass
class RecordingReplier:
    """`streaming=True` behaves like a platform that shows the model's text as it grows."""

    replies: list[Reply] = field(default_factory=list)
    updates: list[Progress] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    streams: list[RecordedStream] = field(default_factory=list)
    streaming: bool = False

    async def stream(self) -> RecordedStream | None:
        if not self.streaming:
            return None
        self.streams.append(RecordedStream())
        return self.streams[-1]

    async def send(self, reply: Reply) -> None:
        self.replies.append(reply)
        self.events.append(render_reply(reply))

    async def progress(self, update: Progress) -> None:
        self.updates.append(update)
        kind = update.key.split(":")[0]
        if update.done or not any(u.key == update.key for u in self.updates[:-1]):
            self.events.append(f"[{kind} {'done' if update.done else 'started'}] {update.text}")

    @property
    def texts(self) -> list[str]:
        return [r.text for r in self.replies if r.text]

    @property
    def transcript(self) -> str:
        return "\n".join(self.events)
