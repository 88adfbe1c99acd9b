"""Jobs survive SIGKILL: real `concierge serve` processes, killed mid-job, then restarted.

Each process has the Slack front-end (a shared fake Slack Web API records every call) and a
fake Messages API whose model calls `search_activities` on "jazz" and `book_activity` on
"book". The Outgoing sandbox runs on loopback with a search latency of 2 s; `Gates` hold
one partner (or Slack) response back, so a kill lands mid-request whatever the load.
Leases are 2 s (`serve_rig.LEASE_S`). What the person sees is asserted as the final text of
every message in the DM (`_screen`), plus what reached the partner (the sandbox's journal).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pytest

from integrations.sandbox import SandboxConfig, SandboxState
from tests.bot.serve_rig import LEASE_S, ServeRig, Zygote, serve_rig
from tests.bot.slack.fake_slack import Call
from tests.bot.slack.harness import block_action, dm, event_callback
from tests.factories import book_call
from tests.fakes.messages_api import (
    FakeMessagesAPI,
    RecordedRequest,
    Reply,
    ToolUse,
    text_reply,
    tool_reply,
)

SEARCH = "/partner/v1/search"
BOOKINGS = "/partner/v1/bookings"
SEARCHING = SandboxConfig.fast(search_latency_s=2.0)
BOOKING = SandboxConfig.fast(
    webhook_delay_s=0.3, webhook_retry_backoff_s=0.5, webhook_max_attempts=10, webhook_timeout_s=40
)
SETTLE_S = LEASE_S + 0.5  # a lease and a poll: time for a duplicate to show up
CARDS = "ideas for jazz in Brooklyn"
STATUS = "Searching for jazz in Brooklyn"


# ---- the model and the chat -----------------------------------------------------------------


@dataclass
class Model:
    url: str
    writing: asyncio.Event
    """Set once the stalled answer (`stall_first_answer`) is being written."""


@contextlib.asynccontextmanager
async def _model(
    partner: SandboxState, *, stall_first_answer: bool = False
) -> AsyncIterator[Model]:
    """A fake Messages API: "jazz" searches, "book" books the late set (2 × General
    Admission, first session), anything after a tool result is one short sentence. With
    `stall_first_answer`, the first such sentence never comes (its process is killed)."""
    writing, stop = asyncio.Event(), asyncio.Event()

    async def respond(request: RecordedRequest) -> Reply:
        said = request.said
        if said is None:
            if stall_first_answer and not writing.is_set():
                writing.set()
                await stop.wait()
            return text_reply("On it.")
        if "jazz" in said:
            return tool_reply(
                ToolUse("search_activities", {"prompt": "jazz", "location": "Brooklyn"})
            )
        if "book" in said:
            part = book_call(partner)
            return tool_reply(ToolUse(part.name, dict(part.args)))
        return text_reply("Hello.")

    async with FakeMessagesAPI(responder=respond).serve() as url:
        try:
            yield Model(url, writing)
        finally:
            stop.set()


def _dm(text: str, event_id: str) -> bytes:
    return json.dumps(event_callback(dm(text), event_id=event_id)).encode()


def _screen(rig: ServeRig) -> dict[str, str]:
    """Every message in the DM, by ts, as it reads now (posted, then edited in place)."""
    shown: dict[str, str] = {}
    for call in rig.slack.of("chat.postMessage", "chat.update"):
        if call.method == "chat.postMessage" or call.ts in shown:
            shown[call.ts] = call.block_text or str(call.args.get("text", ""))
    return shown


def _posted(rig: ServeRig, words: str) -> list[Call]:
    return [c for c in rig.slack.of("chat.postMessage") if words in c.block_text]


def _mentioning(rig: ServeRig, words: str) -> list[Call]:
    return [c for c in rig.slack.replies if words in c.block_text]


async def _idle(rig: ServeRig, name: str) -> None:
    """Wait until the process has no turn running (its answer is posted, its item done)."""
    url = f"{rig.processes[name].url}/healthz"

    async def running() -> int:
        return int((await rig.http.get(url)).json()["running_work"])

    deadline = time.monotonic() + 15
    while await running():
        if time.monotonic() > deadline:
            pytest.fail(f"{name} still busy\n{rig.report()}")
        await asyncio.sleep(0.05)


async def _search_started(rig: ServeRig, name: str) -> str:
    """DM "find jazz" to `name`; once its search is at the partner (held there) and the turn
    is over, the ts of the one status line."""
    held = rig.partner_gates.hold("GET", SEARCH)
    assert await rig.deliver(name, _dm("find jazz", f"EvJAZZ-{name}")) == 200
    await rig.wait_for(held.arrived.is_set, 20, "no search reached the partner")
    await rig.wait_for(lambda: bool(_posted(rig, "On it.")), 15, "the turn did not end")
    await _idle(rig, name)
    (status,) = _posted(rig, STATUS)
    return status.ts


def _assert_one_result(rig: ServeRig, status_ts: str) -> None:
    """The status line became the cards, in place: two messages in all, no second status
    line, no card message of its own."""
    screen = _screen(rig)
    assert list(screen) == [status_ts, _posted(rig, "On it.")[0].ts], rig.report()
    assert CARDS in screen[status_ts] and STATUS not in screen[status_ts]
    assert screen[_posted(rig, "On it.")[0].ts] == "On it."
    assert len(_posted(rig, STATUS)) == 1 and not _posted(rig, CARDS)
    edits = [c for c in rig.slack.of("chat.update") if CARDS in c.block_text]
    assert [c.ts for c in edits] == [status_ts], "the cards were put in place exactly once"


# ---- 1. a search killed mid-way ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("database", "killed"),
    [
        pytest.param("postgresql", "mid_search", marks=pytest.mark.postgres, id="postgresql"),
        pytest.param("sqlite", "mid_search", id="sqlite"),
        pytest.param(
            "postgresql",
            "mid_turn",
            marks=pytest.mark.postgres,
            id="postgresql-turn-still-running",
        ),
    ],
)
async def test_search_killed_mid_way_is_finished_in_place_by_the_next_process(
    tmp_path: Path,
    zygote: Zygote,
    database: Literal["postgresql", "sqlite"],
    killed: Literal["mid_search", "mid_turn"],
) -> None:
    """SIGKILL while the partner is working on the search (`mid_turn`: while the model is
    still writing its one sentence, too); a new process on the same database redoes the
    search and edits the status message into the cards (SQLite: the one process, restarted)."""
    async with (
        serve_rig(tmp_path, zygote, database=database, sandbox=SEARCHING) as rig,
        _model(rig.partner, stall_first_answer=killed == "mid_turn") as model,
    ):
        await rig.start("a", model.url)
        if killed == "mid_search":
            status_ts = await _search_started(rig, "a")
        else:
            held = rig.partner_gates.hold("GET", SEARCH)
            assert await rig.deliver("a", _dm("find jazz", "EvJAZZ-a")) == 200
            await rig.wait_for(held.arrived.is_set, 20, "no search reached the partner")
            await rig.wait_for(model.writing.is_set, 15, "the model was not asked again")
            (status,) = _posted(rig, STATUS)
            status_ts = status.ts
        await rig.kill("a")
        killed_at = time.monotonic()
        await rig.start("b", model.url)
        await rig.wait_for(lambda: CARDS in _screen(rig)[status_ts], 30, "no result")
        took_s = time.monotonic() - killed_at
        await asyncio.sleep(SETTLE_S)

    _assert_one_result(rig, status_ts)
    searches = rig.partner.requests_to(SEARCH, "GET")
    assert len(searches) == 2, "the dead process's search, then the new process's, once"
    assert took_s < 30, f"finished {took_s:.1f} s after the kill"


# ---- 2. a process started mid-search --------------------------------------------------------


@pytest.mark.postgres
async def test_a_process_started_mid_search_adds_nothing(tmp_path: Path, zygote: Zygote) -> None:
    """B starts on the same PostgreSQL while A's search is at the partner and stays up for
    more than a lease before the partner answers: A's renewed lease keeps B off the job."""
    async with (
        serve_rig(tmp_path, zygote, sandbox=SEARCHING) as rig,
        _model(rig.partner) as model,
    ):
        await rig.start("a", model.url)
        status_ts = await _search_started(rig, "a")
        (held,) = rig.partner_gates.holds
        await rig.start("b", model.url)
        await asyncio.sleep(LEASE_S * 1.5 + 1)  # B polls for due jobs every second
        assert not held.released.is_set() and rig.processes["a"].alive
        held.release()
        await rig.wait_for(lambda: CARDS in _screen(rig)[status_ts], 15, "no result")
        await asyncio.sleep(SETTLE_S)

    _assert_one_result(rig, status_ts)
    assert len(rig.partner.requests_to(SEARCH, "GET")) == 1


# ---- 3. a booking killed between steps ------------------------------------------------------


def _confirm(rig: ServeRig) -> tuple[str, Call]:
    """The Confirm button's value and the message it is on."""
    for post in rig.slack.posts:
        for block in post.blocks:
            for element in block.get("elements", []) if block.get("type") == "actions" else []:
                if str(element.get("value", "")).startswith("approve:"):
                    return str(element["value"]), post
    pytest.fail(f"no Confirm posted\n{rig.report()}")


Killed = Literal[
    "after_confirm_acked", "after_grant", "after_booking_post", "after_post_webhook_first"
]


@pytest.mark.postgres
@pytest.mark.parametrize(
    "killed",
    [
        "after_confirm_acked",
        "after_grant",
        "after_booking_post",
        "after_post_webhook_first",
    ],
)
async def test_booking_killed_between_steps_books_once_and_says_so_once(
    tmp_path: Path, zygote: Zygote, killed: Killed
) -> None:
    """Confirm is pressed in A and A is killed: right after the ack; once the grant and the
    job are committed but the click is not yet done (`after_grant`: Slack's answer to the
    "Confirmed" edit is held); or once the booking POST is at the partner (its answer held,
    so A never learns the booking id). B, started at once, finishes the job: one booking at
    the partner under one idempotency key, one "Booked:" in the DM. `after_booking_post`
    holds the partner's webhooks at the front door until B has sent the booking again;
    `after_post_webhook_first` lets them through, so the "pending" webhook may reach B
    before its runner takes the job over."""
    async with (
        serve_rig(tmp_path, zygote, sandbox=BOOKING) as rig,
        _model(rig.partner) as model,
    ):
        await rig.start("a", model.url)
        assert await rig.deliver("a", _dm("book the late set", "EvBOOK0001")) == 200
        await rig.wait_for(lambda: bool(_posted(rig, "On it.")), 20, "no confirmation")
        await _idle(rig, "a")
        value, approval = _confirm(rig)
        held = None
        if killed == "after_grant":
            held = rig.slack_gates.hold("POST", "/api/chat.update")
        elif killed != "after_confirm_acked":
            held = rig.partner_gates.hold("POST", BOOKINGS)
        if killed == "after_booking_post":
            rig.door.shut()

        press = block_action(value, channel="D0ALICE", message_ts=approval.ts)
        assert await rig.interact("a", press) == 200
        if held is not None:
            await rig.wait_for(held.arrived.is_set, 15, f"{held.path} never reached")
        await rig.kill("a")
        killed_at = time.monotonic()
        await rig.start("b", model.url)
        if killed == "after_booking_post":
            resent = lambda: len(rig.partner.requests_to(BOOKINGS, "POST")) == 2  # noqa: E731
            await rig.wait_for(resent, 20, "the booking was not sent again")
            rig.door.reopen()

        await rig.wait_for(lambda: bool(_mentioning(rig, "Booked:")), 40, "not booked")
        took_s = time.monotonic() - killed_at
        async with asyncio.timeout(15):
            await rig.partner.wait_for_webhooks()
        await asyncio.sleep(SETTLE_S)

    posts = rig.partner.requests_to(BOOKINGS, "POST")
    keys = {str(p.body["idempotency_key"]) for p in posts}
    assert len(rig.partner.bookings) == 1 and len(keys) == 1, [p.body for p in posts]
    assert all(p.body == posts[0].body for p in posts), "every resend is the approved body"
    if killed == "after_booking_post":
        assert len(posts) == 2 and _posted(rig, "Booking sent to Outgoing")
    (booked,) = _mentioning(rig, "Booked:")
    assert booked.method == "chat.postMessage"
    assert "Booked: Late Set: Brooklyn Jazz Quartet" in booked.block_text
    for said in ("Booking sent to Outgoing", "Outgoing is processing"):
        assert len(_mentioning(rig, said)) <= 1, rig.report()
    assert not _mentioning(rig, "already confirmed"), rig.report()
    assert "Confirmed" in _screen(rig)[approval.ts], rig.report()
    assert took_s < 30, f"booked {took_s:.1f} s after the kill"
