"""Reservations from a Slack channel: questions in the thread, a confirmation only the
requester can grant, one job card edited in place, and the payment link shown to the
requester alone (ephemeral), never in the channel."""

from __future__ import annotations

from pathlib import Path

import pytest

from conversations.capabilities.onegent import job as reservation_job
from integrations.sandbox import OnegentSandboxConfig
from tests.bot.slack.fake_slack import Call
from tests.bot.slack.harness import (
    SlackRig,
    block_action,
    channel_message,
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
        refused = block_action(
            confirmation.buttons["Reserve"],
            channel="C0PLANS",
            message_ts=confirmation.ts,
            thread_ts=thread,
            user="U0BOB",
        )
        await rig.interaction(refused)
        await rig.slack.wait_for(lambda: bool(_with(rig, "Only the person who asked")))
        assert rig.onegent.state.created == 0
        await rig.interaction(
            block_action(
                confirmation.buttons["Reserve"],
                channel="C0PLANS",
                message_ts=confirmation.ts,
                thread_ts=thread,
            )
        )
        await rig.slack.wait_for(lambda: bool(rig.slack.ephemerals), timeout_s=15)
        await rig.slack.wait_for(
            lambda: any("payment page" in c.block_text for c in _with(rig, "🍽"))
        )
        await rig.settle()
    (private,) = rig.slack.ephemerals
    assert private.args["user"] == "U0ALICE" and private.args["thread_ts"] == thread
    (pay,) = [e for b in private.blocks if b["type"] == "actions" for e in b["elements"]]
    assert pay["text"]["text"] == "Complete payment" and "/handoff/" in pay["url"]
    visible = rig.slack.of("chat.postMessage", "chat.update")
    assert not any("/handoff/" in str(c.args) for c in visible)
    title = "🍽 Table at Le Bernardin · New York"
    cards = [c for c in visible if title in c.block_text and "?" not in c.block_text]
    cards = [c for c in cards if "Reserve:" not in c.block_text]
    assert len(cards) >= 2 and len({c.ts for c in cards}) == 1  # one card, edited in place
    assert rig.onegent.state.created == 1
