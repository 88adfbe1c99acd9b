"""What the Telegram front-end keeps in process memory, bounded (least recently used entries
go first). What every process must share (posted messages, chat states, reply anchors) is in
the database instead: `bot.telegram.records`.

- `CallbackStore`: the value behind each inline button. Telegram's `callback_data` holds at
  most 64 bytes and a custom webhook skips PTB's arbitrary callback data, so each button
  carries a random 128-bit token and the value stays on our side, tied to its chat and to the
  key of the reply it sits on. The front-end uses the database store
  (`bot.telegram.callbacks`); `MemoryCallbackStore` forgets on restart (an old button then
  says it is no longer active).
- `Bounded`: people's display names (for mentions; personal data, never stored) and the
  refresh throttle of status lines.
- `RecentIds`: updates answered outside the manager.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

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


# ---- answered updates ------------------------------------------------------------------


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
