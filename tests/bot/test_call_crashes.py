"""Phone calls survive SIGKILL and replicas: real `concierge serve` processes (`serve_rig`).

Each process has the Slack front-end (a shared fake Slack Web API), a fake Messages API whose
model proposes the call to Nobu, and the AI Call Agent sandbox on loopback behind `Gates`
(a response can be held) and a `StreamWatch` that records every `GET /calls/{id}/events`
connection as the sandbox sees it: when it opened, when it ended, and how many were open at
once. Leases are 2 s (`serve_rig.LEASE_S`). The voice agent asks one question and waits up
to 45 s for the answer, typed by Alice in the DM.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from integrations.sandbox import (
    DEFAULT_CALL_AGENT_KEY,
    CallAgentSandboxConfig,
    CallAgentSandboxState,
    callagent_state,
    create_callagent_app,
    serve_in_background,
)
from tests.bot.serve_rig import LEASE_S, Gates, Serve, ServeRig, Zygote, serve_rig
from tests.bot.slack.fake_slack import Call
from tests.bot.slack.harness import block_action, dm, event_callback
from tests.fakes.messages_api import (
    FakeMessagesAPI,
    RecordedRequest,
    Reply,
    ToolUse,
    text_reply,
    tool_reply,
)

NOBU = "+1 212 555 0100"
BRIEF = "Call Nobu for Alice and ask for a table for 4 at 8pm tonight; any time 20:00-22:00."
ASKED = "call Nobu at +1 212 555 0100 and ask for a table for 4 at 8pm"
TYPED = "the terrace please, and a quiet table"
CALLS = CallAgentSandboxConfig.fast(answer_timeout_s=45)
ASKS = "the voice agent asks"
CARD = "📞 Call to Nobu"
SETTLE_S = LEASE_S + 0.5  # a lease and a poll: time for a duplicate to show up


# ---- the call agent ---------------------------------------------------------------------


@dataclass
class Stream:
    """One `GET /calls/{id}/events` connection, from the sandbox's side."""

    last_event_id: str | None
    opened: float
    closed: float | None = None


@dataclass
class StreamWatch:
    """Wraps the sandbox app: records every event stream and the most open at once."""

    app: ASGIApp
    streams: list[Stream] = field(default_factory=list)
    open_now: int = 0
    most_open: int = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not (
            scope["type"] == "http"
            and scope["method"] == "GET"
            and str(scope["path"]).endswith("/events")
        ):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        resumed = headers.get(b"last-event-id")
        stream = Stream(resumed.decode() if resumed else None, time.monotonic())
        self.streams.append(stream)
        self.open_now += 1
        self.most_open = max(self.most_open, self.open_now)
        try:
            await self.app(scope, receive, send)
        finally:
            self.open_now -= 1
            stream.closed = time.monotonic()

    def opened_after(self, moment: float) -> list[Stream]:
        return [s for s in self.streams if s.opened > moment]


@dataclass
class CallAgent:
    url: str
    state: CallAgentSandboxState
    gates: Gates
    watch: StreamWatch

    async def start(self, rig: ServeRig, name: str, model_url: str) -> Serve:
        """Start `serve` process `name`, pointed at this sandbox."""
        return await rig.start(
            name,
            model_url,
            CALL_AGENT_API_URL=self.url,
            CALL_AGENT_API_KEY=DEFAULT_CALL_AGENT_KEY,
        )


@contextlib.asynccontextmanager
async def _call_agent(config: CallAgentSandboxConfig) -> AsyncIterator[CallAgent]:
    app = create_callagent_app(config)
    state = callagent_state(app)
    watch = StreamWatch(app)
    gates = Gates(watch)
    async with serve_in_background(gates) as url:
        try:
            yield CallAgent(url, state, gates, watch)
        finally:
            gates.release_all()
            state.close_streams()  # open streams end now, so the server stops at once


# ---- the model and the chat -------------------------------------------------------------


@contextlib.asynccontextmanager
async def _model() -> AsyncIterator[tuple[str, FakeMessagesAPI]]:
    """A fake Messages API: "call Nobu" proposes the call, a tool result gets one sentence,
    anything else "Hello." (a reply to the voice agent must never get here)."""

    async def respond(request: RecordedRequest) -> Reply:
        said = request.said
        if said is None:
            return text_reply("Here is the call for you to confirm.")
        if "call Nobu" in said:
            call = {"target_phone": NOBU, "brief": BRIEF, "callee": "Nobu"}
            return tool_reply(ToolUse("start_call", call))
        return text_reply("Hello.")

    fake = FakeMessagesAPI(responder=respond)
    async with fake.serve() as url:
        yield url, fake


def _dm(text: str, event_id: str) -> bytes:
    return json.dumps(event_callback(dm(text), event_id=event_id)).encode()


def _text(call: Call) -> str:
    return call.block_text or str(call.args.get("text", ""))


def _posted(rig: ServeRig, words: str) -> list[Call]:
    return [c for c in rig.slack.of("chat.postMessage") if words in _text(c)]


def _versions(rig: ServeRig, words: str) -> list[Call]:
    return [c for c in rig.slack.of("chat.postMessage", "chat.update") if words in _text(c)]


async def _confirmation(rig: ServeRig, name: str) -> Call:
    """DM the request to `name`; the confirmation once its turn is over."""
    assert await rig.deliver(name, _dm(ASKED, f"EvCALL-{name}")) == 200
    await rig.wait_for(lambda: bool(_posted(rig, "Call Nobu?")), 20, "no confirmation")
    await rig.wait_for(lambda: bool(_posted(rig, "Here is the call")), 15, "the turn went on")
    await rig.handled(15, "the turn was not saved")
    (confirmation,) = _posted(rig, "Call Nobu?")
    assert set(confirmation.buttons) == {"Call", "Cancel"}
    return confirmation


async def _press_call(rig: ServeRig, name: str, confirmation: Call) -> None:
    value = confirmation.buttons["Call"]
    press = block_action(value, channel="D0ALICE", message_ts=confirmation.ts)
    assert await rig.interact(name, press) == 200


def _finished(rig: ServeRig) -> bool:
    return any("Outcome:" in _text(c) for c in _versions(rig, CARD))


async def _answer_and_finish(rig: ServeRig, agent: CallAgent, name: str) -> None:
    """Alice types her answer to `name`; wait until it reached the call and the card says
    how the call ended."""
    assert await rig.deliver(name, _dm(TYPED, f"EvTYPED-{name}")) == 200
    await rig.wait_for(lambda: bool(agent.state.answers), 15, "the answer never reached the call")
    call_id = agent.state.call_list[0].call_id
    await rig.wait_for(lambda: agent.state.calls[call_id].final, 15, "the call did not end")
    await rig.wait_for(lambda: _finished(rig), 20, "no outcome on the card")
    await asyncio.sleep(SETTLE_S)


def _assert_one_call_seen_through(rig: ServeRig, agent: CallAgent, model: FakeMessagesAPI) -> None:
    """One call placed, asked once, answered once with Alice's words, one card edited in
    place to its one outcome; the model never heard the answer."""
    state = agent.state
    report = rig.report()
    assert state.start_requests == 1, report
    (placed,) = state.call_list
    assert placed.status == "completed"
    assert len(_posted(rig, ASKS)) == 1, report
    (answer,) = state.answers
    assert (answer.answer, answer.delivered, answer.mode) == (TYPED, True, "voice")
    settled = [c for c in _versions(rig, ASKS) if c.method == "chat.update"]
    assert settled and "passed on to the call" in _text(settled[-1]), report
    (card,) = _posted(rig, CARD)
    finals = [c for c in _versions(rig, CARD) if "Outcome:" in _text(c)]
    assert len(finals) == 1, report
    assert finals[0].method == "chat.update" and finals[0].ts == card.ts
    assert {c.ts for c in _versions(rig, CARD)} == {card.ts}
    assert "Call finished." in _text(finals[0]) and not _posted(rig, "Not placed")
    told = [r.said for r in model.requests]
    assert [t for t in told if t is not None] == [ASKED], told


# ---- 1. killed mid-call -----------------------------------------------------------------


@pytest.mark.parametrize(
    "database",
    [pytest.param("postgresql", marks=pytest.mark.postgres), "sqlite"],
)
async def test_a_call_killed_mid_way_is_listened_to_by_the_next_process(
    tmp_path: Path, zygote: Zygote, database: Literal["postgresql", "sqlite"]
) -> None:
    """A places the call and posts the voice agent's question; SIGKILL; B (same database)
    re-attaches to the call's stream where A left it, takes Alice's typed answer to the
    call, and edits A's card into the outcome."""
    async with (
        _call_agent(CALLS) as agent,
        serve_rig(tmp_path, zygote, database=database) as rig,
        _model() as (model_url, model),
    ):
        await agent.start(rig, "a", model_url)
        confirmation = await _confirmation(rig, "a")
        await _press_call(rig, "a", confirmation)
        await rig.wait_for(lambda: bool(_posted(rig, ASKS)), 20, "no question")
        (card,) = _posted(rig, CARD)
        await asyncio.sleep(0.5)  # the question is out; the call waits for the answer
        await rig.kill("a")
        killed_at = time.monotonic()
        await agent.start(rig, "b", model_url)
        await rig.wait_for(lambda: bool(agent.watch.opened_after(killed_at)), 15, "no re-attach")
        took_s = time.monotonic() - killed_at
        await _answer_and_finish(rig, agent, "b")

    _assert_one_call_seen_through(rig, agent, model)
    assert _posted(rig, CARD)[0].ts == card.ts  # the card A posted is the one B finished
    resumed = agent.watch.opened_after(killed_at)[0]
    assert resumed.last_event_id is not None, "B resumed the stream, it did not start over"
    assert agent.watch.most_open == 1
    assert took_s < LEASE_S + 5, f"re-attached {took_s:.1f} s after the kill"


# ---- 2. killed while placing the call ---------------------------------------------------


@pytest.mark.postgres
@pytest.mark.parametrize("killed", ["after_press_acked", "start_call_answer_held"])
async def test_a_call_killed_while_being_placed_is_placed_once(
    tmp_path: Path, zygote: Zygote, killed: Literal["after_press_acked", "start_call_answer_held"]
) -> None:
    """SIGKILL right after the Call press is acked (wherever A got to), or once `POST /calls`
    reached the call agent but before A heard its answer (held). B finishes: the call is
    placed once — adopted from `GET /calls` if A's POST had left — with one card."""
    async with (
        _call_agent(CALLS) as agent,
        serve_rig(tmp_path, zygote) as rig,
        _model() as (model_url, model),
    ):
        await agent.start(rig, "a", model_url)
        confirmation = await _confirmation(rig, "a")
        held = agent.gates.hold("POST", "/calls") if killed == "start_call_answer_held" else None
        await _press_call(rig, "a", confirmation)
        if held is not None:
            await rig.wait_for(held.arrived.is_set, 15, "the call was never placed")
        await rig.kill("a")
        killed_at = time.monotonic()
        await agent.start(rig, "b", model_url)
        await rig.wait_for(lambda: bool(_posted(rig, ASKS)), 30, "no question after the restart")
        took_s = time.monotonic() - killed_at
        await _answer_and_finish(rig, agent, "b")

    _assert_one_call_seen_through(rig, agent, model)
    assert "Confirmed" in _text(_versions(rig, "Call Nobu")[-1]), rig.report()
    assert agent.watch.most_open == 1
    # Within a lease and a poll or two of the kill: nothing on the way stalls the job.
    assert took_s < LEASE_S + 6, f"asked {took_s:.1f} s after the kill\n{rig.report()}"


# ---- 3. two replicas for a whole call ---------------------------------------------------


@pytest.mark.postgres
@pytest.mark.parametrize("cut_after", [None, 2], ids=["steady-stream", "stream-cut-every-2"])
async def test_two_processes_on_one_postgresql_listen_to_a_call_once(
    tmp_path: Path, zygote: Zygote, cut_after: int | None
) -> None:
    """A and B are both up from the request to the outcome (the call is pressed in A, the
    answer typed to B, and the question waits longer than a lease): the call's event stream
    is never open twice at once, the question is posted once, the answer sent once. With
    `cut_after`, the call agent cuts every stream after that many events, so the job is
    handed over again and again, to whichever process claims it first."""
    config = dataclasses.replace(CALLS, drop_stream_after_events=cut_after)
    async with (
        _call_agent(config) as agent,
        serve_rig(tmp_path, zygote) as rig,
        _model() as (model_url, model),
    ):
        # Started together: their migrations take turns (an advisory lock in PostgreSQL).
        await asyncio.gather(agent.start(rig, "a", model_url), agent.start(rig, "b", model_url))
        confirmation = await _confirmation(rig, "a")
        await _press_call(rig, "a", confirmation)
        await rig.wait_for(lambda: bool(_posted(rig, ASKS)), 20, "no question")
        await asyncio.sleep(LEASE_S * 1.5 + 1)  # leases renewed, both runners polling
        assert len(_posted(rig, ASKS)) == 1
        await _answer_and_finish(rig, agent, "b")
        assert all(p.alive for p in rig.processes.values())

    _assert_one_call_seen_through(rig, agent, model)
    watch = agent.watch
    assert watch.most_open == 1, [(s.last_event_id, s.opened, s.closed) for s in watch.streams]
    assert all(s.closed is not None for s in watch.streams)
    assert len(watch.streams) >= (4 if cut_after else 2), len(watch.streams)
