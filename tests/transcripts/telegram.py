"""Telegram sessions as a person reads them: what people do, then every message the bot
sent, edited or deleted and every answer to a button press, with HTML reduced to its text
and inline keyboards drawn as rows of [Label]."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tests.bot.telegram.fake_telegram import Call
from tests.bot.telegram.harness import ALICE, TelegramRig, callback_query, message, update
from tests.transcripts.normalise import normalise
from tests.transcripts.quiet import until_quiet

BACKGROUND = ("getUpdates", "sendChatAction")
"""Calls a person does not see, made all the time (polling, the typing indicator)."""
_SET_UP = {"getMe", "setMyCommands", "setWebhook", "deleteWebhook"}
"""What the bot asks Telegram once at start-up."""
_KINDS = {"sendMessage": "message", "sendMediaGroup": "album", "sendMessageDraft": "draft"}
_VERBS = (("edit", "edit"), ("delete", "delete"))
_TAG = re.compile(r"<[^>]+>")


def plain(markup: str) -> str:
    """Telegram HTML as shown: tags dropped, entities decoded."""
    return html.unescape(_TAG.sub("", markup))


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) and value[:1] in "[{" else value


def keyboard(params: Mapping[str, Any]) -> list[str]:
    markup = _json(params.get("reply_markup"))
    if not isinstance(markup, Mapping):
        return []
    return [" ".join(f"[{b['text']}]" for b in row) for row in markup.get("inline_keyboard", [])]


def _labels(params: Mapping[str, Any]) -> dict[str, str]:
    """label → callback data of the message's buttons (the first of equal labels)."""
    markup = _json(params.get("reply_markup"))
    rows = markup.get("inline_keyboard", []) if isinstance(markup, Mapping) else []
    found: dict[str, str] = {}
    for row in rows:
        for button in row:
            if "callback_data" in button:
                found.setdefault(str(button["text"]), str(button["callback_data"]))
    return found


def _album(params: Mapping[str, Any]) -> list[str]:
    items = _json(params.get("media")) or []
    return [
        f"[{item.get('type')}: {item.get('media')}]"
        + (f" {plain(str(item['caption']))}" if item.get("caption") else "")
        for item in items
    ]


@dataclass
class TelegramTranscript:
    """Drives a polling `TelegramRig` as people would and writes down what they see."""

    rig: TelegramRig
    chats: Mapping[int, str]
    """How chats are called in the transcript ({1001: "Alice", GROUP: "the group"})."""
    lines: list[str] = field(default_factory=list)
    _read: int = 0
    _names: dict[tuple[int, int], str] = field(default_factory=dict)
    _buttons: dict[tuple[int, int], dict[str, str]] = field(default_factory=dict)
    _ever: dict[tuple[int, int], dict[str, str]] = field(default_factory=dict)

    def _name(self, chat: int, message_id: Any) -> str:
        """Message ids become m1, m2, … in order of appearance."""
        return self._names.setdefault((chat, int(message_id)), f"m{len(self._names) + 1}")

    def _where(self, call: Call) -> str:
        chat = call.chat_id or 0
        where = f"to {self.chats.get(chat, str(chat))}"
        if call.thread_id:
            where += f" (topic {call.thread_id})"
        if call.reply_to:
            where += f" ↩ {self._name(chat, call.reply_to)}"
        return where

    def _head(self, call: Call) -> str:
        params, method = call.params, call.method
        failed = "" if params.get("_ok") else " (refused)"
        chat = call.chat_id or 0
        if method.startswith("send"):
            kind = _KINDS.get(method, method.removeprefix("send").lower())
            target = self._name(chat, params["_message_id"]) if "_message_id" in params else "?"
            return f"{kind} {target} {self._where(call)}{failed}"
        verb = next((v for prefix, v in _VERBS if method.startswith(prefix)), method)
        if "message_id" in params:
            return f"{verb} {self._name(chat, params['message_id'])}{failed}"
        return f"{verb} {self._where(call)}{failed}"

    def _entry(self, call: Call) -> str:
        params, method = call.params, call.method
        if method == "answerCallbackQuery":
            alert = " as an alert" if str(params.get("show_alert")).lower() == "true" else ""
            answer = f": {params['text']}" if params.get("text") else " (silently)"
            return f"answer to the press{alert}{answer}"
        said = params.get("text") or params.get("caption")
        body = [plain(str(said))] if said else []
        if method == "sendMediaGroup":
            body += _album(params)
        elif params.get("photo"):
            body.insert(0, f"[photo: {params['photo']}]")
        if params.get("title") and params.get("address"):
            body.append(f"{params['title']}, {params['address']}")
        body += keyboard(params)
        chat = call.chat_id or 0
        shown = params.get("message_id") or params.get("_message_id")
        if shown is not None and method.startswith(("send", "edit")):
            key = (chat, int(shown))
            self._buttons[key] = _labels(params)
            self._ever[key] = _labels(params) | self._ever.get(key, {})
        head = self._head(call)
        return "\n".join([f"{head}:", *body]) if body else head

    def _catch_up(self) -> None:
        calls = self.rig.telegram.calls
        for call in calls[self._read :]:
            if call.method not in BACKGROUND and call.method not in _SET_UP:
                self.lines.append(self._entry(call))
        self._read = len(calls)

    def _seen(self) -> int:
        return sum(c.method not in BACKGROUND for c in self.rig.telegram.calls)

    async def _deliver(self, body: Mapping[str, Any]) -> None:
        """Hand an update to the polling loop; wait until it is taken and fully answered."""
        update_id = int(body["update_id"])
        self.rig.telegram.queue_update(body)
        await self.rig.telegram.wait_for(
            lambda: any(
                int(c.params.get("offset") or 0) > update_id
                for c in self.rig.telegram.called("getUpdates")
            )
        )
        await until_quiet(self.rig.services, self.rig.settle, self._seen)
        self._catch_up()

    def _person(self, said: str) -> None:
        self._catch_up()
        self.lines.append(f"> {said}")

    async def say(
        self, text: str, *, user: Mapping[str, Any] = ALICE, chat: int | None = None
    ) -> None:
        body = message(text, user=user, chat=chat)
        where = int(body["chat"]["id"])
        name = self._name(where, body["message_id"])
        self._person(
            f"{user['first_name']} in {self.chats.get(where, str(where))} ({name}): {text}"
        )
        await self._deliver(update(body))

    async def press(
        self,
        label: str,
        *,
        user: Mapping[str, Any] = ALICE,
        chat: int | None = None,
        on: str | None = None,
        stale: bool = False,
    ) -> None:
        """Press `label` on the newest message showing it (or on message `on`, "m3"); with
        `stale`, a button an earlier version showed (a double tap before the redraw)."""
        where = int(user["id"]) if chat is None else chat
        shown = [
            (key, labels[label])
            for key, labels in (self._ever if stale else self._buttons).items()
            if key[0] == where and label in labels and on in (None, self._names.get(key))
        ]
        assert shown, f"no message shows [{label}]"
        (chat_id, message_id), data = max(shown, key=lambda found: found[0][1])
        name = self._name(chat_id, message_id)
        again = " again" if stale else ""
        self._person(f"{user['first_name']} presses [{label}] on {name}{again}")
        await self._deliver(callback_query(data, on=message_id, chat=chat_id, user=user))

    def text(self) -> str:
        self._catch_up()
        return normalise("\n\n".join(self.lines))
