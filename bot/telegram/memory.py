"""What the Telegram front-end keeps in process memory, bounded (least recently used entries
go first). What every process must share (posted messages, chat states, reply anchors, button
values) is in the database instead: `bot.telegram.records`, `bot.telegram.callbacks`.

- `CallbackEntry`/`CallbackStore`: the value behind each inline button. Telegram's
  `callback_data` holds at most 64 bytes and a custom webhook skips PTB's arbitrary callback
  data, so each button carries a random 128-bit token and the value stays on our side, tied
  to its chat and to the key of the reply it sits on.
- `Bounded`: people's display names (for mentions; personal data, never stored).
- `RecentIds`: updates answered outside the manager.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Protocol, TypeVar

from cachetools import LRUCache

DEFAULT_CAPACITY = 50_000

K = TypeVar("K")
V = TypeVar("V")


class Bounded(LRUCache[K, V]):
    """cachetools' `LRUCache` (least recently used entries go past `capacity`), with the
    `put` its users call."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        super().__init__(maxsize=capacity)

    def put(self, key: K, value: V) -> None:
        self[key] = value


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
