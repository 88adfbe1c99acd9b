"""A group plan survives SIGKILL and replicas: real `concierge serve` processes (`serve_rig`)
on one PostgreSQL database, a shared fake Slack Web API, the Outgoing sandbox behind a front
door that forwards its webhooks to whichever process is up.

A plan is started in A; the votes are pressed in A and in B; A is killed mid-vote; B closes
the vote in the same poll message; the approvals are sent; B is killed mid-booking; C takes
the approvals and posts the outcome once. Leases are 2 s (`serve_rig.LEASE_S`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.bot.serve_rig import LEASE_S, ServeRig, Zygote, serve_rig
from tests.bot.slack.fake_slack import Call
from tests.bot.slack.harness import block_action, event_callback, mention
from tests.bot.slack.test_plans import PEOPLE, ephemeral_click, values
from tests.fakes.messages_api import (
    FakeMessagesAPI,
    RecordedRequest,
    Reply,
    ToolUse,
    text_reply,
    tool_reply,
)

CHANNEL = "C0PLANS"
PLAN = {"prompt": "a night out with live music in brooklyn", "max_price": 40}
BOOKINGS = "/partner/v1/bookings"
SETTLE_S = LEASE_S + 0.5


@contextlib.asynccontextmanager
async def _model() -> AsyncIterator[str]:
    """A fake Messages API: "plan …" starts the plan; a tool result gets one sentence."""

    async def respond(request: RecordedRequest) -> Reply:
        if request.said is None:
            return text_reply("Finding options for the group.")
        return tool_reply(ToolUse("plan_outing", PLAN))

    fake = FakeMessagesAPI(responder=respond)
    async with fake.serve() as url:
        yield url


def _text(call: Call) -> str:
    return call.block_text or str(call.args.get("text", ""))


def _versions(rig: ServeRig, words: str) -> list[Call]:
    return [c for c in rig.slack.of("chat.postMessage", "chat.update") if words in _text(c)]


def _latest(rig: ServeRig, words: str) -> Call:
    found = _versions(rig, words)
    assert found, rig.report()
    return found[-1]


async def _press(rig: ServeRig, name: str, message: Call, value: str, user: str, **kw: Any) -> None:
    thread = message.args.get("thread_ts")
    press = block_action(
        value,
        channel=CHANNEL,
        message_ts=message.ts,
        thread_ts=str(thread) if thread else None,
        user=user,
        **kw,
    )
    press["user"]["name"] = PEOPLE[user]
    assert await rig.interact(name, press) == 200


async def _press_ephemeral(rig: ServeRig, name: str, card: Call, label: str) -> None:
    value = next(v for lab, v in values(card) if lab == label)
    thread = card.args.get("thread_ts")
    click = ephemeral_click(value, str(card.args["user"]), str(thread) if thread else None)
    assert await rig.interact(name, click) == 200


@pytest.mark.postgres
async def test_a_plan_killed_mid_vote_and_mid_booking_loses_nothing(
    tmp_path: Path, zygote: Zygote
) -> None:
    async with serve_rig(tmp_path, zygote) as rig, _model() as model_url:
        await asyncio.gather(rig.start("a", model_url), rig.start("b", model_url))
        asked = mention("plan a night out with live music in brooklyn under $40")
        assert await rig.deliver("a", json.dumps(event_callback(asked)).encode()) == 200
        await rig.wait_for(lambda: bool(_versions(rig, "🗳️ Vote:")), 30, "no poll")
        poll = _versions(rig, "🗳️ Vote:")[0]
        votes = [v for _, v in values(poll) if v.startswith("plan.vote:")]
        plan_id = votes[0].split(":")[1]

        await _press(rig, "a", poll, votes[0], "U0BOB")
        await _press(rig, "b", poll, votes[1], "U0CAROL")
        await rig.wait_for(
            lambda: (
                "1 vote (Carol)" in _text(_latest(rig, "🗳️ Vote:"))
                and "1 vote (Bob)" in _text(_latest(rig, "🗳️ Vote:"))
            ),
            15,
            "the votes were not shown",
        )
        await rig.kill("a")  # mid-vote
        await _press(rig, "b", poll, votes[1], "U0BOB")  # Bob changes his vote
        await _press(rig, "b", poll, f"plan.close:{plan_id}", "U0ALICE")
        await rig.wait_for(lambda: bool(_versions(rig, "🎉 The vote")), 30, "no winner")
        winner = _versions(rig, "🎉 The vote")[0]
        join = next(v for _, v in values(winner) if v.startswith("plan.in:"))
        for user in PEOPLE:
            await _press(rig, "b", winner, join, user)
        await rig.wait_for(
            lambda: "In so far (3)" in _text(_latest(rig, "🎉")), 15, "not everyone is in"
        )
        await _press(rig, "b", winner, f"plan.each:{plan_id}", "U0ALICE")

        def cards() -> dict[str, Call]:
            return {
                str(c.args["user"]): c
                for c in rig.slack.of("chat.postEphemeral")
                if any(label == "Confirm" for label, _ in values(c))
            }

        await rig.wait_for(lambda: len(cards()) == 3, 20, "not every approval was sent")
        await rig.kill("b")  # mid-booking: nobody has approved yet
        await rig.start("c", model_url)
        for user, label in (("U0ALICE", "Confirm"), ("U0BOB", "Confirm"), ("U0CAROL", "Cancel")):
            await _press_ephemeral(rig, "c", cards()[user], label)
        await rig.wait_for(lambda: bool(_versions(rig, "Plan outcome")), 40, "no outcome")
        await asyncio.sleep(SETTLE_S)

    report = rig.report()
    polls = [c for c in rig.slack.of("chat.postMessage") if "🗳️" in _text(c)]
    assert polls == [] or all(c.ts == poll.ts for c in polls), report
    assert {c.ts for c in _versions(rig, "🗳️")} == {poll.ts}, report  # one message, edited
    closed = _latest(rig, "Voting closed")
    assert "2 votes (Carol and Bob)" in _text(closed) or "2 votes (Bob and Carol)" in _text(closed)
    assert len(_versions(rig, "Plan outcome")) == 1, report
    outcome = _text(_latest(rig, "Plan outcome"))
    assert "Booked: Alice and Bob" in outcome and "Carol (cancelled their approval)" in outcome
    posted = rig.partner.requests_to(BOOKINGS, "POST")
    assert len({p.body["idempotency_key"] for p in posted if p.body}) == 2, report
    assert len(cards()) == 3, "each approval was sent once"
