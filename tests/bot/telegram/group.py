"""What a test of a Telegram group reads and does: the bot's messages (and their edits) in a
chat, a member's mention of the bot, a press of an inline button."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tests.bot.telegram.fake_telegram import BOT_USERNAME, Call
from tests.bot.telegram.harness import ALICE, GROUP, TelegramRig, callback_query, message, update


def posted(rig: TelegramRig, words: str, chat: int = GROUP) -> list[Call]:
    """Messages sent to `chat`, and edits of them, whose text has `words`."""
    return [
        c
        for c in rig.telegram.calls
        if c.method in ("sendMessage", "editMessageText")
        and c.chat_id == chat
        and c.params.get("_ok")
        and words in c.text
    ]


async def wait_posted(
    rig: TelegramRig, words: str, chat: int = GROUP, count: int = 1
) -> list[Call]:
    await rig.telegram.wait_for(lambda: len(posted(rig, words, chat)) >= count, 20)
    return posted(rig, words, chat)


async def say(rig: TelegramRig, text: str, user: Mapping[str, Any] = ALICE) -> None:
    """`user` mentions the bot in the group."""
    await rig.deliver(update(message(f"@{BOT_USERNAME} {text}", user=user, chat=GROUP)))


def message_id(sent: Call) -> int:
    """The message a send posted (a text, a poll), or an edit changed."""
    posted = sent.method.startswith("send")
    return int(sent.params["_message_id"] if posted else sent.params["message_id"])


async def press(rig: TelegramRig, card: Call, label: str, user: Mapping[str, Any]) -> None:
    pressed = callback_query(card.callback_data(label), on=message_id(card), chat=GROUP, user=user)
    await rig.deliver(pressed)
