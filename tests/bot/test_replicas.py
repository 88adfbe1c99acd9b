"""Replicas: N `serve` processes on one PostgreSQL answer each message once.

In one process: items a dead process accepted are taken over when their lease ran out, run in
their conversation's order (after the turn running there now), and never while a live
process's lease holds. Then two real `concierge serve` OS processes with the Slack front-end,
a fake Slack Web API and a fake Messages API each (so each replica's model can be steered):
the same event delivered to both is answered once; a replica killed with SIGKILL mid-turn has
its item answered exactly once by the other, within a few seconds (leases of 2 s).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from bot.slack import EVENTS_PATH
from conversations import ConversationAddress, ConversationManager, InboundMessage, Sender
from conversations.credentials import EnvironmentCredentials
from conversations.llm import LLMRequest, LLMResponse, TextPart
from conversations.outgoing_access import OutgoingAccess
from conversations.people import People
from conversations.replies import Replier
from conversations.serialize import inbound_to_json
from conversations.tools import ToolDeps
from integrations.sandbox import serve_in_background
from storage import Database, FieldCipher, generate_key
from storage.repositories.events import claim_event
from tests.benchmarks.processes import free_port
from tests.bot.slack.fake_slack import FakeSlackAPI
from tests.bot.slack.harness import BOT_TOKEN, SECRET, dm, event_callback, sign
from tests.fakes.chat import RecordingReplier
from tests.fakes.llm import FunctionLLM
from tests.fakes.messages_api import FakeMessagesAPI, RecordedRequest, Reply, text_reply
from tests.storage.databases import postgres_database

ROOT = Path(__file__).resolve().parents[2]
ALICE = Sender("U_ALICE", "Alice")
HERE = ConversationAddress("console", "W1", "C1", "")
THERE = ConversationAddress("console", "W1", "C2", "")
LEASE_S = "2"  # CONCIERGE_LEASE_SECONDS for the serve processes


# ---- in one process: take-over order ------------------------------------------------------


def _manager(
    db: Database, http: httpx.AsyncClient, llm: FunctionLLM, owner: str
) -> ConversationManager:
    outgoing = OutgoingAccess(
        http=http,
        credentials=EnvironmentCredentials(None, None),
        people=People(db, FieldCipher(generate_key())),
    )
    return ConversationManager(
        llm=llm,
        deps=ToolDeps(db=db, outgoing=outgoing),
        tools=(),
        system_prompt="test",
        owner=owner,
        lease_s=0.8,
    )


async def _left_by(db: Database, owner: str, item: InboundMessage, *, until: datetime) -> None:
    """What a process leaves behind when it accepted `item` and then died."""
    async with db.session() as session:
        assert await claim_event(
            session,
            key=f"{item.address.platform}:{item.event_id}",
            source=item.address.platform,
            payload=inbound_to_json(item),
            owner=owner,
            until=until,
        )


class OrderedModel:
    """Answers every turn with its text; a turn for `hold` waits until released. Records when
    each turn started and ended, so overlaps within a conversation would show."""

    def __init__(self, hold: str | None = None) -> None:
        self.log: list[str] = []
        self.hold = hold
        self.reached = asyncio.Event()
        self.release = asyncio.Event()
        self.llm = FunctionLLM(self._answer)

    async def _answer(self, request: LLMRequest) -> LLMResponse:
        text = next(p.text for p in request.messages[-1].parts if isinstance(p, TextPart))
        self.log.append(f"start {text}")
        if text == self.hold:
            self.reached.set()
            await self.release.wait()
        await asyncio.sleep(0.02)
        self.log.append(f"end {text}")
        return LLMResponse((TextPart(f"re: {text}"),))


async def test_taken_over_items_run_in_their_conversations_order(database: Database) -> None:
    model = OrderedModel(hold="live")
    now = datetime.now(UTC)
    dead, alive = now - timedelta(seconds=1), now + timedelta(minutes=5)
    chat = RecordingReplier()

    def replier_for(address: ConversationAddress) -> Replier | None:
        return chat

    async with httpx.AsyncClient() as http:
        manager = _manager(database, http, model.llm, owner="host:2:live")
        # This process is answering "live" in C1 when it finds what a dead process left.
        live = asyncio.create_task(manager.handle(InboundMessage(HERE, ALICE, "live", "e0"), chat))
        await model.reached.wait()
        for n, (address, text) in enumerate(
            [(HERE, "one"), (HERE, "two"), (THERE, "elsewhere"), (HERE, "three")], start=1
        ):
            await _left_by(
                database, "host:1:dead", InboundMessage(address, ALICE, text, f"e{n}"), until=dead
            )
        # Another owner's item under a live lease (a replica at work on it) is never taken.
        busy = InboundMessage(ConversationAddress("console", "W1", "C3", ""), ALICE, "busy", "e9")
        await _left_by(database, "host:3:busy", busy, until=alive)

        resumed = asyncio.create_task(manager.resume_unfinished(replier_for))
        await asyncio.sleep(0.2)
        assert "start one" not in model.log  # queued behind the turn running in C1
        assert "start elsewhere" in model.log  # other conversations never wait
        model.release.set()
        assert await resumed == 4
        await live
        assert await manager.resume_unfinished(replier_for) == 0  # all done, nothing left

    in_c1 = [entry for entry in model.log if "elsewhere" not in entry]
    assert in_c1 == [
        "start live",
        "end live",
        "start one",
        "end one",
        "start two",
        "end two",
        "start three",
        "end three",
    ]
    assert "start busy" not in model.log
    assert sorted(chat.texts) == ["re: elsewhere", "re: live", "re: one", "re: three", "re: two"]


# ---- two serve processes on one PostgreSQL ------------------------------------------------


@dataclass
class Replica:
    name: str
    url: str
    process: asyncio.subprocess.Process
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


@dataclass
class Cluster:
    slack: FakeSlackAPI
    replicas: dict[str, Replica]
    http: httpx.AsyncClient

    async def deliver(self, name: str, body: bytes) -> int:
        headers = {"Content-Type": "application/json", **sign(body)}
        url = f"{self.replicas[name].url}{EVENTS_PATH}"
        response = await self.http.post(url, content=body, headers=headers)
        return response.status_code

    def answers(self) -> list[str]:
        return [post.block_text for post in self.slack.of("chat.postMessage")]

    async def wait_for(self, check: Callable[[], bool], timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while not check():
            if time.monotonic() > deadline:
                logs = "\n".join(f"--- {r.name}\n{r.output()}" for r in self.replicas.values())
                pytest.fail(f"{what} after {timeout_s} s; answers: {self.answers()}\n{logs}")
            await asyncio.sleep(0.05)


async def _launch(name: str, env: dict[str, str], tmp: Path) -> Replica:
    """`concierge serve` as its own OS process (output in `tmp/<name>.log`)."""
    port = free_port()
    own = ("CONCIERGE_", "SLACK_", "TELEGRAM_", "ANTHROPIC_", "OUTGOING_")
    environment = {k: v for k, v in os.environ.items() if not k.startswith(own)}
    environment.update(env, CONCIERGE_PORT=str(port), PYTHONPATH=str(ROOT))
    log = tmp / f"{name}.log"
    with log.open("wb") as sink:
        process = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "bot.cli", "serve"),
            env=environment,
            cwd=tmp,
            stdout=sink,
            stderr=sink,
        )
    return Replica(name, f"http://127.0.0.1:{port}", process, log)


async def _ready(replica: Replica, timeout_s: float = 60) -> None:
    async with httpx.AsyncClient(timeout=2) as http:
        deadline = time.monotonic() + timeout_s
        while True:
            if replica.process.returncode is not None or time.monotonic() > deadline:
                pytest.fail(f"serve {replica.name} did not start:\n{replica.output()}")
            with contextlib.suppress(httpx.TransportError):
                if (await http.get(f"{replica.url}/healthz")).status_code == 200:
                    return
            await asyncio.sleep(0.1)


async def _stop(replica: Replica) -> None:
    if replica.process.returncode is None:
        replica.process.terminate()
        try:
            await asyncio.wait_for(replica.process.wait(), 10)
        except TimeoutError:
            replica.process.kill()
            await replica.process.wait()


@contextlib.asynccontextmanager
async def _cluster(tmp: Path, models: dict[str, FakeMessagesAPI]) -> AsyncIterator[Cluster]:
    """One `serve` per model, on one fresh PostgreSQL database, sharing one fake Slack."""
    slack = FakeSlackAPI()
    async with contextlib.AsyncExitStack() as stack:
        database_url = await stack.enter_async_context(postgres_database("replicas"))
        slack_url = await stack.enter_async_context(serve_in_background(slack.app))
        http = await stack.enter_async_context(httpx.AsyncClient(timeout=10))
        env = {
            "CONCIERGE_DATABASE_URL": database_url,
            "CONCIERGE_SECRET_KEY": generate_key(),
            "CONCIERGE_HOST": "127.0.0.1",
            "CONCIERGE_LEASE_SECONDS": LEASE_S,
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": f"{slack_url}/api/",
            "ANTHROPIC_API_KEY": "sk-ant-test",
        }
        replicas: dict[str, Replica] = {}
        for name, model in models.items():
            model_url = await stack.enter_async_context(model.serve())
            replicas[name] = await _launch(name, {**env, "ANTHROPIC_BASE_URL": model_url}, tmp)
        try:
            # Started together: their migrations take turns (an advisory lock in PostgreSQL).
            await asyncio.gather(*(_ready(replica) for replica in replicas.values()))
            yield Cluster(slack, replicas, http)
        finally:
            await asyncio.gather(*(_stop(replica) for replica in replicas.values()))


def _event(text: str, event_id: str) -> bytes:
    return json.dumps(event_callback(dm(text), event_id=event_id)).encode()


@pytest.mark.postgres
async def test_two_serve_processes_on_one_postgresql_answer_each_message_once(
    tmp_path: Path,
) -> None:
    """Each replica has its own fake model, so the answer says who did the work."""
    killed_mid_turn, release = asyncio.Event(), asyncio.Event()

    def answer(name: str) -> Callable[[RecordedRequest], Awaitable[Reply]]:
        async def respond(request: RecordedRequest) -> Reply:
            if name == "a" and "are you there?" in json.dumps(request.messages[-1]):
                killed_mid_turn.set()
                await release.wait()  # never, in time: a is killed meanwhile
            return text_reply(f"Answered by {name}.")

        return respond

    models = {name: FakeMessagesAPI(responder=answer(name)) for name in ("a", "b")}
    settle_s = float(LEASE_S) + 0.5  # a lease and a take-over round
    try:
        async with _cluster(tmp_path, models) as cluster:
            # 1. Slack delivers one event to both replicas at once: one claims it.
            body = _event("hello from both sides", "EvBOTH0001")
            statuses = await asyncio.gather(cluster.deliver("a", body), cluster.deliver("b", body))
            assert list(statuses) == [200, 200]
            await cluster.wait_for(lambda: len(cluster.answers()) == 1, 15, "no answer")
            await asyncio.sleep(settle_s)
            (first,) = cluster.answers()
            asked = [name for name, model in models.items() for _ in model.requests]
            assert len(asked) == 1 and first == f"Answered by {asked[0]}."

            # 2. a accepts an event and is killed (SIGKILL) mid-turn: b takes it over, once.
            assert await cluster.deliver("a", _event("are you there?", "EvKILL0001")) == 200
            await asyncio.wait_for(killed_mid_turn.wait(), 15)
            a = cluster.replicas["a"]
            a.process.send_signal(signal.SIGKILL)
            killed = time.monotonic()
            await a.process.wait()
            release.set()  # what a's model was asked no longer has anyone waiting
            await cluster.wait_for(lambda: len(cluster.answers()) == 2, 30, "not taken over")
            took_s = time.monotonic() - killed
            await asyncio.sleep(settle_s)
            assert cluster.answers() == [first, "Answered by b."]
            told_b = [json.dumps(request.messages[-1]) for request in models["b"].requests]
            assert ["are you there?" in told for told in told_b][-1:] == [True]
            assert sum("are you there?" in told for told in told_b) == 1
            # Within a lease of the kill plus a take-over round or two (30 s by default).
            assert took_s < 15, f"taken over after {took_s:.1f} s"
    finally:
        release.set()
