"""Slack sessions as a person reads them: what people do, then every message the bot posted,
edited, showed one person only or published on App Home, flattened to its visible text."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tests.bot.slack.fake_slack import Call
from tests.bot.slack.harness import (
    SlackRig,
    block_action,
    channel_message,
    dm,
    mention,
)
from tests.transcripts.normalise import normalise
from tests.transcripts.quiet import until_quiet

SHOWN = ("chat.", "views.")
"""Methods whose calls a person can see: messages, edits, streams, deletions, views."""


def _plain(value: Any) -> str:
    """The text of a text object (or a bare string)."""
    if isinstance(value, Mapping):
        return str(value.get("text") or value.get("alt_text") or "")
    return str(value or "")


def _element(element: Mapping[str, Any]) -> str:
    kind = element.get("type")
    if kind in {"button", "static_select", "overflow", "datepicker", "users_select"}:
        label = _plain(element.get("text") or element.get("placeholder")) or str(kind)
        return f"[{label}]"
    if kind == "image":
        return f"[image: {element.get('alt_text') or element.get('image_url')}]"
    return _plain(element)


def _block(block: Mapping[str, Any]) -> list[str]:
    kind = block.get("type")
    if kind == "divider":
        return ["---"]
    if kind in {"actions", "context"}:
        shown = [_element(e) for e in block.get("elements", [])]
        return [(" " if kind == "actions" else " · ").join(s for s in shown if s)]
    if kind == "image":
        return [f"[image: {block.get('alt_text') or block.get('image_url')}]"]
    if kind == "header":
        return [f"# {_plain(block.get('text'))}"]
    lines = [_plain(block.get("text"))] if block.get("text") else []
    lines += [_plain(f) for f in block.get("fields", [])]
    if isinstance(block.get("accessory"), Mapping):
        lines.append(_element(block["accessory"]))
    if kind in {"rich_text", "input"} and not lines:
        lines.append(json.dumps(block, ensure_ascii=False))
    return lines


def visible(blocks: Sequence[Mapping[str, Any]], fallback: str) -> str:
    """Blocks flattened to what Slack shows; the notification `text` when there are none."""
    lines = [line for block in blocks for line in _block(block)]
    return html.unescape("\n".join(lines) if lines else fallback)


def _view(call: Call) -> list[Mapping[str, Any]]:
    raw = call.args.get("view") or {}
    view = json.loads(raw) if isinstance(raw, str) else raw
    return list(view.get("blocks", []))


def _value(call: Call, label: str) -> str | None:
    """The value of the first button labelled `label` on the message."""
    for block in call.blocks:
        for element in block.get("elements", []) if block["type"] == "actions" else []:
            if element.get("type") == "button" and element["text"]["text"] == label:
                return str(element["value"])
    return None


@dataclass
class SlackTranscript:
    """Drives a `SlackRig` as people would and writes down what they see."""

    rig: SlackRig
    lines: list[str] = field(default_factory=list)
    _read: int = 0
    _names: dict[str, str] = field(default_factory=dict)

    def _name(self, ts: str) -> str:
        """Message timestamps become m1, m2, … in order of appearance."""
        return self._names.setdefault(ts, f"m{len(self._names) + 1}")

    def _entry(self, call: Call) -> str:
        args = call.args
        where = f"#{args.get('channel') or args.get('channel_id') or ''}"
        if args.get("thread_ts"):
            where += f" (thread {self._name(str(args['thread_ts']))})"
        method = call.method
        if method == "views.publish":
            head = f"App Home of {args.get('user_id')}:"
            return f"{head}\n{visible(_view(call), '')}"
        blocks = call.blocks
        text = visible(blocks, str(args.get("text") or args.get("markdown_text") or ""))
        if method == "chat.postMessage":
            head = f"post {self._name(call.ts)} {where}:"
        elif method == "chat.postEphemeral":
            message = str(call.answer.get("message_ts") or "")
            head = f"post {self._name(message)} {where} (only {args.get('user')} sees):"
        elif method == "chat.update":
            head = f"edit {self._name(call.ts)}:"
        elif method == "chat.delete":
            return f"delete {self._name(call.ts)}"
        else:
            head = f"{method} {where}:"
        return f"{head}\n{text}"

    def _catch_up(self) -> None:
        calls = self.rig.slack.calls
        for call in calls[self._read :]:
            if call.method.startswith(SHOWN):
                self.lines.append(self._entry(call))
        self._read = len(calls)

    async def _quiet(self) -> None:
        await until_quiet(self.rig.services, self.rig.settle, lambda: len(self.rig.slack.calls))
        self._catch_up()

    def _person(self, said: str) -> None:
        self._catch_up()
        self.lines.append(f"> {said}")

    async def dm(self, text: str, *, user: str = "U0ALICE") -> None:
        self._person(f"{user} in their DM: {text}")
        await self.rig.event(dm(text, user=user, channel=f"D{user[1:]}"))
        await self._quiet()

    async def mention(self, text: str, *, user: str = "U0ALICE", channel: str = "C0PLANS") -> str:
        """An @-mention in a channel; returns its ts (the thread the bot answers in)."""
        event = mention(text, user=user, channel=channel)
        self._name(str(event["ts"]))
        self._person(f"{user} in #{channel} ({self._name(str(event['ts']))}): @concierge {text}")
        await self.rig.event(event)
        await self._quiet()
        return str(event["ts"])

    async def in_thread(
        self, text: str, thread: str, *, user: str = "U0ALICE", channel: str = "C0PLANS"
    ) -> None:
        self._person(f"{user} in #{channel} (thread {self._name(thread)}): {text}")
        await self.rig.event(channel_message(text, user=user, channel=channel, thread_ts=thread))
        await self._quiet()

    async def command(self, text: str, *, user: str = "U0ALICE") -> None:
        """`/concierge <text>`; Slack shows the direct answer to the typist only."""
        self._person(f"{user}: /concierge {text}")
        answer = await self.rig.command(text, user=user)
        body = answer.json() if answer.content else {}
        if body.get("text"):
            self.lines.append(f"answer (only {user} sees):\n{body['text']}")
        await self._quiet()

    async def home(self, *, user: str = "U0ALICE") -> None:
        self._person(f"{user} opens the App Home")
        event = {"type": "app_home_opened", "user": user, "channel": f"D{user[1:]}", "tab": "home"}
        await self.rig.event(event)
        await self._quiet()

    def _showing(self, label: str, on: str | None, stale: bool) -> Call:
        """The newest message (or message `on`, "m2") whose latest version carries a button
        `label`; with `stale`, any version a slow screen may still show."""
        versions = self.rig.slack.of("chat.postMessage", "chat.update")
        shown = versions if stale else list({c.ts: c for c in versions}.values())
        found = [
            c for c in shown if _value(c, label) is not None and on in (None, self._names.get(c.ts))
        ]
        assert found, f"no message shows [{label}]"
        return max(found, key=lambda c: c.at)

    async def press(
        self, label: str, *, on: str | None = None, user: str = "U0ALICE", stale: bool = False
    ) -> None:
        """Press a button as `user`; `stale` presses one the message no longer shows (a
        double click lands on the old version before Slack redraws it)."""
        shown = self._showing(label, on, stale)
        posted = next(c for c in self.rig.slack.posts if c.ts == shown.ts)
        channel, thread = str(posted.args["channel"]), posted.args.get("thread_ts")
        again = " again" if stale else ""
        self._person(f"{user} presses [{label}] on {self._name(shown.ts)}{again}")
        action = block_action(
            str(_value(shown, label)),
            channel=channel,
            message_ts=shown.ts,
            thread_ts=str(thread) if thread else None,
            user=user,
        )
        await self.rig.interaction(action)
        await self._quiet()

    def text(self) -> str:
        self._catch_up()
        return normalise("\n\n".join(self.lines))
