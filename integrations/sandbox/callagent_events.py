"""``GET /calls/{id}/events``: the AI Call Agent sandbox's SSE stream.

A raw ASGI response of its own (backfill after ``Last-Event-ID``, live tail, heartbeats and
a close after the outcome), kept out of the route module because of its size.
"""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from integrations.sandbox.callagent_records import SandboxCall
from integrations.sandbox.callagent_requests import caller_key, own_call, state_of
from integrations.sandbox.callagent_state import CallAgentSandboxState

__all__ = ["HEARTBEAT", "call_events"]

HEARTBEAT = b": heartbeat\n\n"


class _EventStream:
    """The SSE response: backfill after ``Last-Event-ID``, live tail, heartbeats, close.

    Written as a raw ASGI response so that ``drop_stream_after_events`` can end the
    connection without the final chunk, as a crashed pod or a proxy timeout would.
    """

    def __init__(self, state: CallAgentSandboxState, call: SandboxCall, after: int) -> None:
        self.state, self.call, self.after = state, call, after
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
        self.call.listeners.add(wake)
        self.state.stream_opened(self.call.call_id, self.after)
        try:
            complete = await self._pump(send, wake)
        finally:
            self.state.stream_closed(self.call.call_id)
            self.call.listeners.discard(wake)
            watcher.cancel()
        if complete:
            await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _pump(self, send: Send, wake: asyncio.Event) -> bool:
        """False: drop the connection abruptly; True: end the response properly."""
        state, call = self.state, self.call
        loop = asyncio.get_running_loop()
        cursor, sent = self.after, 0
        stop_at = loop.time() + state.config.stream_max_s
        last_write = loop.time()
        while True:
            wake.clear()
            if self.disconnected or state.closing:
                return True
            fresh = [event for event in call.events if event.id > cursor]
            for event in fresh:
                await send({"type": "http.response.body", "body": event.frame(), "more_body": True})
                cursor, sent, last_write = event.id, sent + 1, loop.time()
                drop = state.config.drop_stream_after_events
                if drop is not None and sent >= drop:
                    return False
            if fresh:
                continue
            if call.final:  # caught up after the outcome: close after a grace period
                stop_at = min(stop_at, loop.time() + state.config.close_after_outcome_s)
            heartbeat_at = last_write + state.config.heartbeat_s
            wait = min(stop_at, heartbeat_at) - loop.time()
            if wait <= 0:
                if loop.time() >= stop_at:
                    return True
                await send({"type": "http.response.body", "body": HEARTBEAT, "more_body": True})
                last_write = loop.time()
                continue
            try:
                async with asyncio.timeout(wait):
                    await wake.wait()
            except TimeoutError:
                pass


async def call_events(request: Request) -> _EventStream:
    state, key = state_of(request), caller_key(request)
    call = own_call(request, key)
    raw = request.headers.get("last-event-id", "").strip()
    after = int(raw) if raw.isdigit() else 0
    return _EventStream(state, call, after)
