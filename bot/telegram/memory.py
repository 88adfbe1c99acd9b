"""What the Telegram front-end remembers. Everything here is bounded (least recently used
entries go first) and lives in memory, except what a `CallbackStore` keeps.

- `CallbackStore`: the value behind each inline button. Telegram's `callback_data` holds at
  most 64 bytes and a custom webhook skips PTB's arbitrary callback data, so each button
  carries a random 128-bit token and the value stays here, tied to its chat and to the key
  of the reply it sits on. `MemoryCallbackStore` forgets on restart (an old button then says
  it is no longer active); a database-backed store can replace it without other changes.
- `Posted`/`MessageIndex`: which message shows the reply posted under a `Reply.key`.
- `ChatBook`: chats that blocked or removed the bot (inactive), chats migrated to a
  supergroup, people's display names (for mentions), and the last message the bot answered
  in each conversation (later results reply to it).
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from conversations.types import ConversationAddress

DEFAULT_CAPACITY = 50_000
CALLBACK_CAPACITY = 200_000

K = TypeVar("K")
V = TypeVar("V")


class Bounded(Generic[K, V]):
    """A dict that drops its least recently used entries past `capacity`."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._items: OrderedDict[K, V] = OrderedDict()
        self._capacity = capacity

    def get(self, key: K) -> V | None:
        found = self._items.get(key)
        if found is not None:
            self._items.move_to_end(key)
        return found

    def put(self, key: K, value: V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self._capacity:
            self._items.popitem(last=False)

    def pop(self, key: K) -> V | None:
        return self._items.pop(key, None)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)


# ---- buttons ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallbackEntry:
    """A button's value, the chat it was posted in, and the `Reply.key` of its message."""

    value: str
    chat_id: str
    reply_key: str | None = None


def new_callback_token() -> str:
    """22 URL-safe characters (128 random bits): unguessable and well under 64 bytes."""
    return secrets.token_urlsafe(16)


class CallbackStore(Protocol):
    """Where button values live between posting a keyboard and a click on it."""

    async def save(self, token: str, entry: CallbackEntry) -> None: ...

    async def load(self, token: str) -> CallbackEntry | None: ...


class MemoryCallbackStore:
    """The default `CallbackStore`: bounded, per process, lost on restart."""

    def __init__(self, capacity: int = CALLBACK_CAPACITY) -> None:
        self._entries: Bounded[str, CallbackEntry] = Bounded(capacity)

    async def save(self, token: str, entry: CallbackEntry) -> None:
        self._entries.put(token, entry)

    async def load(self, token: str) -> CallbackEntry | None:
        return self._entries.get(token)


# ---- messages and chats -------------------------------------------------------------------


@dataclass(frozen=True)
class Posted:
    """A message the bot posted; `photo` says whether it has a caption rather than a text."""

    chat_id: int
    message_id: int
    photo: bool = False


class MessageIndex:
    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._items: Bounded[tuple[str, str], Posted] = Bounded(capacity)

    def get(self, address: ConversationAddress, key: str) -> Posted | None:
        return self._items.get((address.key, key))

    def put(self, address: ConversationAddress, key: str, posted: Posted) -> None:
        self._items.put((address.key, key), posted)


class ChatBook:
    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._inactive: Bounded[str, bool] = Bounded(capacity)
        self._migrated: Bounded[str, int] = Bounded(capacity)
        self._names: Bounded[str, str] = Bounded(capacity)
        self._anchors: Bounded[str, int] = Bounded(capacity)

    # inactive chats: the bot was blocked, kicked or removed
    def deactivate(self, chat_id: str) -> None:
        self._inactive.put(chat_id, True)

    def activate(self, chat_id: str) -> None:
        self._inactive.pop(chat_id)

    def is_inactive(self, chat_id: str) -> bool:
        return chat_id in self._inactive

    # a group that became a supergroup has a new id
    def migrate(self, old_chat_id: str, new_chat_id: int) -> None:
        self._migrated.put(old_chat_id, new_chat_id)

    def current_id(self, chat_id: str) -> int:
        return self._migrated.get(chat_id) or int(chat_id)

    # display names, for mentions
    def learn_name(self, user_id: str, name: str | None) -> None:
        if name:
            self._names.put(user_id, name)

    def name(self, user_id: str) -> str | None:
        return self._names.get(user_id)

    # the message the bot last answered in a conversation
    def set_anchor(self, address: ConversationAddress, message_id: int) -> None:
        self._anchors.put(address.key, message_id)

    def anchor(self, address: ConversationAddress) -> int | None:
        return self._anchors.get(address.key)


class RecentIds:
    """Update ids answered outside the manager (settings, hints), so a redelivery of such an
    update does not answer twice within the process's memory."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._seen: Bounded[str, bool] = Bounded(capacity)

    def first(self, key: str) -> bool:
        if key in self._seen:
            return False
        self._seen.put(key, True)
        return True
