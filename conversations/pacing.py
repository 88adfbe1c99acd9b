"""At most a few turns do their own work at once; a turn waiting lets another go.

Every turn's own work (loading and saving its conversation, building the model's request,
reading the answer) is CPU on the one event loop. Hundreds of turns started at once (a burst
of messages) all interleave there: each step of every one, and of every acknowledgement the
front-ends owe the platforms, waits behind a step of all the others, so every turn finishes
late and an ack takes a hundred milliseconds. `TurnGate` lets `size` turns do their own work
at a time, first come first served; a turn lets go of its place while it waits on the model, a
tool, a partner or the chat platform (`released`), so a slow model call never holds up
another conversation, and the acks only ever queue behind a few steps. A turn coming back
from a wait goes before the turns not started yet, so turns finish in about the order they
came, rather than all of them at the end of a burst.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar

from conversations.replies import Progress, Replier, Reply, TextStream
from storage.engine import PrioritySemaphore

__all__ = ["GatedReplier", "TurnGate"]

_holding: ContextVar[tuple[TurnGate, asyncio.Task[object]] | None] = ContextVar(
    "turn_gate_holding", default=None
)
"""The gate whose place the current task holds (tasks it starts inherit the variable, but
hold nothing: `released` is theirs to ignore)."""


def _mine(gate: TurnGate) -> tuple[TurnGate, asyncio.Task[object]] | None:
    task = asyncio.current_task()
    return None if task is None else (gate, task)


class TurnGate:
    def __init__(self, size: int) -> None:
        self._places = PrioritySemaphore(size)

    @asynccontextmanager
    async def held(self) -> AsyncIterator[None]:
        """A place for this turn's own work, until the block ends."""
        await self._places.acquire()
        mine = _mine(self)
        token = _holding.set(mine)
        try:
            yield
        finally:
            if _holding.get() == mine:  # not given up by a `released` cancelled on its way back
                self._places.release()
            _holding.reset(token)

    @asynccontextmanager
    async def released(self) -> AsyncIterator[None]:
        """Give the place up while this block waits (on the model, a partner, the chat);
        a no-op outside `held`."""
        mine = _holding.get()
        if mine is None or mine != _mine(self):
            yield
            return
        self._places.release()
        _holding.set(None)
        try:
            yield
        finally:
            # Before the turns not started yet; cancelled here, `held` has nothing to give back.
            await self._places.acquire(urgent=True)
            _holding.set(mine)


class GatedReplier:
    """A turn's replier that gives the turn's place up while it talks to the platform."""

    def __init__(self, inner: Replier, gate: TurnGate) -> None:
        self._inner = inner
        self._gate = gate

    async def send(self, reply: Reply) -> None:
        async with self._gate.released():
            await self._inner.send(reply)

    async def progress(self, update: Progress) -> None:
        async with self._gate.released():
            await self._inner.progress(update)

    async def stream(self) -> TextStream | None:
        async with self._gate.released():
            inner = await self._inner.stream()
        return None if inner is None else _GatedStream(inner, self._gate)


class _GatedStream:
    def __init__(self, inner: TextStream, gate: TurnGate) -> None:
        self._inner = inner
        self._gate = gate

    async def append(self, delta: str) -> None:
        async with self._gate.released():
            await self._inner.append(delta)

    async def close(self) -> None:
        async with self._gate.released():
            await self._inner.close()
