"""What the Slack front-end remembers in memory: bounded, so a busy workspace cannot grow it.

- `MessageIndex`: which Slack message (channel, ts) shows the reply posted under a `Reply.key`,
  so a later reply with the same key (an approval that became "confirmed") replaces it.
- `ThreadBook`: threads the bot takes part in, so follow-ups there need no new mention.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from conversations.types import ConversationAddress

DEFAULT_CAPACITY = 50_000


@dataclass(frozen=True)
class Posted:
    channel: str
    ts: str


class MessageIndex:
    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._items: OrderedDict[tuple[str, str], Posted] = OrderedDict()
        self._capacity = capacity

    def get(self, address: ConversationAddress, key: str) -> Posted | None:
        found = self._items.get((address.key, key))
        if found is not None:
            self._items.move_to_end((address.key, key))
        return found

    def put(self, address: ConversationAddress, key: str, posted: Posted) -> None:
        self._items[(address.key, key)] = posted
        self._items.move_to_end((address.key, key))
        while len(self._items) > self._capacity:
            self._items.popitem(last=False)


class ThreadBook:
    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._threads: OrderedDict[str, None] = OrderedDict()
        self._capacity = capacity

    def join(self, address: ConversationAddress) -> None:
        if not address.thread_id:
            return
        self._threads[address.key] = None
        self._threads.move_to_end(address.key)
        while len(self._threads) > self._capacity:
            self._threads.popitem(last=False)

    def knows(self, address: ConversationAddress) -> bool:
        return address.key in self._threads
