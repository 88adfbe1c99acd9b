"""Reservations from a Slack channel: questions in the thread, a confirmation only the
requester can grant, one job card edited in place, and the payment link shown to the
requester alone (ephemeral), never in the channel."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from conversations.capabilities.onegent import job as reservation_job
from integrations.sandbox import OnegentSandboxConfig
from tests.bot.slack.fake_slack import Call, FakeSlackAPI
from tests.bot.slack.harness import (
    SlackRig,
    block_action,
    channel_message,
    dm,
    mention,
    running_slack,
    sqlite_url,
)
from tests.fakes.llm import ScriptedLLM, call


@pytest.fixture(autouse=True)
def _quick_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reservation_job, "poll_delay", lambda: 0.05)
    monkeypatch.setattr(reservation_job, "CONFIRM_AFTER_S", 0.2)


def _with(rig: SlackRig, words: str) -> list[Call]:
    return [c for c in rig.slack.replies if words in c.block_text]


async def _reply(rig: SlackRig, thread: str, words: str, answer: str) -> None:
    await rig.slack.wait_for(lambda: bool(_with(rig, words)))
    await rig.event(channel_message(answer, thread_ts=thread))


async def _reserve(rig: SlackRig, confirmation: Call, thread: str, user: str = "U0ALICE") -> None:
    """`user` presses Reserve on the confirmation in the channel thread."""
    press = block_action(
        confirmation.buttons["Reserve"],
        channel="C0PLANS",
        message_ts=confirmation.ts,
        thread_ts=thread,
        user=user,
    )
    await rig.interaction(press)


async def test_a_table_from_a_channel_hands_the_payment_link_to_the_requester_only(
    tmp_path: Path,
) -> None:
    model = ScriptedLLM(
        [
            call(
                "reserve",
                scenario="restaurant",
                restaurant_name="Le Bernardin",
                date="tomorrow",
                time="7pm",
                covers=2,
            ),
            "I'll need a few details.",
        ]
    )
    db = sqlite_url(tmp_path)
    async with running_slack(model, database_url=db, onegent=OnegentSandboxConfig.fast()) as rig:
        assert rig.onegent is not None
        asked = mention("reserve a table for 2 at Le Bernardin tomorrow at 7pm")
        await rig.event(asked)
        thread = asked["ts"]
        await _reply(rig, thread, "In which city?", "New York")
        await _reply(rig, thread, "What name", "Alex Traveler")
        await _reply(rig, thread, "Which e-mail", "alex@example.com")
        await _reply(rig, thread, "Which phone", "+1 212 555 0199")
        await rig.slack.wait_for(lambda: bool(_with(rig, "Reserve: 🍽 Table at Le Bernardin")))
        confirmation = _with(rig, "Reserve: 🍽 Table at Le Bernardin")[0]
        assert "Under: Alex Traveler · alex@example.com · +12125550199" in confirmation.block_text
        await _reserve(rig, confirmation, thread, user="U0BOB")
        refusal = "Only the person who asked"
        await rig.slack.wait_for(lambda: any(refusal in c.block_text for c in rig.slack.ephemerals))
        (told,) = rig.slack.ephemerals
        assert told.args["user"] == "U0BOB" and not _with(rig, refusal)
        assert rig.onegent.state.created == 0
        await _reserve(rig, confirmation, thread)
        await rig.slack.wait_for(lambda: len(rig.slack.ephemerals) == 2, timeout_s=15)
        await rig.slack.wait_for(
            lambda: any("payment page" in c.block_text for c in _with(rig, "🍽"))
        )
        await rig.settle()
    (_, private) = rig.slack.ephemerals  # Bob's refusal, then Alice's payment link
    assert private.args["user"] == "U0ALICE" and private.args["thread_ts"] == thread
    (pay,) = [e for b in private.blocks if b["type"] == "actions" for e in b["elements"]]
    assert pay["text"]["text"] == "Complete payment" and "/handoff/" in pay["url"]
    visible = rig.slack.of("chat.postMessage", "chat.update")
    assert not any("/handoff/" in str(c.args) for c in visible)
    title = "🍽 Table at Le Bernardin · New York"
    cards = [c for c in visible if title in c.block_text and "?" not in c.block_text]
    cards = [c for c in cards if "Reserve:" not in c.block_text]
    cards = [c for c in cards if "Confirmed: reserving" not in c.block_text]  # the approval
    assert len(cards) >= 2 and len({c.ts for c in cards}) == 1  # one card, edited in place
    assert rig.onegent.state.created == 1


async def test_a_flight_from_a_channel_asks_for_the_passport_in_the_dm_only(
    tmp_path: Path,
) -> None:
    """The passport question goes to the requester's DM (never the channel, never an
    ephemeral message they could not answer); their DM answer sends the flight; dates are
    read in their own Slack time zone, not the workspace's."""
    model = ScriptedLLM(
        [
            call(
                "reserve",
                scenario="flight",
                origin="JFK",
                dest="LHR",
                date="tomorrow",
                passengers=1,
            ),
            "I'll need a few details.",
        ]
    )
    slack = FakeSlackAPI()
    slack.users["U0ALICE"] = {
        "id": "U0ALICE",
        "name": "alice",
        "tz": "Pacific/Kiritimati",  # UTC+14: never the same day as the workspace's UTC-11
        "profile": {"display_name": "Alex Traveler"},
    }
    db = sqlite_url(tmp_path)
    async with running_slack(
        model,
        database_url=db,
        slack=slack,
        onegent=OnegentSandboxConfig.fast(),
        CONCIERGE_TIMEZONE="Pacific/Pago_Pago",
    ) as rig:
        assert rig.onegent is not None
        asked = mention("book me a flight from JFK to London tomorrow")
        await rig.event(asked)
        thread = asked["ts"]
        await _reply(rig, thread, "Which e-mail", "alex@example.com")
        await _reply(rig, thread, "Which phone", "+1 212 555 0199")
        await rig.slack.wait_for(lambda: bool(_with(rig, "Reserve: ✈️ Flight JFK → LHR")))
        confirmation = _with(rig, "Reserve: ✈️ Flight JFK → LHR")[0]
        await _reserve(rig, confirmation, thread)
        await rig.slack.wait_for(lambda: bool(_with(rig, "passport number")))
        (question,) = _with(rig, "passport number")
        assert question.args["channel"] == "D0ALICE"
        await rig.event(dm("1985-07-21, K7654321, US"))
        await rig.slack.wait_for(lambda: bool(_with(rig, "not kept here")))
        await rig.slack.wait_for(lambda: bool(rig.slack.ephemerals), timeout_s=15)
        await rig.settle()
    everywhere = rig.slack.of("chat.postMessage", "chat.update", "chat.postEphemeral")
    in_channel = [c for c in everywhere if c.args.get("channel") == "C0PLANS"]
    assert not any("passport number" in c.block_text for c in in_channel)
    assert not any("K7654321" in str(c.args) for c in everywhere)
    (sent,) = rig.onegent.state.requests
    tomorrow = datetime.now(ZoneInfo("Pacific/Kiritimati")).date() + timedelta(days=1)
    assert sent["request"]["params"]["date"] == tomorrow.isoformat()
    assert sent["profile"]["passport_number"] == "K7654321"
    assert sent["profile"]["first_name"] == "Alex"
