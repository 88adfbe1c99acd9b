"""Replies for one person only (`Reply.private_to`): ephemeral in channels and threads, a
normal post in the person's DM, their DM when Slack refuses the ephemeral message, and the
outbox carrying the field across its JSON."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.slack.replier import SlackDeliveryError
from conversations.delivery import enqueue
from conversations.replies import Progress, Reply
from conversations.serialize import reply_from_json, reply_to_json
from conversations.types import ConversationAddress
from tests.bot.slack.fake_slack import TEAM, Call
from tests.bot.slack.harness import SlackRig, running_slack, sqlite_url
from tests.fakes.llm import ScriptedLLM

URL = "https://pay.example/abc"
PAYMENT = Reply(text=f"Complete payment: {URL}", private_to="U0ALICE")
THREAD = ConversationAddress("slack", TEAM, "C0PLANS", "1700000000.000100")
DM = ConversationAddress("slack", TEAM, "D0ALICE", "")


def _shows_url(call: Call) -> bool:
    return URL in call.block_text or URL in str(call.args.get("text", ""))


def _visible_with_url(rig: SlackRig) -> list[Call]:
    """Messages everyone in the channel could read that carry the private link."""
    return [c for c in rig.slack.replies if c.args.get("channel") != "D0ALICE" and _shows_url(c)]


async def test_a_private_reply_in_a_channel_thread_is_ephemeral_for_that_person(
    tmp_path: Path,
) -> None:
    async with running_slack(ScriptedLLM([]), database_url=sqlite_url(tmp_path)) as rig:
        replier = rig.services.replier_for(THREAD)
        assert replier is not None
        await replier.send(PAYMENT)
    (ephemeral,) = rig.slack.ephemerals
    assert ephemeral.args["channel"] == "C0PLANS" and ephemeral.args["user"] == "U0ALICE"
    assert ephemeral.args["thread_ts"] == "1700000000.000100"
    assert _shows_url(ephemeral)
    assert not any(_shows_url(c) for c in rig.slack.replies)
    assert not rig.slack.of("conversations.open")


async def test_a_private_reply_at_the_top_of_a_channel_is_ephemeral_without_a_thread(
    tmp_path: Path,
) -> None:
    channel = ConversationAddress("slack", TEAM, "C0PLANS", "")
    async with running_slack(ScriptedLLM([]), database_url=sqlite_url(tmp_path)) as rig:
        replier = rig.services.replier_for(channel)
        assert replier is not None
        await replier.send(PAYMENT)
    (ephemeral,) = rig.slack.ephemerals
    assert ephemeral.args["user"] == "U0ALICE" and "thread_ts" not in ephemeral.args
    assert not _visible_with_url(rig)


async def test_a_private_reply_in_the_persons_dm_is_a_normal_post(tmp_path: Path) -> None:
    async with running_slack(ScriptedLLM([]), database_url=sqlite_url(tmp_path)) as rig:
        replier = rig.services.replier_for(DM)
        assert replier is not None
        await replier.send(PAYMENT)
    (post,) = rig.slack.posts
    assert post.args["channel"] == "D0ALICE" and _shows_url(post)
    assert not rig.slack.ephemerals


async def test_an_ephemeral_message_slack_refuses_goes_to_the_persons_dm(tmp_path: Path) -> None:
    async with running_slack(ScriptedLLM([]), database_url=sqlite_url(tmp_path)) as rig:
        replier = rig.services.replier_for(THREAD)
        assert replier is not None
        rig.slack.fail_once("chat.postEphemeral", "user_not_in_channel")
        await replier.send(PAYMENT)
    (refused,) = rig.slack.ephemerals
    assert refused.args["user"] == "U0ALICE"
    (opened,) = rig.slack.of("conversations.open")
    assert opened.args["users"] == "U0ALICE"
    (post,) = rig.slack.posts
    assert post.args["channel"] == "D0ALICE" and "thread_ts" not in post.args
    assert _shows_url(post)
    assert not _visible_with_url(rig)


async def test_other_ephemeral_failures_reach_the_outbox_and_nothing_is_shown(
    tmp_path: Path,
) -> None:
    async with running_slack(ScriptedLLM([]), database_url=sqlite_url(tmp_path)) as rig:
        replier = rig.services.replier_for(THREAD)
        assert replier is not None
        rig.slack.fail_once("chat.postEphemeral", "msg_too_long")
        with pytest.raises(SlackDeliveryError):
            await replier.send(PAYMENT)
    assert len(rig.slack.ephemerals) == 1
    assert not rig.slack.replies and not rig.slack.of("conversations.open")


async def test_a_keyed_private_reply_replaces_nothing_and_is_not_recorded(
    tmp_path: Path,
) -> None:
    async with running_slack(ScriptedLLM([]), database_url=sqlite_url(tmp_path)) as rig:
        replier = rig.services.replier_for(THREAD)
        assert replier is not None
        await replier.send(Reply(text=PAYMENT.text, private_to="U0ALICE", key="pay:1"))
        await replier.send(Reply(text="Link refreshed", private_to="U0ALICE", key="pay:1"))
        # Nothing was recorded under the key: a visible reply under it is a new post.
        await replier.send(Reply(text="Booked, see you there.", key="pay:1"))
    assert [_shows_url(c) for c in rig.slack.ephemerals] == [True, False]
    (visible,) = rig.slack.replies
    assert visible.method == "chat.postMessage" and "Booked" in visible.block_text


async def test_a_private_result_finishes_its_status_line_without_showing_itself(
    tmp_path: Path,
) -> None:
    async with running_slack(ScriptedLLM([]), database_url=sqlite_url(tmp_path)) as rig:
        replier = rig.services.replier_for(THREAD)
        assert replier is not None
        # Everyone saw the status line; the private result under its key must not replace
        # it (that would show the link to all): the line is finished in place instead.
        await replier.progress(Progress(key="pay:2", text="Preparing your payment link"))
        await replier.send(Reply(text=PAYMENT.text, private_to="U0ALICE", key="pay:2"))
    (status,) = rig.slack.posts
    assert "Preparing your payment link" in status.block_text and "⏳" in status.block_text
    (finished,) = rig.slack.of("chat.update")
    assert finished.ts == status.ts and "⏳" not in finished.block_text
    (ephemeral,) = rig.slack.ephemerals
    assert _shows_url(ephemeral) and not _visible_with_url(rig)


async def test_the_outbox_keeps_private_to_and_delivers_ephemerally(tmp_path: Path) -> None:
    assert reply_from_json(reply_to_json(PAYMENT)) == PAYMENT
    async with running_slack(ScriptedLLM([]), database_url=sqlite_url(tmp_path)) as rig:
        async with rig.services.db.session() as session:
            assert await enqueue(session, THREAD, PAYMENT, dedupe_key="pay:abc")
        rig.services.outbox.wake()
        await rig.slack.wait_for(lambda: bool(rig.slack.ephemerals))
    (ephemeral,) = rig.slack.ephemerals
    assert ephemeral.args["user"] == "U0ALICE" and _shows_url(ephemeral)
    assert ephemeral.args["thread_ts"] == "1700000000.000100"
    assert not _visible_with_url(rig)
