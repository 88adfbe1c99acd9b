"""Slack payloads → the core's `InboundMessage` / `ButtonPress`, or the reason to ignore them.

Pure functions over the parsed request body, so each rule is tested directly:

- workspace = the team the app is installed in, chat = the channel, thread = the thread's
  `ts`; a mention at the top of a channel opens a thread at the mention's `ts`; a DM message
  outside a thread belongs to the DM's own conversation (`thread_id` "").
- The dedupe key of a message is `team:channel:ts`, so the `app_mention` and the
  `message.channels` copy of one message, and every retry of either, are one item.
- The bot answers DMs, mentions, and follow-ups in threads it is part of; it ignores its own
  messages, other bots, edits, deletions and other subtypes, and plain channel chatter. A
  follow-up without a mention is a `Followup`: whether the bot takes part in its thread is
  stored, so the middleware asks (`settle_followup`) before accepting it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.slack.render import ACTION_PREFIX
from conversations.types import ButtonPress, ConversationAddress, InboundMessage, Sender

PLATFORM = "slack"
# `file_share` is a person's message with a file; `thread_broadcast` a thread reply also sent
# to the channel. Every other subtype is an edit, a deletion, a join, a bot post, …
PERSON_SUBTYPES = frozenset({"file_share", "thread_broadcast"})
MAX_TEXT = 4000


@dataclass(frozen=True)
class Ignored:
    reason: str


@dataclass(frozen=True)
class Accepted:
    item: InboundMessage | ButtonPress
    status_thread: str | None
    """The thread whose status (`assistant.threads.setStatus`) shows the work, if any."""


@dataclass(frozen=True)
class Followup:
    """A thread message without a mention: accepted only if the bot takes part in the thread."""

    accepted: Accepted


Verdict = Accepted | Ignored


def settle_followup(followup: Followup, *, takes_part: bool) -> Verdict:
    if takes_part:
        return followup.accepted
    return Ignored("a thread the bot is not part of")


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def strip_mentions(text: str, bot_user_id: str) -> str:
    """The message without the `<@BOT>` mention(s), whitespace tidied."""
    if bot_user_id:
        text = re.sub(rf"<@{re.escape(bot_user_id)}(\|[^>]*)?>", " ", text)
    return " ".join(text.split())[:MAX_TEXT]


def mentions(text: str, bot_user_id: str) -> bool:
    return bool(bot_user_id) and f"<@{bot_user_id}" in text


def message_event_id(team: str, channel: str, ts: str) -> str:
    return f"{team}:{channel}:{ts}"


def team_of(body: Mapping[str, Any]) -> str:
    """The installing workspace (events: `team_id`; interactivity: `team.id`)."""
    team = body.get("team_id")
    if not team and isinstance(body.get("team"), Mapping):
        team = body["team"].get("id")
    return _str(team)


def from_event(body: Mapping[str, Any], *, bot_user_id: str) -> Verdict | Followup:
    """An `app_mention` or `message` event → what to do with it."""
    event = body.get("event")
    if not isinstance(event, Mapping):
        return Ignored("no event")
    kind = event.get("type")
    if kind not in {"message", "app_mention"}:
        return Ignored(f"event {kind}")
    subtype = event.get("subtype")
    if subtype is not None and subtype not in PERSON_SUBTYPES:
        return Ignored(f"subtype {subtype}")
    if event.get("bot_id") or event.get("bot_profile"):
        return Ignored("a bot's message")
    user, channel, ts = _str(event.get("user")), _str(event.get("channel")), _str(event.get("ts"))
    if not user or not channel or not ts:
        return Ignored("no user, channel or ts")
    if user == bot_user_id:
        return Ignored("our own message")
    if event.get("edited"):
        return Ignored("an edit")
    team = team_of(body)
    text = _str(event.get("text"))
    thread_ts = _str(event.get("thread_ts"))
    direct = event.get("channel_type") == "im" or channel.startswith("D")
    if kind == "app_mention":
        thread = thread_ts or ts
    elif direct:
        thread = thread_ts
    elif not thread_ts:
        return Ignored("channel message without a mention")
    else:
        thread = thread_ts
    address = ConversationAddress(PLATFORM, team, channel, thread)
    message = InboundMessage(
        address,
        Sender(user),
        strip_mentions(text, bot_user_id),
        event_id=message_event_id(team, channel, ts),
        private=direct,
    )
    accepted = Accepted(message, (thread or ts) if direct else thread)
    if kind == "message" and not direct and not mentions(text, bot_user_id):
        return Followup(accepted)
    return accepted


def from_block_action(body: Mapping[str, Any]) -> Verdict:
    """A click on one of our buttons (`btn-<n>`) in a message → a `ButtonPress`."""
    actions = body.get("actions")
    if not isinstance(actions, list) or not actions or not isinstance(actions[0], Mapping):
        return Ignored("no action")
    action = actions[0]
    action_id = _str(action.get("action_id"))
    if not action_id.startswith(ACTION_PREFIX) or action.get("type") != "button":
        return Ignored(f"action {action_id}")
    channel = body.get("channel") if isinstance(body.get("channel"), Mapping) else {}
    message = body.get("message") if isinstance(body.get("message"), Mapping) else {}
    # A click on an ephemeral message comes without `message`: its `container` says where.
    container = body.get("container") if isinstance(body.get("container"), Mapping) else {}
    user = body.get("user") if isinstance(body.get("user"), Mapping) else {}
    assert isinstance(channel, Mapping) and isinstance(message, Mapping)
    assert isinstance(container, Mapping) and isinstance(user, Mapping)
    team = team_of(body)
    chat = _str(channel.get("id")) or _str(container.get("channel_id"))
    message_ts = _str(message.get("ts")) or _str(container.get("message_ts"))
    user_id, value = _str(user.get("id")), _str(action.get("value"))
    if not chat or not message_ts or not user_id or not value:
        return Ignored("a click outside a message")
    thread_ts = _str(message.get("thread_ts")) or _str(container.get("thread_ts"))
    thread = thread_ts if thread_ts and thread_ts != message_ts else ""
    press = ButtonPress(
        ConversationAddress(PLATFORM, team, chat, thread),
        Sender(user_id, _str(user.get("name")) or _str(user.get("username")) or None),
        value,
        event_id=f"{team}:{chat}:{message_ts}:{action_id}:{_str(action.get('action_ts'))}",
    )
    return Accepted(press, thread or None)
