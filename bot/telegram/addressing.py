"""Where a Telegram update belongs, who sent it, and whether the bot was spoken to.

Addresses: platform `telegram`; a chat is its own workspace, so `workspace_id` and
`chat_id` are both the chat id (a private chat's id is the person's user id; a group's is
negative). A forum topic is its own conversation: `thread_id` is its `message_thread_id`;
everything else (a private chat, a group, a forum's General topic) has thread `""`.

Groups and supergroups: the bot answers commands, @mentions of itself (or a text mention of
its user) and replies to its own messages; other chatter is ignored. Private chats: all.
"""

from __future__ import annotations

import re

from telegram import Chat, Message, MessageEntity, User
from telegram.constants import ChatType
from telegram.ext.filters import MessageFilter

from conversations.types import ConversationAddress, Sender

PLATFORM = "telegram"

COMMANDS: tuple[tuple[str, str], ...] = (
    ("start", "Start talking to the concierge"),
    ("help", "What I can do"),
    ("search", "Find things to do, e.g. /search jazz in Brooklyn"),
    ("near", "Ideas near a place, e.g. /near Williamsburg, or share a location"),
    ("plan", "Plan an outing with this group, e.g. /plan live music Friday under $40"),
    ("orders", "Your bookings"),
    ("status", "What I'm working on for you"),
    ("settings", "How I am set up in this chat"),
)
COMMAND_NAMES = tuple(name for name, _ in COMMANDS)


def event_id(bot_id: int, update_id: int) -> str:
    """The dedupe key of an update: update ids are per bot, so the bot id is part of it."""
    return f"{bot_id}:{update_id}"


def is_group(chat: Chat) -> bool:
    return chat.type in (ChatType.GROUP, ChatType.SUPERGROUP)


def thread_of(message: Message) -> str:
    if message.is_topic_message and message.message_thread_id:
        return str(message.message_thread_id)
    return ""


def address_of(message: Message) -> ConversationAddress:
    chat = str(message.chat.id)
    return ConversationAddress(PLATFORM, chat, chat, thread_of(message))


def chat_address(chat_id: int) -> ConversationAddress:
    chat = str(chat_id)
    return ConversationAddress(PLATFORM, chat, chat, "")


def sender_of(user: User) -> Sender:
    return Sender(str(user.id), user.full_name or user.username or None, user.language_code or None)


def command_of(message: Message) -> tuple[str, str] | None:
    """`/search@ConciergeBot jazz in Brooklyn` → ("search", "jazz in Brooklyn")."""
    text = message.text or ""
    for entity in message.entities:
        if entity.type == MessageEntity.BOT_COMMAND and entity.offset == 0:
            word = text[: entity.length]
            return word[1:].split("@", 1)[0].lower(), text[entity.length :].strip()
    return None


def mentions_bot(message: Message, bot: User) -> bool:
    username = (bot.username or "").lower()
    for entity, value in message.parse_entities(
        [MessageEntity.MENTION, MessageEntity.TEXT_MENTION]
    ).items():
        if entity.type == MessageEntity.TEXT_MENTION and entity.user and entity.user.id == bot.id:
            return True
        if entity.type == MessageEntity.MENTION and username and value.lower() == f"@{username}":
            return True
    return False


def replies_to_bot(message: Message, bot: User) -> bool:
    """A reply to one of the bot's own messages (a forum topic's messages all "reply" to the
    topic's first service message, which is not a reply to the bot)."""
    original = message.reply_to_message
    if original is None or original.forum_topic_created is not None:
        return False
    return original.from_user is not None and original.from_user.id == bot.id


def without_mention(text: str, bot: User) -> str:
    """The message minus the bot's @name, so "@ConciergeBot search jazz" reads "search jazz"."""
    if not bot.username:
        return text.strip()
    stripped = re.sub(rf"@{re.escape(bot.username)}\b", " ", text, flags=re.IGNORECASE)
    return re.sub(r"[ \t]+", " ", stripped).strip()


class SpokenTo(MessageFilter):
    """Group messages meant for the bot: an @mention of it or a reply to its message."""

    def filter(self, message: Message) -> bool:
        me = message.get_bot().bot
        return mentions_bot(message, me) or replies_to_bot(message, me)
