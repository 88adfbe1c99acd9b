"""Delivery: one reply per message whatever Slack retries, fast acks while work runs,
progress replaced by results, retried 429s, streaming, and the outlet used by the outbox."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from pathlib import Path

import pytest
from sqlmodel import select, update

from bot.slack.replier import SlackDeliveryError
from conversations import delivery
from conversations.replies import ApprovalRequest, Button, Reply
from conversations.types import ConversationAddress, InboundMessage, Sender
from integrations.anthropic_llm import AnthropicLLM
from integrations.sandbox import SandboxConfig
from storage.models import OutboxMessage, utc_now
from tests.bot.slack.fake_slack import TEAM
from tests.bot.slack.harness import (
    SlackRig,
    as_message_copy,
    dm,
    mention,
    running_slack,
    sqlite_url,
)
from tests.fakes.llm import ScriptedLLM, call
from tests.fakes.messages_api import FakeMessagesAPI, text_reply


async def test_retries_and_the_mention_message_pair_give_one_reply_even_after_a_restart(
    database_url: str,
) -> None:
    model = ScriptedLLM(["Found you.", "In the thread."])
    message = dm("find me something for tonight")
    asked = mention("anything for us?")
    async with running_slack(model, database_url=database_url) as rig:
        first = await rig.event(message, event_id="Ev0DM")
        concurrent = await asyncio.gather(
            rig.event(message, event_id="Ev0DM", retry=1),
            rig.event(message, event_id="Ev0DM", retry=2),
        )
        last = await rig.event(message, event_id="Ev0DM", retry=3)
        # The same message as `app_mention` and as `message.channels`: two event ids.
        pair = await asyncio.gather(
            rig.event(asked, event_id="Ev0MENTION"), rig.event(as_message_copy(asked))
        )
        await rig.slack.wait_for(lambda: len(rig.slack.posts) == 2)
        await rig.settle()
        await asyncio.sleep(0.2)
    statuses = [r.status_code for r in (first, *concurrent, last, *pair)]
    assert statuses == [200] * 6
    thread_post, dm_post = sorted(rig.slack.posts, key=lambda c: c.args["channel"])
    assert dm_post.args["channel"] == "D0ALICE" and "thread_ts" not in dm_post.args
    assert thread_post.args["thread_ts"] == asked["ts"]
    assert len(model.requests) == 2

    # A redelivery after a restart finds the claim in the database: nothing happens.
    async with running_slack(ScriptedLLM([]), database_url=database_url) as again:
        late = await again.event(message, event_id="Ev0DM", retry=3)
        await asyncio.sleep(0.2)
        await again.settle()
    assert late.status_code == 200 and again.slack.replies == []


async def test_a_message_claimed_before_a_crash_is_answered_at_boot_and_only_once(
    database_url: str,
) -> None:
    message = dm("are you still there?")
    claimed = InboundMessage(
        ConversationAddress("slack", TEAM, "D0ALICE", ""),
        Sender("U0ALICE"),
        "are you still there?",
        event_id=f"{TEAM}:D0ALICE:{message['ts']}",
    )
    async with running_slack(ScriptedLLM([]), database_url=database_url) as crashed:
        # The process dies right after the claim commits: accepted, never run.
        assert await crashed.services.manager.accept(claimed)
    model = ScriptedLLM(["Yes, here I am."])
    async with running_slack(model, database_url=database_url) as rig:
        await rig.slack.wait_for(lambda: len(rig.slack.posts) == 1)
        again = await rig.event(message, retry=1)  # Slack's retry of the same message
        await asyncio.sleep(0.2)
        await rig.settle()
    assert again.status_code == 200 and len(model.requests) == 1
    (post,) = rig.slack.posts
    assert post.args["channel"] == "D0ALICE" and "Yes, here I am." in post.block_text


def _cards_shown(rig: SlackRig) -> bool:
    return any("Details" in c.block_text for c in rig.slack.replies)


async def test_a_search_acks_at_once_shows_progress_then_cards_from_outgoing(
    tmp_path: Path,
) -> None:
    model = ScriptedLLM(
        [call("search_activities", prompt="jazz", location="Brooklyn"), "Searching now."]
    )
    # The job refreshes its status line every 5 s; a 5.6 s search shows one refresh.
    sandbox = SandboxConfig.fast(search_latency_s=5.6)
    async with running_slack(model, database_url=sqlite_url(tmp_path), sandbox=sandbox) as rig:
        message = dm("find jazz concerts in Brooklyn this weekend")
        started = time.perf_counter()
        response = await rig.event(message)
        ack_s = time.perf_counter() - started
        assert response.status_code == 200
        await rig.slack.wait_for(lambda: _cards_shown(rig), timeout_s=20)
        await rig.settle(timeout_s=20)
        calls = len(rig.slack.calls)
        again = await rig.event(message, retry=1)  # Slack redelivers: nothing changes
        await asyncio.sleep(0.2)
        await rig.settle()
    assert again.status_code == 200 and len(rig.slack.calls) == calls
    assert ack_s < 1.0, f"ack took {ack_s:.2f} s"
    # The turn posts the status line and its sentence; the job (another replier) refreshes
    # the line and turns it into the cards in place.
    status, said = rig.slack.posts
    assert "Searching for jazz in Brooklyn…" in status.block_text and "⏳" in status.block_text
    assert "Searching now." in said.block_text
    *refreshes, cards = rig.slack.of("chat.update")
    assert all(c.ts == status.ts and c.args["channel"] == "D0ALICE" for c in (*refreshes, cards))
    assert any("· 5 s" in c.block_text for c in refreshes)
    assert "Details" in cards.block_text and "⏳" not in cards.block_text
    # Slack's own thread status said we were busy (on the DM message), then was cleared.
    thread_statuses = rig.slack.of("assistant.threads.setStatus")
    assert {c.args["thread_ts"] for c in thread_statuses} == {message["ts"]}
    assert [c.args["status"] for c in thread_statuses][-1] == ""


async def test_a_429_on_post_message_is_retried_and_delivered(tmp_path: Path) -> None:
    model = ScriptedLLM(["Worth the wait."])
    async with running_slack(model, database_url=sqlite_url(tmp_path)) as rig:
        rig.slack.rate_limit_once("chat.postMessage", retry_after_s=1)
        await rig.event(dm("hello there"))
        await rig.slack.wait_for(lambda: len(rig.slack.posts) == 2, timeout_s=10)
        await rig.settle()
    limited, delivered = rig.slack.posts
    assert delivered.at - limited.at >= 1.0
    assert delivered.args == limited.args and "Worth the wait." in delivered.block_text


async def test_a_picture_slack_cannot_fetch_does_not_lose_the_cards(tmp_path: Path) -> None:
    model = ScriptedLLM([call("search_activities", prompt="jazz", location="Brooklyn"), "Ok."])
    sandbox = SandboxConfig.fast(search_latency_s=1.0)
    async with running_slack(model, database_url=sqlite_url(tmp_path), sandbox=sandbox) as rig:
        await rig.event(dm("jazz please"))
        # The job's first refresh of the status line, then the cards replace it.
        await rig.slack.wait_for(lambda: bool(rig.slack.of("chat.update")))
        rig.slack.fail_once("chat.update", "invalid_blocks")
        await rig.slack.wait_for(lambda: _cards_shown(rig))
        await rig.settle()
    failed, cards = [c for c in rig.slack.of("chat.update") if "Details" in c.block_text]
    assert any("accessory" in b for b in failed.blocks)
    assert not any("accessory" in b for b in cards.blocks) and cards.ts == failed.ts


async def test_the_real_sdk_streams_into_a_thread_and_posts_once_at_a_dms_top_level(
    tmp_path: Path,
) -> None:
    streamed = (
        "Here are a few thoughts for Friday night. Bar LunÀtico has a late set, and "
        "Smalls usually runs a jam session after midnight. If you would rather sit down, "
        "Blue Note has a dinner show at eight. Tell me which one and I will check tickets "
        "and prices for you, or ask me for something else entirely. <!channel> stays text."
    )
    api = FakeMessagesAPI([text_reply(streamed), text_reply("Short and sweet.")])
    async with api.serve() as model_url:
        # Built here rather than from settings so the test can close the SDK's client
        # (`running_services` does not close the model it builds).
        model = AnthropicLLM.from_settings("sk-ant-test-key", model_url, "claude-sonnet-5")
        try:
            async with running_slack(model, database_url=sqlite_url(tmp_path)) as rig:
                asked = mention("what's good on Friday?")
                await rig.event(asked)
                await rig.slack.wait_for(lambda: bool(rig.slack.of("chat.stopStream")))
                await rig.settle()
                await rig.event(dm("and now?"))
                await rig.slack.wait_for(lambda: bool(rig.slack.posts))
                await rig.settle()
        finally:
            await model.client.close()
    assert api.errors == [] and all(r.stream for r in api.requests)
    (start,) = rig.slack.of("chat.startStream")
    assert start.args["thread_ts"] == asked["ts"] and start.args["channel"] == "C0PLANS"
    assert start.args["recipient_user_id"] == "U0ALICE" and start.args["recipient_team_id"] == TEAM
    pieces = rig.slack.of("chat.startStream", "chat.appendStream", "chat.stopStream")
    text = "".join(chunk["text"] for c in pieces for chunk in c.args.get("chunks") or [])
    assert text == streamed.replace("<!channel>", "\\<!channel>")
    (post,) = rig.slack.posts  # the DM's top level has no thread to stream into
    assert "Short and sweet." in post.block_text and "thread_ts" not in post.args


async def test_the_outlet_posts_later_results_and_replaces_keyed_messages(tmp_path: Path) -> None:
    async with running_slack(ScriptedLLM([]), database_url=sqlite_url(tmp_path)) as rig:
        thread = ConversationAddress("slack", TEAM, "C0PLANS", "1700000000.000100")
        replier = rig.services.replier_for(thread)
        assert replier is not None
        approval = ApprovalRequest(
            "ap1",
            "Book 2 × General Admission?",
            ("Late Set at Bar LunÀtico", "Total: $50.00"),
            requester="U0ALICE",
            confirm=Button("Confirm", "approve:ap1", "primary"),
            cancel=Button("Cancel", "reject:ap1", "danger"),
        )
        await replier.send(Reply(approval=approval, key="approval:ap1"))
        await replier.send(
            Reply(
                approval=dataclasses.replace(approval, status="granted"),
                key="approval:ap1",
            )
        )
        rig.slack.fail_once("chat.postMessage", "channel_not_found")
        with pytest.raises(SlackDeliveryError):
            await replier.send(Reply(text="Your tickets are confirmed."))
    posted, updated = rig.slack.of("chat.postMessage")[0], rig.slack.of("chat.update")[0]
    assert posted.args["thread_ts"] == "1700000000.000100"
    assert "Only <@U0ALICE> can confirm." in posted.block_text
    values = [e["value"] for b in posted.blocks if b["type"] == "actions" for e in b["elements"]]
    assert values == ["approve:ap1", "reject:ap1"]
    assert updated.ts == posted.ts and "Confirmed" in updated.block_text
    assert not any(b["type"] == "actions" for b in updated.blocks)


@pytest.mark.parametrize("thread", ["", "1700000000.000100"])
async def test_an_outbox_message_posted_before_a_crash_is_not_posted_again(
    tmp_path: Path, thread: str
) -> None:
    """The sender posted it, then died before marking it sent (the row is due again, its
    claim counted): the next delivery finds the message by its metadata and posts nothing."""
    async with running_slack(ScriptedLLM([]), database_url=sqlite_url(tmp_path)) as rig:
        services = rig.services
        here = ConversationAddress("slack", TEAM, "C0PLANS", thread)
        async with services.db.session() as session:
            await delivery.enqueue(
                session, here, Reply(text="Booking sent to Outgoing."), dedupe_key="job:j1:accepted"
            )
        assert await services.outbox.deliver_due() == 1
        (posted,) = rig.slack.of("chat.postMessage")
        assert posted.args["metadata"]["event_payload"] == {"key": "job:j1:accepted"}
        async with services.db.session() as session:  # what the crash left behind
            await session.exec(
                update(OutboxMessage).values(status="pending", next_attempt_at=utc_now())
            )
        assert await services.outbox.deliver_due() == 1
        looked = "conversations.replies" if thread else "conversations.history"
        assert [c.method for c in rig.slack.calls if c.method.startswith("conversations.")] == [
            looked
        ]
        assert len(rig.slack.of("chat.postMessage")) == 1
        async with services.db.session(read_only=True) as session:
            (row,) = (await session.exec(select(OutboxMessage))).all()
        assert row.status == "sent" and row.attempts == 2
