"""One replier at a time posts the message under a key, per conversation, in this process.

A search's status line is posted by the turn that started the search, and by the job's own
replier as soon as the runner takes the job: both look for a line recorded under the job's
key, find none while the other's post is still on its way, and both post. Holding this
around find-post-record makes the second wait and find the first one's line.
"""

from __future__ import annotations

import contextlib
from contextlib import AbstractAsyncContextManager

from conversations.locks import KeyedLocks
from conversations.types import ConversationAddress


class PostingLocks:
    def __init__(self) -> None:
        self._locks = KeyedLocks()

    def hold(
        self, address: ConversationAddress, key: str | None
    ) -> AbstractAsyncContextManager[None]:
        """Held while the message under `key` is found, posted or edited, and recorded; a
        message without a key is never looked for, so it needs nothing."""
        if not key:
            return contextlib.nullcontext()
        return self._locks.hold(f"{address.key}\n{key}")
