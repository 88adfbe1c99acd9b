"""Payload → conversation address and dedupe key, rule by rule."""

from __future__ import annotations

from typing import Any

from bot.slack.addressing import (
    Accepted,
    Followup,
    Ignored,
    from_block_action,
    from_event,
    settle_followup,
)
from conversations.types import ButtonPress, ConversationAddress, InboundMessage
from tests.bot.slack.fake_slack import BOT_USER, TEAM
from tests.bot.slack.harness import (
    as_message_copy,
    block_action,
    channel_message,
    dm,
    event_callback,
    mention,
    new_ts,
)


def _verdict(event: dict[str, Any], *, known: set[str] | None = None) -> Accepted | Ignored:
    verdict = from_event(event_callback(event), bot_user_id=BOT_USER)
    if isinstance(verdict, Followup):
        thread = verdict.accepted.item.address.thread_id
        return settle_followup(verdict, takes_part=thread in (known or set()))
    return verdict


def _message(verdict: Accepted | Ignored) -> InboundMessage:
    assert isinstance(verdict, Accepted) and isinstance(verdict.item, InboundMessage)
    return verdict.item


def test_a_dm_is_its_own_conversation_and_a_dm_thread_is_another() -> None:
    top = dm("hello there")
    message = _message(_verdict(top))
    assert message.address == ConversationAddress("slack", TEAM, "D0ALICE", "")
    assert message.event_id == f"{TEAM}:D0ALICE:{top['ts']}"
    threaded = _verdict(dm("more", thread_ts=top["ts"]))
    assert _message(threaded).address.thread_id == top["ts"]
    assert isinstance(threaded, Accepted) and threaded.status_thread == top["ts"]


def test_a_mention_opens_a_thread_and_its_message_copy_has_the_same_key() -> None:
    asked = mention("jazz tonight?")
    by_mention = _message(_verdict(asked))
    assert by_mention.address.thread_id == asked["ts"] and by_mention.text == "jazz tonight?"
    # A top-level copy is left to the app_mention; inside a thread both are one item.
    assert isinstance(_verdict(as_message_copy(asked)), Ignored)
    in_thread = mention("and tomorrow?", thread_ts=asked["ts"])
    a, b = _message(_verdict(in_thread)), _message(_verdict(as_message_copy(in_thread)))
    assert a.event_id == b.event_id and a.address == b.address and a.text == b.text


def test_files_and_broadcast_replies_are_messages_other_subtypes_are_not() -> None:
    assert _message(_verdict(dm("see attached", subtype="file_share"))).text == "see attached"
    root = new_ts()
    broadcast = channel_message("also here", subtype="thread_broadcast", thread_ts=root)
    assert isinstance(_verdict(broadcast, known={root}), Accepted)
    for subtype in ("message_changed", "message_deleted", "bot_message", "channel_join"):
        assert isinstance(_verdict(dm("x", subtype=subtype)), Ignored)
    assert isinstance(_verdict(dm("x", edited={"user": "U0ALICE", "ts": root})), Ignored)


def test_thread_followups_need_the_bot_in_the_thread_or_a_mention() -> None:
    root = new_ts()
    plain = channel_message("what about Sunday?", thread_ts=root)
    assert _verdict(plain) == Ignored("a thread the bot is not part of")
    assert isinstance(_verdict(plain, known={root}), Accepted)
    called = channel_message(f"<@{BOT_USER}> what about Sunday?", thread_ts=root)
    assert _message(_verdict(called)).text == "what about Sunday?"


def test_a_click_in_a_thread_belongs_to_the_thread_and_at_a_dms_top_level_to_the_dm() -> None:
    root = new_ts()
    in_thread = from_block_action(
        block_action("details:abc", channel="C0PLANS", message_ts=new_ts(), thread_ts=root)
    )
    top_ts = new_ts()
    at_top = from_block_action(
        block_action("more", channel="D0ALICE", message_ts=top_ts, thread_ts=top_ts)
    )
    assert isinstance(in_thread, Accepted) and isinstance(in_thread.item, ButtonPress)
    assert in_thread.item.address == ConversationAddress("slack", TEAM, "C0PLANS", root)
    assert in_thread.item.value == "details:abc" and in_thread.item.sender.user_id == "U0ALICE"
    assert isinstance(at_top, Accepted) and at_top.item.address.thread_id == ""
    foreign = block_action("x", channel="C0PLANS", message_ts=root, action_id="someone-else")
    assert isinstance(from_block_action(foreign), Ignored)


def test_a_click_on_an_ephemeral_message_is_read_from_its_container() -> None:
    """Slack sends no `message` for a click on an ephemeral message: only `container`."""
    root, ephemeral_ts = new_ts(), new_ts()
    click = block_action("answer:q1:2", channel="C0PLANS", message_ts=ephemeral_ts, thread_ts=root)
    del click["message"]
    click["container"] = {
        "type": "message",
        "message_ts": ephemeral_ts,
        "channel_id": "C0PLANS",
        "is_ephemeral": True,
        "thread_ts": root,
    }
    verdict = from_block_action(click)
    assert isinstance(verdict, Accepted) and isinstance(verdict.item, ButtonPress)
    assert verdict.item.address == ConversationAddress("slack", TEAM, "C0PLANS", root)
    assert verdict.item.value == "answer:q1:2"
