"""Manager throughput and overhead: N conversations, a zero-latency model, the sandbox.

Run: `uv run python -m tests.benchmarks.bench_manager [--turns 200] [--concurrency 1,20]
[--database-url postgresql://postgres@127.0.0.1:5432/test] [--no-runner]`

Each turn is a search turn (model → search_activities, which records a search job and
returns → model text); the job runner in the same process then does the sandbox search and
details over loopback HTTP and posts the cards. Overhead per turn is its wall time minus the
time spent waiting on the model, i.e. what the concierge itself costs; result latency is
from the job's creation to its result being written (with the outbox message). At
concurrency 1 that is the cost of one turn; at higher levels it also includes queueing for
the one event loop and the database: turns per second and results per second are the figures
to read. `--no-runner` leaves the jobs queued: the manager's turns alone. "Write
transactions busy" (SQLite) is the share of the pass a write transaction was open: SQLite has
one writer, so near 100 % means the writes set the pace.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import contextvars
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlmodel import col, func, select

from conversations import ConversationAddress, ConversationManager, InboundMessage, Sender
from conversations.capabilities.registry import ALL_TOOLS, JOB_KINDS
from conversations.credentials import EnvironmentCredentials
from conversations.jobs import JobRunner
from conversations.llm import LLMRequest, LLMResponse, TextPart, ToolCallPart, ToolResultPart
from conversations.outgoing_access import OutgoingAccess
from conversations.people import People
from conversations.prompt import SYSTEM_PROMPT
from conversations.tools import ToolDeps
from integrations.lanes import LaneTransport
from integrations.sandbox import DEFAULT_NEGOTIATED_KEY
from storage import Database, FieldCipher, generate_key, upgrade
from storage.models import Action
from storage.sealing import seal_with
from tests.benchmarks.processes import free_port, fresh_database, server_process


@dataclass
class Waits:
    """Time a turn spends waiting; overlapping partner requests count once (their union)."""

    model_s: float = 0.0
    partner_s: float = 0.0
    writes: int = 0  # transactions opened for writing
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


@dataclass
class WriteClock:
    """How long write transactions were open, in all (turns and jobs alike)."""

    open_s: float = 0.0


def count_writes(db: Database, clock: WriteClock) -> None:
    """Count each write transaction a turn opens (its own, not the job runner's), and time
    every write transaction from its start to its commit."""
    opened = db.session

    @contextlib.asynccontextmanager
    async def session(*, read_only: bool = False, urgent: bool = False) -> AsyncIterator[Any]:
        waits = WAITS.get(None)
        if waits is not None and not read_only:
            waits.writes += 1
        async with opened(read_only=read_only, urgent=urgent) as inner:
            started = time.perf_counter()
            try:
                yield inner
            finally:
                if not read_only:
                    clock.open_s += time.perf_counter() - started

    db.session = session  # type: ignore[method-assign]


class TimedTransport(httpx.AsyncBaseTransport):
    """Adds the time each partner request takes to the current turn's waits; the requests
    go through `serve`'s own lanes."""

    def __init__(self) -> None:
        self._inner = LaneTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        waits = WAITS.get(None)
        if waits is None:  # a job's request, outside any turn
            response = await self._inner.handle_async_request(request)
            await response.aread()
            return response
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


class CountingReplier:
    sent = 0

    async def send(self, reply: object) -> None:
        CountingReplier.sent += 1

    async def progress(self, update: object) -> None:
        return None

    async def stream(self) -> None:
        return None


def sandbox_process() -> contextlib.AbstractAsyncContextManager[str]:
    """The sandbox in its own process, so its CPU time is not billed to the manager."""
    port = free_port()
    args = ("bot.cli", "sandbox", "--port", str(port), "--search-latency", "0")
    return server_process(*args, port=port, ready_path="/partner/v1/auth")


@dataclass
class Figures:
    wall: list[float] = field(default_factory=list)
    overhead: list[float] = field(default_factory=list)
    latency: list[float] = field(default_factory=list)
    writes: list[int] = field(default_factory=list)
    writes_busy: float = 0.0


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(turns: int, levels: list[int], database_url: str, *, runner_on: bool) -> None:
    """One pass per concurrency level against the same database and sandbox process."""
    await upgrade(database_url)
    db = await Database.create(database_url)
    seal_with(db, FieldCipher(generate_key()))
    clock = WriteClock()
    count_writes(db, clock)
    run_id = uuid.uuid4().hex[:8]  # fresh event ids, so a reused database has no duplicates
    backend = database_url.split(":")[0]
    async with (
        sandbox_process() as sandbox_url,
        httpx.AsyncClient(transport=TimedTransport()) as http,
    ):
        credentials = EnvironmentCredentials(sandbox_url, DEFAULT_NEGOTIATED_KEY)
        people = People(db, FieldCipher(generate_key()))
        outgoing = OutgoingAccess(http=http, credentials=credentials, people=people)
        deps = ToolDeps(db=db, outgoing=outgoing, job_kinds={kind.name: kind for kind in JOB_KINDS})
        manager = ConversationManager(
            llm=ZeroLatencyModel(), deps=deps, tools=ALL_TOOLS, system_prompt=SYSTEM_PROMPT
        )
        runner = JobRunner(
            db=db,
            kinds=JOB_KINDS,
            deps=deps,
            owner=f"bench-{run_id}",
            replier_for=lambda _: CountingReplier(),
            poll_s=1.0,
        )
        deps.jobs.listen(runner.wake)
        runner_task = asyncio.create_task(runner.run()) if runner_on else None

        async def turn(tag: str, n: int, gate: asyncio.Semaphore, figures: Figures) -> None:
            async with gate:
                waits = Waits()
                WAITS.set(waits)
                address = ConversationAddress("console", run_id, f"chat-{n % 50}", f"{tag}{n}")
                event = f"{run_id}-{tag}{n}"
                message = InboundMessage(address, Sender(f"U{n % 50}"), "jazz", event)
                started = time.perf_counter()
                await manager.handle(message, CountingReplier())
                wall = time.perf_counter() - started
                figures.wall.append(wall)
                figures.overhead.append(wall - waits.model_s - waits.partner_s)
                figures.writes.append(waits.writes)

        async def results_written(tag: str) -> list[Action]:
            """Wait until every search job of this pass has its result; return them."""
            query = select(Action).where(
                col(Action.workspace_id) == run_id, col(Action.thread_id).startswith(tag)
            )
            while runner_on:
                async with db.session(read_only=True) as session:
                    open_jobs = await session.exec(
                        select(func.count())
                        .select_from(Action)
                        .where(
                            col(Action.workspace_id) == run_id,
                            col(Action.thread_id).startswith(tag),
                            col(Action.status) == "queued",
                        )
                    )
                    if open_jobs.one() == 0:
                        return list((await session.exec(query)).all())
                await asyncio.sleep(0.05)
            return []

        # Warm up: key detection, provisioning, connection pool.
        await turn("warm", 0, asyncio.Semaphore(1), Figures())
        await results_written("warm")
        for level in levels:
            tag = f"c{level}-"
            figures, gate = Figures(), asyncio.Semaphore(level)
            CountingReplier.sent = 0
            clock.open_s = 0.0
            started = time.perf_counter()
            await asyncio.gather(*(turn(tag, n, gate, figures) for n in range(turns)))
            turned = time.perf_counter() - started
            jobs = await results_written(tag)
            done = time.perf_counter() - started
            figures.latency = [(j.updated_at - j.created_at).total_seconds() for j in jobs]
            figures.writes_busy = clock.open_s / done
            report(turns, level, backend, (turned, done), figures)
        if runner_task is not None:
            runner_task.cancel()
            await asyncio.gather(runner_task, return_exceptions=True)
    await db.dispose()


def report(
    turns: int, level: int, backend: str, elapsed: tuple[float, float], figures: Figures
) -> None:
    ms = 1000.0
    wall_p50, wall_p99 = pct(figures.wall, 0.5) * ms, pct(figures.wall, 0.99) * ms
    over_p50, over_p99 = pct(figures.overhead, 0.5) * ms, pct(figures.overhead, 0.99) * ms
    print(f"{backend}, {turns} search turns at concurrency {level}:")
    print(f"  turns per second         {turns / elapsed[0]:8.1f}")
    print(f"  turn wall time p50/p99   {wall_p50:8.2f} / {wall_p99:.2f} ms")
    print(f"  manager overhead p50/p99 {over_p50:8.2f} / {over_p99:.2f} ms")
    print(f"  manager overhead mean    {statistics.fmean(figures.overhead) * ms:8.2f} ms")
    if figures.latency:
        late_p50, late_p99 = pct(figures.latency, 0.5) * ms, pct(figures.latency, 0.99) * ms
        print(f"  results per second       {turns / elapsed[1]:8.1f} (search jobs finished)")
        print(f"  search result p50/p99    {late_p50:8.2f} / {late_p99:.2f} ms (job → result)")
    else:
        print("  search jobs              left queued (--no-runner)")
    print(
        f"  write transactions/turn  {statistics.fmean(figures.writes):8.2f} mean, "
        f"{max(figures.writes)} max"
    )
    if backend == "sqlite":  # one writer: on PostgreSQL they overlap
        print(f"  write transactions busy  {100 * figures.writes_busy:8.1f} % of the pass")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--concurrency", default="1,20", help="comma-separated levels")
    parser.add_argument(
        "--database-url", default=None, help="a PostgreSQL server; default: a fresh SQLite file"
    )
    parser.add_argument("--no-runner", action="store_true", help="leave the search jobs queued")
    args = parser.parse_args()
    levels = [int(level) for level in args.concurrency.split(",")]
    asyncio.run(on_fresh_database(args.database_url, args.turns, levels, not args.no_runner))


async def on_fresh_database(server: str | None, turns: int, levels: list[int], jobs: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        async with fresh_database(server, Path(tmp), "bench_manager") as url:
            await run(turns, levels, url, runner_on=jobs)


if __name__ == "__main__":
    main()
