"""Partner requests in lanes, so no request ever waits inside httpcore's pool.

httpcore's pool rescans its whole queue against every connection each time a request starts
or ends, and asks each idle connection whether it has expired (two system calls apiece);
with hundreds of requests queued (200 searches, each fanning out to 8 detail requests) that
rescan stalled the event loop for seconds, and with 64 connections it still took half the
loop's time. Here each kind of call has its own lane; a lane is a few small pools (shards of
at most `SHARD` connections, as many keep-alive connections as the shard's size) and one
semaphore of the lane's size in front: a request waits on the semaphore (cheap, fair,
bounded by the request's own pool timeout), then takes the shard with the most free
connections, so no pool ever holds more requests than connections and none scans more than
`SHARD` of them.

Lanes are named by the route (`Route.lane`): `quick` for ordinary calls (details, orders,
polls), `slow` for calls that wait on the partner for a long time (Outgoing's search, an
on-demand price scrape), which would otherwise hold every connection the quick calls need.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Mapping

import httpx

QUICK = "quick"
SLOW = "slow"
DEFAULT_LANES: Mapping[str, int] = {QUICK: 64, SLOW: 256}
SHARD = 8
"""Connections per pool: what httpcore scans on each request start and end."""


class _Lane:
    """One kind of call: `size` slots over shards of at most `SHARD` connections."""

    def __init__(self, name: str, size: int, tls: ssl.SSLContext) -> None:
        if size < 1:
            raise ValueError(f"lane {name!r} needs at least one connection")
        self.name = name
        sizes = [SHARD] * (size // SHARD) + ([size % SHARD] if size % SHARD else [])
        self.pools = [
            httpx.AsyncHTTPTransport(
                verify=tls, limits=httpx.Limits(max_connections=n, max_keepalive_connections=n)
            )
            for n in sizes
        ]
        self.free = list(sizes)
        self.gate = asyncio.Semaphore(size)

    def take(self) -> int:
        """A shard with a free connection (the gate guarantees one): the freest."""
        shard = max(range(len(self.free)), key=self.free.__getitem__)
        self.free[shard] -= 1
        return shard

    def give_back(self, shard: int) -> None:
        self.free[shard] += 1
        self.gate.release()


class LaneTransport(httpx.AsyncBaseTransport):
    """Routes each request to its lane (`request.extensions["lane"]`, else `quick`)."""

    def __init__(self, lanes: Mapping[str, int] = DEFAULT_LANES) -> None:
        if QUICK not in lanes:
            raise ValueError("a quick lane is required")
        tls = httpx.create_ssl_context()  # one for every pool: each takes milliseconds
        self._lanes = {name: _Lane(name, size, tls) for name, size in lanes.items()}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        name = request.extensions.get("lane")
        lane = (self._lanes.get(name) if isinstance(name, str) else None) or self._lanes[QUICK]
        wait = (request.extensions.get("timeout") or {}).get("pool")
        try:
            async with asyncio.timeout(wait):
                await lane.gate.acquire()
        except TimeoutError:
            raise httpx.PoolTimeout(f"no free {lane.name} connection", request=request) from None
        shard = lane.take()
        try:
            response = await lane.pools[shard].handle_async_request(request)
        except BaseException:
            lane.give_back(shard)
            raise
        # The connection stays busy until the body is read or the response closed.
        return httpx.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=_Releasing(response.stream, lane, shard),
            extensions=response.extensions,
            request=request,
        )

    async def aclose(self) -> None:
        for lane in self._lanes.values():
            for pool in lane.pools:
                await pool.aclose()


class _Releasing(httpx.AsyncByteStream):
    """A response body that gives its lane slot back when closed (once)."""

    def __init__(
        self, inner: httpx.SyncByteStream | httpx.AsyncByteStream, lane: _Lane, shard: int
    ) -> None:
        if not isinstance(inner, httpx.AsyncByteStream):
            raise TypeError("an async transport returned a sync stream")
        self._inner = inner
        self._slot: tuple[_Lane, int] | None = (lane, shard)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            if self._slot is not None:
                lane, shard = self._slot
                self._slot = None
                lane.give_back(shard)
