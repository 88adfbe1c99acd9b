"""Replicas: N `serve` processes on one PostgreSQL answer each message once.

In one process: items a dead process accepted are taken over when their lease ran out, run in
their conversation's order (after the turn running there now), and never while a live
process's lease holds. Then two real `concierge serve` OS processes (`tests.bot.serve_rig`)
with the Slack front-end, a shared fake Slack Web API and a fake Messages API each (so each
replica's model can be steered):
the same event delivered to both is answered once; a replica killed with SIGKILL mid-turn has
its item answered exactly once by the other, within a few seconds (leases of 2 s).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from conversations import ConversationAddress, ConversationManager, InboundMessage, Sender
from conversations.credentials import EnvironmentCredentials
from conversations.llm import LLMRequest, LLMResponse, TextPart
from conversations.outgoing_access import OutgoingAccess
from conversations.people import People
from conversations.replies import Replier
from conversations.serialize import inbound_to_json
from conversations.tools import ToolDeps
from storage import Database, FieldCipher, generate_key
from storage.repositories.events import claim_event
from tests.bot.serve_rig import LEASE_S, Zygote, serve_rig
from tests.bot.slack.harness import dm, event_callback
from tests.fakes.chat import RecordingReplier
from tests.fakes.llm import FunctionLLM
from tests.fakes.messages_api import FakeMessagesAPI, RecordedRequest, Reply, text_reply

ALICE = Sender("U_ALICE", "Alice")
HERE = ConversationAddress("console", "W1", "C1", "")
THERE = ConversationAddress("console", "W1", "C2", "")


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


@pytest.fixture(scope="module")
def zygote() -> Iterator[Zygote]:
    with Zygote.running() as forks:
        yield forks


def _event(text: str, event_id: str) -> bytes:
    return json.dumps(event_callback(dm(text), event_id=event_id)).encode()


@pytest.mark.postgres
async def test_two_serve_processes_on_one_postgresql_answer_each_message_once(
    tmp_path: Path, zygote: Zygote
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
    settle_s = LEASE_S + 0.5  # a lease and a take-over round
    try:
        async with serve_rig(tmp_path, zygote) as cluster, contextlib.AsyncExitStack() as stack:
            urls = {name: await stack.enter_async_context(m.serve()) for name, m in models.items()}
            # Started together: their migrations take turns (an advisory lock in PostgreSQL).
            await asyncio.gather(*(cluster.start(name, url) for name, url in urls.items()))
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
            killed = time.monotonic()
            await cluster.kill("a")
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
