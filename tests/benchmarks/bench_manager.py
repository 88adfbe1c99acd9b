"""Manager throughput and overhead: N conversations, a zero-latency model, the sandbox.

Run: `uv run python -m tests.benchmarks.bench_manager [--turns 300] [--concurrency 20]`

Each turn is a search turn (model → search_activities → sandbox search and details over
loopback HTTP → cards → model text). Overhead per turn is its wall time minus the time spent
waiting on the model and on partner HTTP, i.e. what the concierge itself costs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from conversations import ConversationAddress, ConversationManager, InboundMessage, Sender
from conversations.credentials import EnvironmentCredentials
from conversations.llm import LLMRequest, LLMResponse, TextPart, ToolCallPart, ToolResultPart
from conversations.outgoing_access import OutgoingAccess
from conversations.prompt import SYSTEM_PROMPT
from conversations.tools import ALL_TOOLS, ToolDeps
from integrations.sandbox import DEFAULT_NEGOTIATED_KEY, SandboxConfig, running_outgoing_sandbox
from storage import Database, upgrade


@dataclass
class Waits:
    """Time a turn spends waiting; overlapping partner requests count once (their union)."""

    model_s: float = 0.0
    partner_s: float = 0.0
    _in_flight: int = 0
    _since: float = 0.0

    def enter(self) -> None:
        if self._in_flight == 0:
            self._since = time.perf_counter()
        self._in_flight += 1

    def leave(self) -> None:
        self._in_flight -= 1
        if self._in_flight == 0:
            self.partner_s += time.perf_counter() - self._since


WAITS: contextvars.ContextVar[Waits] = contextvars.ContextVar("waits")


class TimedTransport(httpx.AsyncBaseTransport):
    """Adds the time each partner request takes to the current turn's waits."""

    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        waits = WAITS.get()
        waits.enter()
        try:
            response = await self._inner.handle_async_request(request)
            await response.aread()
        finally:
            waits.leave()
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


class ZeroLatencyModel:
    """Search first, then a one-line answer; counts its own (tiny) time as model time."""

    async def complete(self, request: LLMRequest) -> LLMResponse:
        started = time.perf_counter()
        last = request.messages[-1]
        if any(isinstance(p, ToolResultPart) for p in last.parts):
            response = LLMResponse((TextPart("Here are some ideas."),))
        else:
            args = {"prompt": "jazz", "location": "Brooklyn"}
            response = LLMResponse((ToolCallPart("call_1", "search_activities", args),), "tool_use")
        WAITS.get().model_s += time.perf_counter() - started
        return response


class NullReplier:
    async def send(self, reply: object) -> None:
        return None

    async def progress(self, update: object) -> None:
        return None


@dataclass
class Figures:
    wall: list[float] = field(default_factory=list)
    overhead: list[float] = field(default_factory=list)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(turns: int, concurrency: int, database_url: str) -> None:
    await upgrade(database_url)
    db = await Database.create(database_url)
    figures = Figures()
    async with (
        running_outgoing_sandbox(SandboxConfig.fast()) as sandbox,
        httpx.AsyncClient(transport=TimedTransport()) as http,
    ):
        credentials = EnvironmentCredentials(sandbox.base_url, DEFAULT_NEGOTIATED_KEY)
        deps = ToolDeps(db=db, outgoing=OutgoingAccess(http=http, credentials=credentials))
        manager = ConversationManager(
            llm=ZeroLatencyModel(), deps=deps, tools=ALL_TOOLS, system_prompt=SYSTEM_PROMPT
        )
        gate = asyncio.Semaphore(concurrency)

        async def turn(n: int) -> None:
            async with gate:
                waits = Waits()
                WAITS.set(waits)
                address = ConversationAddress("console", "bench", f"chat-{n % 50}", f"t{n}")
                message = InboundMessage(address, Sender(f"U{n % 50}"), "jazz", f"bench-{n}")
                started = time.perf_counter()
                await manager.handle(message, NullReplier())
                wall = time.perf_counter() - started
                figures.wall.append(wall)
                figures.overhead.append(wall - waits.model_s - waits.partner_s)

        await turn(-1)  # warm up: key detection, provisioning, connection pool
        figures.wall.clear()
        figures.overhead.clear()
        started = time.perf_counter()
        await asyncio.gather(*(turn(n) for n in range(turns)))  # each turn is a task
        elapsed = time.perf_counter() - started
    await db.dispose()

    ms = 1000.0
    backend = database_url.split(":")[0]
    wall_p50, wall_p99 = pct(figures.wall, 0.5) * ms, pct(figures.wall, 0.99) * ms
    print(f"manager benchmark: {turns} search turns, concurrency {concurrency}, {backend}")
    print(f"  turns per second        {turns / elapsed:8.1f}")
    print(f"  turn wall time p50/p99  {wall_p50:8.2f} / {wall_p99:.2f} ms")
    print(
        f"  manager overhead p50/p99 {pct(figures.overhead, 0.5) * ms:7.2f} / "
        f"{pct(figures.overhead, 0.99) * ms:.2f} ms (wall minus model and partner waits)"
    )
    print(f"  overhead mean           {statistics.fmean(figures.overhead) * ms:8.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        asyncio.run(run(args.turns, args.concurrency, url))


if __name__ == "__main__":
    main()
