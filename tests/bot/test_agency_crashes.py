"""The travel agency bridge survives SIGKILL and replicas: real `concierge serve` processes
(`serve_rig`).

Each process has the Slack front-end (a shared fake Slack Web API), a fake Messages API whose
model hands Alice's Lisbon trip to the agency (`ask_agency`), and the Voyagent sandbox on
loopback behind `Gates`, streaming each word group of its agent's turn `DELTA_S` apart, so
the first turn (a greeting, a flight search, a seat hold to approve) takes about 3 s and is
edited in place once a second. Leases are 2 s (`serve_rig.LEASE_S`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from integrations.sandbox import (
    VOYAGENT_DEFAULT_EMAIL,
    VOYAGENT_DEFAULT_PASSWORD,
    VoyagentSandboxConfig,
    VoyagentSandboxState,
    create_voyagent_app,
    serve_in_background,
    voyagent_state,
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

ASKED = "ask the agency to plan 5 days in Lisbon for 4 in May under €6000"
TRIP = {"destination": "Lisbon", "when": "5 days in May", "travellers": 4, "budget": "€6000"}
DELTA_S = 0.2
AGENCY = VoyagentSandboxConfig.fast(delta_delay_s=DELTA_S, heartbeat_s=1.0)
SEND = "Send this trip to the travel agency?"
ANSWERING = "is answering in this thread"
GREETING = "Hello from Sandbox Travel"  # the first words the agent streams
FIRST_TURN_ENDS = "per person."
CARD = "asks for your approval"
RESUMED = "Seats held on TAP"
WRITING = "✍️"
MESSAGES = ("POST", "/chat/sessions/{session_id}/messages")
SETTLE_S = LEASE_S + 0.5  # a lease and a poll: time for a duplicate to show up


# ---- the agency ---------------------------------------------------------------------------


@dataclass
class Agency:
    url: str
    state: VoyagentSandboxState
    gates: Gates

    async def start(self, rig: ServeRig, name: str, model_url: str) -> Serve:
        """Start `serve` process `name`, signed in to this sandbox as its demo login."""
        return await rig.start(
            name,
            model_url,
            VOYAGENT_API_URL=self.url,
            VOYAGENT_EMAIL=VOYAGENT_DEFAULT_EMAIL,
            VOYAGENT_PASSWORD=VOYAGENT_DEFAULT_PASSWORD,
        )

    def session_id(self) -> str:
        (session_id,) = self.state.sessions
        return str(session_id)


@contextlib.asynccontextmanager
async def _agency(config: VoyagentSandboxConfig) -> AsyncIterator[Agency]:
    app = create_voyagent_app(config)
    state = voyagent_state(app)
    gates = Gates(app)
    async with serve_in_background(gates) as url:
        try:
            yield Agency(url, state, gates)
        finally:
            gates.release_all()
            state.close_streams()  # open streams end now, so the server stops at once


# ---- the model and the chat ---------------------------------------------------------------


@contextlib.asynccontextmanager
async def _model() -> AsyncIterator[tuple[str, FakeMessagesAPI]]:
    """A fake Messages API: "ask the agency" hands the trip over, a tool result gets one
    sentence, anything else "Hello." (the agency's turns must never get here)."""

    async def respond(request: RecordedRequest) -> Reply:
        said = request.said
        if said is None:
            return text_reply("Here is the trip for you to confirm.")
        if "ask the agency" in said:
            return tool_reply(ToolUse("ask_agency", TRIP))
        return text_reply("Hello.")

    fake = FakeMessagesAPI(responder=respond)
    async with fake.serve() as url:
        yield url, fake


def _text(call: Call) -> str:
    return call.block_text or str(call.args.get("text", ""))


def _posted(rig: ServeRig, words: str) -> list[Call]:
    return [c for c in rig.slack.of("chat.postMessage") if words in _text(c)]


def _versions(rig: ServeRig, words: str) -> list[Call]:
    return [c for c in rig.slack.of("chat.postMessage", "chat.update") if words in _text(c)]


def _written(rig: ServeRig, words: str) -> list[Call]:
    """The versions of a turn as finished (no longer marked as being written)."""
    return [c for c in _versions(rig, words) if WRITING not in _text(c)]


async def _press(rig: ServeRig, name: str, message: Call, label: str) -> None:
    value = message.buttons[label]
    thread = message.args.get("thread_ts")
    press = block_action(
        value,
        channel=str(message.args["channel"]),
        message_ts=message.ts,
        thread_ts=str(thread) if thread else None,
    )
    assert await rig.interact(name, press) == 200


async def _hand_over(rig: ServeRig, name: str) -> None:
    """Alice DMs the trip to `name` and presses Send on its confirmation; wait for the
    header that says the agency answers in the thread."""
    body = json.dumps(event_callback(dm(ASKED), event_id=f"EvTRIP-{name}")).encode()
    assert await rig.deliver(name, body) == 200
    await rig.wait_for(lambda: bool(_posted(rig, SEND)), 20, "no confirmation")
    await rig.wait_for(lambda: bool(_posted(rig, "Here is the trip")), 15, "the turn went on")
    await rig.handled(15, "the turn was not saved")
    (confirmation,) = _posted(rig, SEND)
    assert set(confirmation.buttons) == {"Send to the agency", "Cancel"}
    await _press(rig, name, confirmation, "Send to the agency")
    await rig.wait_for(lambda: bool(_posted(rig, ANSWERING)), 20, "never handed over")


def _assert_one_message(rig: ServeRig, words: str, last_words: str) -> Call:
    """The turn that says `words` was posted once and only ever edited in place, and
    written out to `last_words` exactly once; its post."""
    report = rig.report()
    (post,) = _posted(rig, words)
    assert {c.ts for c in _versions(rig, words)} == {post.ts}, report
    (written,) = _written(rig, words)
    assert written.ts == post.ts and _text(written).rstrip().endswith(last_words), report
    assert _text(written).startswith("🧳 Sandbox Travel Co.:"), report
    return post


# ---- 1. killed mid-turn -------------------------------------------------------------------


async def test_a_turn_killed_mid_stream_is_finished_in_the_same_message(
    tmp_path: Path, zygote: Zygote
) -> None:
    """A streams the agency's first turn into one message and edits it; SIGKILL; B (same
    SQLite file) resumes the stream where A's last edit left it and finishes the turn in
    A's message, then posts the approval card once."""
    async with (
        _agency(AGENCY) as agency,
        serve_rig(tmp_path, zygote, database="sqlite") as rig,
        _model() as (model_url, model),
    ):
        await agency.start(rig, "a", model_url)
        await _hand_over(rig, "a")

        def edited() -> bool:
            versions = _versions(rig, GREETING)
            return bool(versions) and any(c.method == "chat.update" for c in versions)

        await rig.wait_for(edited, 15, "the turn was not posted and edited")
        assert not agency.state.approvals, "killed mid-turn: the agent had not asked yet"
        assert not _written(rig, GREETING), rig.report()
        await rig.kill("a")
        await agency.start(rig, "b", model_url)
        await rig.wait_for(lambda: bool(_posted(rig, CARD)), 20, "no approval card after B")
        await rig.wait_for(lambda: bool(_written(rig, GREETING)), 10, "the turn never ended")
        await asyncio.sleep(SETTLE_S)

    report = rig.report()
    _assert_one_message(rig, GREETING, FIRST_TURN_ENDS)
    (card,) = _posted(rig, CARD)
    assert set(card.buttons) == {"Approve", "Reject"}, report
    assert "Hold 4 seats" in _text(card), report
    (session_id,) = agency.state.sessions
    assert len(agency.state.messages_of(session_id)) == 1, "the brief was sent once"
    assert agency.state.calls[MESSAGES] == 2, "B re-attached to the turn (Last-Event-ID)"
    assert len(agency.state.approvals) == 1
    assert len(agency.state.enquiries) == 1
    assert [t for t in (r.said for r in model.requests) if t is not None] == [ASKED]


# ---- 2. two replicas ----------------------------------------------------------------------


@pytest.mark.postgres
async def test_two_processes_on_one_postgresql_resume_an_approved_turn_once(
    tmp_path: Path, zygote: Zygote
) -> None:
    """A and B are both up; the trip is handed over in A, Approve pressed in B: one of them
    tells the agency and resumes the paused turn (one POST with the approvals map), and the
    resumed turn is posted once and written out once."""
    async with (
        _agency(AGENCY) as agency,
        serve_rig(tmp_path, zygote) as rig,
        _model() as (model_url, _),
    ):
        # Started together: their migrations take turns (an advisory lock in PostgreSQL).
        await asyncio.gather(agency.start(rig, "a", model_url), agency.start(rig, "b", model_url))
        await _hand_over(rig, "a")
        await rig.wait_for(lambda: bool(_posted(rig, CARD)), 20, "no approval card")
        await asyncio.sleep(LEASE_S * 1.5)  # leases lapse and renew, both runners polling
        assert agency.state.calls[MESSAGES] == 1, rig.report()
        (card,) = _posted(rig, CARD)
        await _press(rig, "b", card, "Approve")
        await rig.wait_for(lambda: bool(_written(rig, RESUMED)), 20, "the turn never resumed")
        await asyncio.sleep(SETTLE_S)
        assert all(p.alive for p in rig.processes.values())

    report = rig.report()
    _assert_one_message(rig, GREETING, FIRST_TURN_ENDS)
    _assert_one_message(rig, RESUMED, "Shall I look at hotels next?")
    assert len(_posted(rig, CARD)) == 1, report
    state = agency.state
    (partner_id,) = state.approvals
    assert state.approvals[partner_id]["status"] == "granted"
    brief, resumed = state.messages_of(agency.session_id())
    assert brief["approvals"] is None and brief["message"]
    assert (resumed["message"], resumed["approvals"]) == ("", {partner_id: True}), report
    assert state.calls[MESSAGES] == 2, report
    assert state.calls[("POST", "/approvals/{approval_id}/resolve")] == 1, report
