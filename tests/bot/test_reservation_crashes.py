"""Reservations survive SIGKILL and replicas: real `concierge serve` processes (`serve_rig`).

Each process has the Slack front-end (a shared fake Slack Web API), a fake Messages API whose
model asks to reserve a table at Le Bernardin (without the city), and the Onegent sandbox on
loopback behind `Gates` (a response can be held) and a `PollWatch` that records every
`GET /api/v1/execution-jobs/{id}` as the sandbox sees it: when it arrived, when it was
answered, and how many were in flight at once. Jobs start after 1 s and end 8 s later
(12 s with two replicas), so the job is polled (every 3–5 s, the product's own timing: a
real process can't be monkeypatched) a few times before it reaches the payment page. Leases
are 2 s (`serve_rig.LEASE_S`). Alice asks in a channel; the questions, the confirmation and the job
card are in her thread, the hand-off an ephemeral message for her alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from integrations.sandbox import (
    DEFAULT_ONEGENT_KEY,
    OnegentSandboxConfig,
    OnegentSandboxState,
    create_onegent_app,
    onegent_state,
    serve_in_background,
)
from integrations.sandbox.onegent_jobs import API_PREFIX
from tests.bot.serve_rig import LEASE_S, Gates, Serve, ServeRig, Zygote, serve_rig
from tests.bot.slack.fake_slack import Call
from tests.bot.slack.harness import block_action, channel_message, dm, event_callback, mention
from tests.fakes.messages_api import (
    FakeMessagesAPI,
    RecordedRequest,
    Reply,
    ToolUse,
    text_reply,
    tool_reply,
)

ASKED = "reserve a table for 2 at Le Bernardin tomorrow at 7pm"
RESERVE = {
    "scenario": "restaurant",
    "restaurant_name": "Le Bernardin",
    "date": "tomorrow",
    "time": "7pm",
    "covers": 2,
}
ANSWERS = (
    ("In which city?", "New York"),
    ("What name", "Alex Traveler"),
    ("Which e-mail", "alex@example.com"),
    ("Which phone", "+1 212 555 0199"),
)
FLIGHT = {"scenario": "flight", "origin": "JFK", "dest": "LHR", "date": "friday", "passengers": 1}
PASSPORT = "1985-07-21, K7654321, US"
CHANNEL = "C0PLANS"
TITLE = "🍽 Table at Le Bernardin · New York"
CONFIRM = f"Reserve: {TITLE}"
ON_ITS_WAY = ("Onegent has it", "booking it")
BOOKED = "Booked up to the payment page"
DECIDED = "No table at 19:00 — booked 19:30, within your ±90 min"
JOBS = f"{API_PREFIX}/execution-jobs"
SLOW = OnegentSandboxConfig(start_s=1.0, run_s=8.0)
LONGER = OnegentSandboxConfig(start_s=1.0, run_s=12.0)
"""A few more polls, so the job changes hands between the replicas a few times."""
SETTLE_S = LEASE_S + 0.5  # a lease and a poll: time for a duplicate to show up
MIN_GAP_S = 2.5
"""One poller waits 3–5 s after each answer before the next poll; closer polls are two."""


# ---- Onegent ------------------------------------------------------------------------------


@dataclass
class Poll:
    """One `GET /execution-jobs/{id}`, from the sandbox's side."""

    job_id: str
    client: str
    """The caller's address: which connection (so which process) polled."""
    opened: float
    closed: float | None = None


@dataclass
class PollWatch:
    """Wraps the sandbox app: records every poll of a job and the most in flight at once.
    Each poll is answered `answer_after_s` late (a slow Onegent), so two pollers would
    overlap rather than slip past each other."""

    app: ASGIApp
    answer_after_s: float = 0.0
    polls: list[Poll] = field(default_factory=list)
    in_flight: int = 0
    most_in_flight: int = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        rest = path.removeprefix(f"{JOBS}/")
        if not (
            scope["type"] == "http"
            and scope["method"] == "GET"
            and rest != path
            and rest
            and "/" not in rest
        ):
            await self.app(scope, receive, send)
            return
        client = scope.get("client") or ("?", 0)
        poll = Poll(rest, f"{client[0]}:{client[1]}", time.monotonic())
        self.polls.append(poll)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.answer_after_s)
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
            poll.closed = time.monotonic()

    def after(self, moment: float) -> list[Poll]:
        return [p for p in self.polls if p.opened > moment]

    def gaps(self) -> list[float]:
        """Seconds between the arrivals of consecutive polls."""
        return [b.opened - a.opened for a, b in zip(self.polls, self.polls[1:], strict=False)]


@dataclass
class Onegent:
    url: str
    state: OnegentSandboxState
    gates: Gates
    watch: PollWatch

    async def start(self, rig: ServeRig, name: str, model_url: str) -> Serve:
        """Start `serve` process `name`, pointed at this sandbox."""
        return await rig.start(
            name,
            model_url,
            ONEGENT_API_URL=f"{self.url}{API_PREFIX}",
            ONEGENT_API_KEY=DEFAULT_ONEGENT_KEY,
        )


@contextlib.asynccontextmanager
async def _onegent(config: OnegentSandboxConfig, answer_after_s: float) -> AsyncIterator[Onegent]:
    app = create_onegent_app(config)
    watch = PollWatch(app, answer_after_s)
    gates = Gates(watch)
    async with serve_in_background(gates) as url:
        try:
            yield Onegent(url, onegent_state(app), gates, watch)
        finally:
            gates.release_all()


# ---- the model and the chat ---------------------------------------------------------------


@contextlib.asynccontextmanager
async def _model() -> AsyncIterator[tuple[str, FakeMessagesAPI]]:
    """A fake Messages API: the request proposes the reservation, its tool result gets one
    sentence, anything else "Hello." (an answer to a question must never get here)."""

    async def respond(request: RecordedRequest) -> Reply:
        said = request.said
        if said is None:
            return text_reply("I'll need a few details.")
        if "reserve a table" in said:
            return tool_reply(ToolUse("reserve", RESERVE))
        if "flight" in said:
            return tool_reply(ToolUse("reserve", FLIGHT))
        return text_reply("Hello.")

    fake = FakeMessagesAPI(responder=respond)
    async with fake.serve() as url:
        yield url, fake


def _body(event: dict[str, Any]) -> bytes:
    return json.dumps(event_callback(event)).encode()


def _everything(call: Call) -> str:
    """All a Slack call carries (text, blocks, button URLs), for "is the link in it"."""
    return json.dumps(call.args, ensure_ascii=False)


def _visible(rig: ServeRig) -> list[Call]:
    """What everyone in the channel sees: posts and their edits."""
    return rig.slack.of("chat.postMessage", "chat.update")


def _with(rig: ServeRig, words: str) -> list[Call]:
    return [c for c in _visible(rig) if words in c.block_text]


def _card(rig: ServeRig) -> Call | None:
    """The job card as first posted (a post whose status says the job is on its way)."""
    posted = [
        c
        for c in rig.slack.of("chat.postMessage")
        if TITLE in c.block_text and any(words in c.block_text for words in ON_ITS_WAY)
    ]
    return posted[0] if posted else None


def _card_versions(rig: ServeRig) -> list[Call]:
    """Every post or edit of a message showing the job's status (not the confirmation)."""
    statuses = (*ON_ITS_WAY, BOOKED)
    return [
        c
        for c in _visible(rig)
        if TITLE in c.block_text
        and CONFIRM not in c.block_text
        and any(words in c.block_text for words in statuses)
    ]


def _booked(rig: ServeRig) -> bool:
    return any(BOOKED in c.block_text for c in _card_versions(rig)) and bool(rig.slack.ephemerals)


async def _ask_and_answer(rig: ServeRig, names: tuple[str, ...]) -> str:
    """Alice asks `names[0]` in the channel and answers each question in the thread (the
    n-th answer to `names[n % len]`); the confirmation's Reserve value once it is shown."""
    asked = mention(ASKED)
    thread = str(asked["ts"])
    assert await rig.deliver(names[0], _body(asked)) == 200
    for index, (question, answer) in enumerate(ANSWERS):
        await rig.wait_for(lambda q=question: bool(_with(rig, q)), 20, f"no {question!r}")  # type: ignore[misc]
        reply = channel_message(answer, thread_ts=thread)
        assert await rig.deliver(names[index % len(names)], _body(reply)) == 200
    await rig.wait_for(lambda: bool(_with(rig, CONFIRM)), 20, "no confirmation")
    return thread


async def _press_reserve(rig: ServeRig, name: str, thread: str) -> None:
    (confirmation,) = [c for c in rig.slack.of("chat.postMessage") if CONFIRM in c.block_text]
    assert set(confirmation.buttons) == {"Reserve", "Cancel"}
    press = block_action(
        confirmation.buttons["Reserve"],
        channel=CHANNEL,
        message_ts=confirmation.ts,
        thread_ts=thread,
    )
    assert await rig.interact(name, press) == 200


def _assert_one_reservation_seen_through(
    rig: ServeRig, onegent: Onegent, model: FakeMessagesAPI, thread: str
) -> str:
    """One Onegent job created by one POST (one idempotency key) and polled by id only; one
    card, posted once and edited in place to the payment page; one ephemeral hand-off to
    Alice in her thread and the link nowhere else; the model heard the request only. The
    Onegent job id."""
    state = onegent.state
    report = rig.report()
    assert state.created == 1 and state.create_requests == 1, report
    (sent,) = state.requests
    assert sent["request"]["params"]["city"] == "New York"
    assert sent["clientMetadata"]["idempotencyKey"]
    (job,) = state.job_list
    assert job.status == "paused_payment"
    assert set(state.polls) == {job.job_id}, state.polls  # every poll asked for that job
    card = _card(rig)
    assert card is not None, report
    assert len([c for c in _card_versions(rig) if c.method == "chat.postMessage"]) == 1, report
    versions = _card_versions(rig)
    assert {c.ts for c in versions} == {card.ts}, report
    finals = [c for c in versions if BOOKED in c.block_text]
    assert finals and all(c.method == "chat.update" for c in finals), report
    assert DECIDED in finals[-1].block_text
    assert card.args.get("thread_ts") == thread
    (private,) = rig.slack.ephemerals
    assert private.args["user"] == "U0ALICE" and private.args["channel"] == CHANNEL
    assert private.args["thread_ts"] == thread
    assert f"/handoff/{job.job_id}" in _everything(private)
    assert not any("/handoff/" in _everything(c) for c in _visible(rig)), report
    told = [r.said for r in model.requests]
    assert [t for t in told if t is not None] == [ASKED], told
    return job.job_id


# ---- 1. killed mid-poll ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "database",
    [pytest.param("postgresql", marks=pytest.mark.postgres), "sqlite"],
)
async def test_a_reservation_killed_mid_poll_is_polled_on_by_the_next_process(
    tmp_path: Path, zygote: Zygote, database: Literal["postgresql", "sqlite"]
) -> None:
    """A takes the request, the answers and the Reserve press, creates the Onegent job and
    posts its card; SIGKILL while A waits for the answer to a poll (held back). B takes the
    job over once A's lease runs out, polls the same Onegent job (no second POST) and edits
    A's card up to the payment page; Alice alone gets the link, once."""
    async with (
        _onegent(SLOW, answer_after_s=0.0) as onegent,
        serve_rig(tmp_path, zygote, database=database) as rig,
        _model() as (model_url, model),
    ):
        await onegent.start(rig, "a", model_url)
        thread = await _ask_and_answer(rig, ("a",))
        await _press_reserve(rig, "a", thread)
        await rig.wait_for(lambda: _card(rig) is not None, 15, "no job card")
        assert onegent.state.created == 1
        job_id = onegent.state.job_list[0].job_id
        held = onegent.gates.hold("GET", f"{JOBS}/{job_id}")
        await rig.wait_for(held.arrived.is_set, 10, "A never polled the job")
        await rig.kill("a")  # mid-poll: Onegent answered, A never heard it
        killed_at = time.monotonic()
        assert onegent.state.job_list[0].status != "paused_payment"
        await onegent.start(rig, "b", model_url)
        await rig.wait_for(lambda: bool(onegent.watch.after(killed_at)), 15, "B never polled")
        resumed_s = time.monotonic() - killed_at
        await rig.wait_for(lambda: _booked(rig), 25, "the card never reached the payment page")
        await asyncio.sleep(SETTLE_S)

    job_id = _assert_one_reservation_seen_through(rig, onegent, model, thread)
    card = _card(rig)
    assert card is not None
    assert card.ts == _card_versions(rig)[-1].ts  # the card A posted is the one B finished
    assert {p.job_id for p in onegent.watch.after(killed_at)} == {job_id}
    assert onegent.watch.most_in_flight == 1
    assert resumed_s < LEASE_S + 6, f"B polled {resumed_s:.1f} s after the kill"


# ---- 2. two replicas for a whole reservation ------------------------------------------------


@pytest.mark.postgres
async def test_two_processes_on_one_postgresql_poll_a_reservation_once_at_a_time(
    tmp_path: Path, zygote: Zygote
) -> None:
    """A and B are both up from the request to the payment page (asked in A, answered to
    both in turn, Reserve pressed in B): every poll is answered 1 s late, and still no two
    polls of the job are ever in flight together, nor closer than one poller's delay; one
    POST, one card, one hand-off."""
    async with (
        _onegent(LONGER, answer_after_s=1.0) as onegent,
        serve_rig(tmp_path, zygote) as rig,
        _model() as (model_url, model),
    ):
        # Started together: their migrations take turns (an advisory lock in PostgreSQL).
        await asyncio.gather(onegent.start(rig, "a", model_url), onegent.start(rig, "b", model_url))
        thread = await _ask_and_answer(rig, ("a", "b"))
        await _press_reserve(rig, "b", thread)
        await rig.wait_for(lambda: _booked(rig), 30, "the card never reached the payment page")
        await asyncio.sleep(SETTLE_S)
        assert all(p.alive for p in rig.processes.values())

    _assert_one_reservation_seen_through(rig, onegent, model, thread)
    watch = onegent.watch
    timeline = [
        (p.client, round(p.opened, 2), p.closed and round(p.closed, 2)) for p in watch.polls
    ]
    assert len(watch.polls) >= 3, timeline
    assert watch.most_in_flight == 1, timeline
    assert all(p.closed is not None for p in watch.polls), timeline
    assert min(watch.gaps()) >= MIN_GAP_S, timeline


# ---- 3. a flight killed while its passport details are on their way ----------------------


def _database_files(root: Path) -> list[bytes]:
    """The SQLite database as it is on disk (with its WAL)."""
    return [f.read_bytes() for f in root.glob("**/serve.db*")]


async def test_a_flight_killed_while_sending_the_passport_asks_again_and_books_once(
    tmp_path: Path, zygote: Zygote
) -> None:
    """A takes Alice's passport details in her DM and sends the flight to Onegent; SIGKILL
    before A hears Onegent's answer. The details were only in A's memory, so B asks Alice
    again (privately, saying why) and sends the flight with the same idempotency key:
    Onegent has one job, and no table holds the passport."""
    async with (
        _onegent(SLOW, answer_after_s=0.0) as onegent,
        serve_rig(tmp_path, zygote, database="sqlite") as rig,
        _model() as (model_url, _),
    ):
        await onegent.start(rig, "a", model_url)
        asked = mention("book me a flight from JFK to London on Friday")
        thread = str(asked["ts"])
        assert await rig.deliver("a", _body(asked)) == 200
        for question, answer in ANSWERS[1:]:
            await rig.wait_for(lambda q=question: bool(_with(rig, q)), 20, f"no {question!r}")  # type: ignore[misc]
            reply = channel_message(answer, thread_ts=thread)
            assert await rig.deliver("a", _body(reply)) == 200
        confirm = "Reserve: ✈️ Flight JFK → LHR"
        await rig.wait_for(lambda: bool(_with(rig, confirm)), 20, "no confirmation")
        (confirmation,) = [c for c in rig.slack.of("chat.postMessage") if confirm in c.block_text]
        press = block_action(
            confirmation.buttons["Reserve"],
            channel=CHANNEL,
            message_ts=confirmation.ts,
            thread_ts=thread,
        )
        assert await rig.interact("a", press) == 200
        asking = "passport number"
        await rig.wait_for(lambda: bool(_with(rig, asking)), 20, "no passport question")
        held = onegent.gates.hold("POST", JOBS)
        assert await rig.deliver("a", _body(dm(PASSPORT))) == 200
        await rig.wait_for(lambda: onegent.state.created == 1, 15, "A never sent the flight")
        await rig.kill("a")  # Onegent has the job; A never heard so
        await onegent.start(rig, "b", model_url)
        lost = "lost the details"
        await rig.wait_for(lambda: bool(_with(rig, lost)), 25, "B never asked again")
        assert await rig.deliver("b", _body(dm(PASSPORT))) == 200
        await rig.wait_for(lambda: bool(rig.slack.ephemerals), 30, "no payment hand-off")
        held.release()
        stored = _database_files(tmp_path)

    report = rig.report()
    asked_privately = [c for c in _visible(rig) if asking in c.block_text]
    questions = [c for c in asked_privately if "Reply in this chat" in c.block_text]
    assert len(questions) == 2 and {c.args["channel"] for c in asked_privately} == {"D0ALICE"}
    assert onegent.state.created == 1, report
    keys = {r["clientMetadata"]["idempotencyKey"] for r in onegent.state.requests}
    assert len(keys) == 1 and len(onegent.state.requests) == 2, report
    assert all(r["profile"]["passport_number"] == "K7654321" for r in onegent.state.requests)
    assert stored and not any(b"K7654321" in data for data in stored)
