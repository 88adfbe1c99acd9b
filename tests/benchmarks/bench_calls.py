"""Phone calls' most human moment: the voice agent's question reaching the chat, and the
person's answer reaching the call, against a bare client of the same Call Agent sandbox.

Run: `uv run python -m tests.benchmarks.bench_calls [--calls 20] [--concurrency 1,10]
[--database-url postgresql://postgres@127.0.0.1:5432/test] [--dial-s 1.5] [--turn-s 0.3]`

Each simulated person has a chat of their own: they ask for a table at Nobu (a zero-latency
scripted model proposes `start_call`), press Call on the confirmation, wait until the voice
agent's question is shown, answer "1" (its first option) and wait for the call's final card.
The manager, the job runner (its bell rung as in `serve`) and the outbox sender run in this
process over the Call Agent sandbox, which runs in its own process so that its CPU time is
not billed to the concierge.

Figures per concurrency level, with the baseline in the same run: the same sandbox's event
stream read by a bare `httpx` + `httpx_sse` client (no concierge) for calls started with
`CallAgentClient.start_call` and answered with `CallAgentClient.answer` as soon as it sees
`ask_user`. The concierge's figures are printed next to the baseline's, with the difference.

- question: the sandbox emits `ask_user` → the question reaches the person's replier (for the
  bare client: → it reads the event off the stream). End to end: the concierge's listener
  receiving the event is not observable without product changes.
- answer: the person's "1" is handed to `manager.handle` (bare client: `answer` is called) →
  the sandbox records the answer.
- card versions (posts and edits of the "📞 Call to" card) and messages per call.

Both ends are timed without touching product code: in the sandbox process the state's `emit`
and `submit_answer` are wrapped at runtime (instrumenting the fake partner) and the marks
are read over an extra route; here the replier timestamps every `send`. Both processes read
CLOCK_MONOTONIC, one clock for the whole machine, so their marks compare.

The concierge reconnects to a call's stream after each status change on the job runner's
next poll (1 s, as in `serve`), so the call is dialled for `--dial-s` and has three turns of
`--turn-s` before its question: the question comes mid-call, while the listener is connected
(the figures count how many were). The baseline's calls run with no dial time and short
turns, since its stream is open from the start; what is measured is the same either way.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from httpx_sse import aconnect_sse
from sqlmodel import col, select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.services import partner_http_client
from conversations import ConversationAddress, ConversationManager, InboundMessage, Sender
from conversations.capabilities.callagent import CALL, CallAgentAccess
from conversations.capabilities.registry import ALL_TOOLS, JOB_KINDS, buttons, questions
from conversations.credentials import EnvironmentCredentials
from conversations.delivery import OutboxSender
from conversations.jobs import JobRunner
from conversations.llm import LLMRequest, LLMResponse, TextPart, ToolCallPart, ToolResultPart
from conversations.manager import new_event_id
from conversations.outgoing_access import OutgoingAccess
from conversations.people import People
from conversations.prompt import SYSTEM_PROMPT
from conversations.replies import Progress, Replier, Reply
from conversations.tools import ToolDeps
from conversations.types import ButtonPress
from integrations.callagent import CallAgentClient, StartCallBody
from integrations.sandbox import (
    DEFAULT_CALL_AGENT_KEY,
    CallAgentSandboxConfig,
    CallAgentSandboxState,
    callagent_state,
    create_callagent_app,
    serve_in_background,
)
from integrations.sandbox.callagent_records import SandboxCall, StoredEvent
from storage import Database, FieldCipher, generate_key, upgrade
from storage.models import Action
from storage.sealing import seal_with
from tests.benchmarks.processes import free_port, server_process

NOBU = "+1 212 555 0100"
NOBU_E164 = "+12125550100"
BRIEF = "Call Nobu for the guest and ask for a table for 4 at 8pm tonight."
ASKS = "the voice agent asks"
CARD = "📞 Call to"
OUTCOME = "Outcome:"
MARKS_PATH = "/bench/marks"
CONFIGURE_PATH = "/bench/configure"
WAIT_S = 60.0
BASELINE_DIAL_S = 0.0
BASELINE_TURN_S = 0.05


def clock() -> float:
    """CLOCK_MONOTONIC (what `perf_counter` reads on Linux), named so: system-wide, so the
    sandbox process's marks and this process's compare."""
    return time.clock_gettime(time.CLOCK_MONOTONIC)


# --------------------------------------------------------------------------- the sandbox


@dataclass(frozen=True)
class Asked:
    at: float
    listened: bool
    """Whether an event stream of the call was open when the question was emitted."""


@dataclass
class Marks:
    """The sandbox's side: per (call id, request id), when it asked and when it heard."""

    asked: dict[tuple[str, str], Asked] = field(default_factory=dict)
    answered: dict[tuple[str, str], float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "asked": [[c, r, a.at, a.listened] for (c, r), a in self.asked.items()],
            "answered": [[c, r, at] for (c, r), at in self.answered.items()],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Marks:
        return cls(
            {(c, r): Asked(float(at), bool(listened)) for c, r, at, listened in data["asked"]},
            {(c, r): float(at) for c, r, at in data["answered"]},
        )

    def question_of(self, call_id: str) -> tuple[str, Asked]:
        """The request id and emission of the call's one question."""
        (found,) = [(r, a) for (c, r), a in self.asked.items() if c == call_id]
        return found


def instrument(state: CallAgentSandboxState, marks: Marks) -> None:
    """Time `ask_user` emissions and answers by wrapping the state's methods at runtime."""
    emit, submit = state.emit, state.submit_answer

    def timed_emit(call: SandboxCall, type_: str, data: dict[str, Any]) -> StoredEvent:
        if type_ == "ask_user":
            listened = state.open_streams.get(call.call_id, 0) > 0
            marks.asked[(call.call_id, str(data["request_id"]))] = Asked(clock(), listened)
        return emit(call, type_, data)

    def timed_submit(call: SandboxCall, answer: str, request_id: str | None, mode: str) -> bool:
        marks.answered.setdefault((call.call_id, request_id or ""), clock())
        return submit(call, answer, request_id, mode)

    # Instance attributes shadow the methods: instrumentation of the fake partner only.
    setattr(state, "emit", timed_emit)  # noqa: B010
    setattr(state, "submit_answer", timed_submit)  # noqa: B010


async def serve_sandbox(port: int) -> None:
    """The sandbox process: the Call Agent sandbox, instrumented, until terminated."""
    config = CallAgentSandboxConfig.fast(
        answer_timeout_s=60, max_concurrent_calls=1000, quota_limit=10**9
    )
    app = create_callagent_app(config)
    state = callagent_state(app)
    marks = Marks()
    instrument(state, marks)

    async def read_marks(request: Request) -> Response:
        return JSONResponse(marks.to_json())

    async def configure(request: Request) -> Response:
        timings = await request.json()
        state.configure(dial_s=float(timings["dial_s"]), turn_s=float(timings["turn_s"]))
        return JSONResponse(timings)

    app.router.routes.append(Route(MARKS_PATH, read_marks, methods=["GET"]))
    app.router.routes.append(Route(CONFIGURE_PATH, configure, methods=["POST"]))
    async with serve_in_background(app, port=port):
        await asyncio.Event().wait()


@dataclass
class Sandbox:
    """This process's handle on the sandbox process."""

    url: str
    http: httpx.AsyncClient

    async def timings(self, dial_s: float, turn_s: float) -> None:
        """For the calls started from now on (a call reads them as it goes)."""
        sent = {"dial_s": dial_s, "turn_s": turn_s}
        (await self.http.post(f"{self.url}{CONFIGURE_PATH}", json=sent)).raise_for_status()

    async def marks(self) -> Marks:
        response = await self.http.get(f"{self.url}{MARKS_PATH}")
        response.raise_for_status()
        return Marks.from_json(response.json())


@contextlib.asynccontextmanager
async def sandbox_process() -> AsyncIterator[Sandbox]:
    port = free_port()
    args = ("tests.benchmarks.bench_calls", "--serve-sandbox", str(port))
    async with (
        server_process(*args, port=port, ready_path=MARKS_PATH) as url,
        httpx.AsyncClient() as http,
    ):
        yield Sandbox(url, http)


# --------------------------------------------------------------------------- the concierge


class CallingModel:
    """Zero latency and no state: proposes the call, then one line after the tool result."""

    async def complete(self, request: LLMRequest) -> LLMResponse:
        if any(isinstance(p, ToolResultPart) for p in request.messages[-1].parts):
            return LLMResponse((TextPart("Please confirm the call."),))
        args = {"target_phone": NOBU, "brief": BRIEF, "callee": "Nobu"}
        return LLMResponse((ToolCallPart("call_1", "start_call", args),), "tool_use")


class TimedReplier:
    """One person's chat: every reply with the time it was sent, and waits on what's shown."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.sent: list[tuple[float, Reply]] = []
        self._waiting: list[tuple[str, asyncio.Future[float]]] = []

    async def send(self, reply: Reply) -> None:
        at = clock()
        self.sent.append((at, reply))
        for words, future in self._waiting:
            if words in reply.text and not future.done():
                future.set_result(at)
        self._waiting = [(w, f) for w, f in self._waiting if not f.done()]

    async def progress(self, update: Progress) -> None:
        return None

    async def stream(self) -> None:
        return None

    def first(self, words: str) -> float | None:
        return next((at for at, reply in self.sent if words in reply.text), None)

    def count(self, words: str) -> int:
        return sum(1 for _, reply in self.sent if words in reply.text)

    async def shown(self, words: str) -> float:
        """When a reply containing `words` was first sent (waiting for it if need be)."""
        at = self.first(words)
        if at is not None:
            return at
        future = asyncio.get_running_loop().create_future()
        self._waiting.append((words, future))
        try:
            return await asyncio.wait_for(future, WAIT_S)
        except TimeoutError:
            seen = [reply.text.splitlines()[0] for _, reply in self.sent if reply.text]
            raise RuntimeError(
                f"{self.name}: no {words!r} within {WAIT_S:.0f} s; saw {seen}"
            ) from None


class Outlet:
    """The outbox's way to each person's chat."""

    def __init__(self) -> None:
        self.repliers: dict[ConversationAddress, Replier] = {}

    def replier_for(self, address: ConversationAddress) -> Replier | None:
        return self.repliers.get(address)


@dataclass
class Person:
    address: ConversationAddress
    sender: Sender
    chat: TimedReplier
    answered_at: float = 0.0


@dataclass
class Concierge:
    manager: ConversationManager
    outlet: Outlet
    db: Database
    run_id: str

    def person(self, tag: str, n: int) -> Person:
        address = ConversationAddress("console", self.run_id, f"{tag}{n}", "")
        chat = TimedReplier(address.chat_id)
        self.outlet.repliers[address] = chat
        return Person(address, Sender(f"U{tag}{n}", f"Person {n}"), chat)

    async def converse(self, person: Person) -> None:
        """Ask for the call, press Call, answer the question with "1", see the outcome."""
        address, sender, chat = person.address, person.sender, person.chat
        asking = "call Nobu at +1 212 555 0100 and ask for a table for 4 at 8pm"
        await self.manager.handle(InboundMessage(address, sender, asking, new_event_id()), chat)
        confirmation = next(r.approval for _, r in chat.sent if r.approval is not None)
        press = ButtonPress(address, sender, confirmation.confirm.value, new_event_id())
        await self.manager.handle(press, chat)
        await chat.shown(ASKS)
        person.answered_at = clock()
        await self.manager.handle(InboundMessage(address, sender, "1", new_event_id()), chat)
        await chat.shown(OUTCOME)

    async def call_ids(self, tag: str) -> dict[str, str]:
        """Chat id → the sandbox's call id, for the calls of one pass."""
        async with self.db.session(read_only=True) as session:
            rows = await session.exec(
                select(Action).where(
                    col(Action.workspace_id) == self.run_id,
                    col(Action.kind) == CALL.name,
                    col(Action.chat_id).startswith(tag),
                )
            )
            return {a.chat_id: a.partner_ref for a in rows.all() if a.partner_ref}


@contextlib.asynccontextmanager
async def running_concierge(database_url: str, calls_url: str) -> AsyncIterator[Concierge]:
    """The manager, the job runner and the outbox sender, wired as `serve` wires them."""
    await upgrade(database_url)
    db = await Database.create(database_url)
    seal_with(db, FieldCipher(generate_key()))
    http = partner_http_client()
    run_id = uuid.uuid4().hex[:8]  # a workspace of its own, so a reused database is fine
    cipher = FieldCipher(generate_key())
    credentials = EnvironmentCredentials(
        None, None, call_agent_url=calls_url, call_agent_key=DEFAULT_CALL_AGENT_KEY
    )
    people = People(db, cipher)
    calls = CallAgentAccess(
        http=http,
        credentials=credentials,
        db=db,
        cipher=cipher,
        public_url="http://127.0.0.1:9",  # not https: no webhook, the stream alone
        calls_per_day=10**6,
    )
    deps = ToolDeps(
        db=db,
        outgoing=OutgoingAccess(http=http, credentials=credentials, people=people),
        people=people,
        job_kinds={kind.name: kind for kind in JOB_KINDS},
        call_agent=calls,
    )
    answers = questions()
    manager = ConversationManager(
        llm=CallingModel(),
        deps=deps,
        tools=ALL_TOOLS,
        system_prompt=SYSTEM_PROMPT,
        buttons=buttons(answers),
        questions=answers,
    )
    outlet = Outlet()
    outbox = OutboxSender(db, {"console": outlet})
    runner = JobRunner(
        db=db,
        kinds=JOB_KINDS,
        deps=deps,
        owner=f"bench-{run_id}",
        replier_for=outlet.replier_for,
        on_said=outbox.wake,
    )
    deps.jobs.listen(runner.wake)
    loops = [asyncio.create_task(runner.run()), asyncio.create_task(outbox.run())]
    try:
        yield Concierge(manager, outlet, db, run_id)
    finally:
        for loop in loops:
            loop.cancel()
        await asyncio.gather(*loops, return_exceptions=True)
        await manager.aclose()
        await http.aclose()
        await db.dispose()


# --------------------------------------------------------------------------- figures


@dataclass
class Figures:
    question: list[float] = field(default_factory=list)
    answer: list[float] = field(default_factory=list)
    listened: int = 0
    cards: list[int] = field(default_factory=list)
    messages: list[int] = field(default_factory=list)
    wall: float = 0.0


async def concierge_pass(
    concierge: Concierge, sandbox: Sandbox, tag: str, calls: int, level: int
) -> Figures:
    gate = asyncio.Semaphore(level)
    people = [concierge.person(tag, n) for n in range(calls)]

    async def one(person: Person) -> None:
        async with gate:
            await concierge.converse(person)

    started = clock()
    await asyncio.gather(*(one(person) for person in people))
    figures = Figures(wall=clock() - started)
    marks, call_ids = await sandbox.marks(), await concierge.call_ids(tag)
    for person in people:
        call_id = call_ids[person.address.chat_id]
        request_id, asked = marks.question_of(call_id)
        shown = person.chat.first(ASKS)
        assert shown is not None
        figures.question.append(shown - asked.at)
        figures.answer.append(marks.answered[(call_id, request_id)] - person.answered_at)
        figures.listened += asked.listened
        figures.cards.append(person.chat.count(CARD))
        figures.messages.append(len(person.chat.sent))
    return figures


@dataclass(frozen=True)
class BareCall:
    call_id: str
    request_id: str
    seen: float
    posted: float


async def bare_call(client: CallAgentClient, http: httpx.AsyncClient, url: str) -> BareCall:
    """Start a call, read its stream and answer its question with the first option."""
    started = await client.start_call(StartCallBody(target_phone=NOBU_E164, brief=BRIEF))
    events = f"{url}/calls/{started.call_id}/events"
    headers = {"X-API-Key": DEFAULT_CALL_AGENT_KEY, "Accept": "text/event-stream"}
    answered: BareCall | None = None
    async with aconnect_sse(http, "GET", events, headers=headers) as source:
        async for sse in source.aiter_sse():
            if sse.event != "ask_user" or answered is not None:
                continue
            seen = clock()
            data = json.loads(sse.data)
            posted = clock()
            await client.answer(started.call_id, data["options"][0], request_id=data["request_id"])
            answered = BareCall(started.call_id, data["request_id"], seen, posted)
    if answered is None:
        raise RuntimeError(f"call {started.call_id} ended without a question")
    return answered


async def baseline_pass(sandbox: Sandbox, calls: int, level: int) -> Figures:
    gate = asyncio.Semaphore(level)
    async with httpx.AsyncClient(timeout=WAIT_S) as http:
        client = CallAgentClient(http, api_key=DEFAULT_CALL_AGENT_KEY, base_url=sandbox.url)

        async def one() -> BareCall:
            async with gate:
                return await bare_call(client, http, sandbox.url)

        started = clock()
        done = await asyncio.gather(*(one() for _ in range(calls)))
        figures = Figures(wall=clock() - started)
    marks = await sandbox.marks()
    for call in done:
        asked = marks.asked[(call.call_id, call.request_id)]
        figures.question.append(call.seen - asked.at)
        figures.answer.append(marks.answered[(call.call_id, call.request_id)] - call.posted)
        figures.listened += asked.listened
    return figures


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report(
    header: str, calls: int, concierge: Figures, baseline: Figures, timings: tuple[float, float]
) -> None:
    ms = 1000.0

    def pair(values: list[float]) -> tuple[float, float]:
        return pct(values, 0.5) * ms, pct(values, 0.99) * ms

    def row(name: str, ours: list[float], bare: list[float]) -> None:
        (o50, o99), (b50, b99) = pair(ours), pair(bare)
        print(
            f"  {name:<24} {o50:8.2f} / {o99:8.2f}   {b50:7.2f} / {b99:7.2f}"
            f"   {o50 - b50:+8.2f} / {o99 - b99:+8.2f}"
        )

    def spread(values: list[int]) -> str:
        return f"{statistics.fmean(values):.1f} (min {min(values)}, max {max(values)})"

    print(f"{header} (concierge calls: dial {timings[0]:g} s, turns {timings[1]:g} s):")
    print(f"  {'p50 / p99 ms':<24} {'concierge':>19}   {'bare client':>17}   {'difference':>19}")
    row("question (emit → shown)", concierge.question, baseline.question)
    row("answer (sent → heard)", concierge.answer, baseline.answer)
    print(f"  card versions per call   {spread(concierge.cards)}")
    print(f"  messages per call        {spread(concierge.messages)}")
    print(
        f"  asked while listening    {concierge.listened}/{calls} concierge,"
        f" {baseline.listened}/{calls} bare client"
    )
    print(
        f"  wall time                {concierge.wall:.1f} s concierge, {baseline.wall:.1f} s bare"
    )


async def run(
    calls: int, levels: list[int], database_url: str, timings: tuple[float, float]
) -> None:
    """Per level: the concierge's pass, then the bare client's, against one sandbox process."""
    backend = database_url.split(":")[0]
    async with (
        sandbox_process() as sandbox,
        running_concierge(database_url, sandbox.url) as concierge,
    ):
        # Warm up: the connection pools, the database, the first imports on both sides.
        await sandbox.timings(*timings)
        await concierge_pass(concierge, sandbox, "warm-", 1, 1)
        await sandbox.timings(BASELINE_DIAL_S, BASELINE_TURN_S)
        await baseline_pass(sandbox, 1, 1)
        for level in levels:
            await sandbox.timings(*timings)
            ours = await concierge_pass(concierge, sandbox, f"c{level}-", calls, level)
            await sandbox.timings(BASELINE_DIAL_S, BASELINE_TURN_S)
            bare = await baseline_pass(sandbox, calls, level)
            report(f"{backend}, {calls} calls at concurrency {level}", calls, ours, bare, timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=20, help="calls per concurrency level")
    parser.add_argument("--concurrency", default="1,10", help="comma-separated levels")
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument("--dial-s", type=float, default=1.5, help="concierge calls ring this long")
    parser.add_argument("--turn-s", type=float, default=0.3, help="pause before each line")
    parser.add_argument("--serve-sandbox", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_sandbox is not None:
        asyncio.run(serve_sandbox(args.serve_sandbox))
        return
    levels = [int(level) for level in args.concurrency.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        asyncio.run(run(args.calls, levels, url, (args.dial_s, args.turn_s)))


if __name__ == "__main__":
    main()
