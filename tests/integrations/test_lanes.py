"""Partner connection lanes over real loopback HTTP: a lane never has more requests in
flight than its size, a slow lane never holds the quick lane's connections, and a request
that finds no free slot in time fails as a pool timeout."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from integrations.lanes import SHARD, SLOW, LaneTransport
from integrations.sandbox import serve_in_background


class Server:
    def __init__(self) -> None:
        self.in_flight = 0
        self.most = 0
        self.release = asyncio.Event()
        self.app = Starlette(routes=[Route("/quick", self.quick), Route("/hold", self.hold)])

    async def quick(self, request: Request) -> PlainTextResponse:
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        await asyncio.sleep(0.02)
        self.in_flight -= 1
        return PlainTextResponse("ok")

    async def hold(self, request: Request) -> PlainTextResponse:
        await self.release.wait()
        return PlainTextResponse("held")


async def test_a_lane_never_has_more_requests_in_flight_than_its_size() -> None:
    server = Server()
    async with (
        serve_in_background(server.app) as url,
        httpx.AsyncClient(transport=LaneTransport({"quick": 3})) as http,
    ):
        answers = await asyncio.gather(*(http.get(f"{url}/quick") for _ in range(30)))
    assert [a.text for a in answers] == ["ok"] * 30
    assert server.most == 3


async def test_a_lane_larger_than_a_shard_fills_every_shard() -> None:
    server = Server()
    async with (
        serve_in_background(server.app) as url,
        httpx.AsyncClient(transport=LaneTransport({"quick": SHARD * 2 + 3})) as http,
    ):
        answers = await asyncio.gather(*(http.get(f"{url}/quick") for _ in range(60)))
    assert [a.text for a in answers] == ["ok"] * 60
    assert server.most == SHARD * 2 + 3


async def test_slow_calls_do_not_take_the_quick_lane() -> None:
    server = Server()
    async with (
        serve_in_background(server.app) as url,
        httpx.AsyncClient(transport=LaneTransport({"quick": 2, SLOW: 2})) as http,
    ):
        held = [
            asyncio.ensure_future(http.get(f"{url}/hold", extensions={"lane": SLOW}))
            for _ in range(2)
        ]
        await asyncio.sleep(0.1)
        quick = await asyncio.wait_for(http.get(f"{url}/quick"), 2)
        # The slow lane is full: one more slow call waits, and gives up at its pool timeout.
        with pytest.raises(httpx.PoolTimeout):
            await http.get(
                f"{url}/hold", extensions={"lane": SLOW}, timeout=httpx.Timeout(5, pool=0.2)
            )
        server.release.set()
        done = await asyncio.gather(*held)
    assert quick.text == "ok" and [d.text for d in done] == ["held", "held"]


async def test_a_slot_comes_back_when_the_body_is_closed_or_the_request_fails() -> None:
    server = Server()
    server.release.set()
    async with (
        serve_in_background(server.app) as url,
        httpx.AsyncClient(transport=LaneTransport({"quick": 1})) as http,
    ):
        async with http.stream("GET", f"{url}/quick") as streaming:
            with pytest.raises(httpx.PoolTimeout):  # the one slot is the open stream's
                await http.get(f"{url}/quick", timeout=httpx.Timeout(5, pool=0.2))
            assert streaming.status_code == 200
        with pytest.raises(httpx.ConnectError):  # nothing listens there
            await http.get("http://127.0.0.1:9/nothing")
        assert (await http.get(f"{url}/quick")).text == "ok"
