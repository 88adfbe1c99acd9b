"""The Voyagent sandbox's SSE response for ``POST /chat/sessions/{id}/messages``.

A raw ASGI response (as the Call Agent sandbox's), so that a forced drop can end the
connection without the final chunk, as a crashed pod or a proxy timeout would. It sends the
buffered events of the session's current turn after ``after``, follows the turn live while it
runs, and sends a heartbeat after each ``heartbeat_s`` of silence.
"""

from __future__ import annotations

import asyncio

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from integrations.sandbox.voyagent_state import ChatSession, VoyagentSandboxState

__all__ = ["HEARTBEAT", "EventStream"]

HEARTBEAT = b"event: heartbeat\ndata: {}\n\n"


class EventStream(Response):
    """A :class:`Response` only for typing: it writes its own ASGI messages."""

    def __init__(
        self,
        state: VoyagentSandboxState,
        session: ChatSession,
        after: int,
        drop_after: int | None,
    ) -> None:
        super().__init__(status_code=200, media_type="text/event-stream")
        self.state, self.session, self.after, self.drop_after = state, session, after, drop_after
        self.disconnected = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [
            (b"content-type", b"text/event-stream; charset=utf-8"),
            (b"cache-control", b"no-cache"),
            (b"x-accel-buffering", b"no"),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        wake = asyncio.Event()

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            self.disconnected = True
            wake.set()

        watcher = asyncio.create_task(watch())
        self.session.listeners.add(wake)
        try:
            complete = await self._pump(send, wake)
        finally:
            self.session.listeners.discard(wake)
            watcher.cancel()
        if complete:
            await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _pump(self, send: Send, wake: asyncio.Event) -> bool:
        """False: drop the connection abruptly; True: end the response properly."""
        state, session = self.state, self.session
        loop = asyncio.get_running_loop()
        cursor, sent, last_write = self.after, 0, loop.time()
        while True:
            wake.clear()
            if self.disconnected or state.closing:
                return True
            floor = session.turn_start
            fresh = [e for e in session.events if e.id > cursor and e.id >= floor]
            for event in fresh:
                await send({"type": "http.response.body", "body": event.frame(), "more_body": True})
                cursor, sent, last_write = event.id, sent + 1, loop.time()
                if self.drop_after is not None and sent >= self.drop_after:
                    return False
            if fresh:
                continue
            if not session.running:
                return True
            wait = last_write + state.config.heartbeat_s - loop.time()
            if wait <= 0:
                await send({"type": "http.response.body", "body": HEARTBEAT, "more_body": True})
                last_write = loop.time()
                continue
            try:
                async with asyncio.timeout(wait):
                    await wake.wait()
            except TimeoutError:
                pass
