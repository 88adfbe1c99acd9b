"""Partner requests in lanes, so no request ever waits inside httpcore's pool.

httpcore's pool rescans its whole queue against every connection each time a request starts
or ends; with hundreds of requests queued (200 searches, each fanning out to 8 detail
requests) that rescan stalled the event loop for seconds. Here each kind of call has its own
small pool, as many keep-alive connections as the pool's limit, and a semaphore of the same
size in front: a request waits on the semaphore (cheap, fair, bounded by the request's own
pool timeout), so the pool never holds more requests than connections.

Lanes are named by the route (`Route.lane`): `quick` for ordinary calls (details, orders,
polls), `slow` for calls that wait on the partner for a long time (Outgoing's search, an
on-demand price scrape), which would otherwise hold every connection the quick calls need.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping

import httpx

QUICK = "quick"
SLOW = "slow"
DEFAULT_LANES: Mapping[str, int] = {QUICK: 64, SLOW: 256}


class LaneTransport(httpx.AsyncBaseTransport):
    """Routes each request to its lane (`request.extensions["lane"]`, else `quick`)."""

    def __init__(self, lanes: Mapping[str, int] = DEFAULT_LANES) -> None:
        if QUICK not in lanes:
            raise ValueError("a quick lane is required")
        self._pools = {
            name: httpx.AsyncHTTPTransport(
                limits=httpx.Limits(max_connections=size, max_keepalive_connections=size)
            )
            for name, size in lanes.items()
        }
        self._gates = {name: asyncio.Semaphore(size) for name, size in lanes.items()}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        lane = request.extensions.get("lane")
        name = lane if isinstance(lane, str) and lane in self._pools else QUICK
        gate = self._gates[name]
        wait = (request.extensions.get("timeout") or {}).get("pool")
        try:
            async with asyncio.timeout(wait):
                await gate.acquire()
        except TimeoutError:
            raise httpx.PoolTimeout(f"no free {name} connection", request=request) from None
        try:
            response = await self._pools[name].handle_async_request(request)
        except BaseException:
            gate.release()
            raise
        # The connection stays busy until the body is read or the response closed.
        return httpx.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=_Releasing(response.stream, gate),
            extensions=response.extensions,
            request=request,
        )

    async def aclose(self) -> None:
        for pool in self._pools.values():
            await pool.aclose()


class _Releasing(httpx.AsyncByteStream):
    """A response body that gives its lane slot back when closed (once)."""

    def __init__(
        self, inner: httpx.SyncByteStream | httpx.AsyncByteStream, gate: asyncio.Semaphore
    ) -> None:
        if not isinstance(inner, httpx.AsyncByteStream):
            raise TypeError("an async transport returned a sync stream")
        self._inner = inner
        self._gate: asyncio.Semaphore | None = gate

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            if self._gate is not None:
                self._gate.release()
                self._gate = None
