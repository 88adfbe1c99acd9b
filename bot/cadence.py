"""How often a chat sees a message change: the one rule both front-ends follow.

An edit notifies nobody, but the platforms cap it: Slack's `chat.update` is Tier 3 (about 50
a minute per workspace), Telegram allows about one edit a second per chat and 20 messages a
minute in a group. So a status line ("⏳ Searching…") is edited at most every
`STATUS_EDIT_S` per message, in each process; an answer streamed as it is written grows at
most every `TELEGRAM_DRAFT_S` in Telegram (drafts), while Slack's native streaming sends it
in pieces of `SLACK_STREAM_CHARS` (slack_sdk buffers them). Sending a message is never
throttled here: a new message is an answer, and answers are one per request.
"""

from __future__ import annotations

from collections.abc import Hashable

from cachetools import LRUCache

STATUS_EDIT_S = 3.0
TELEGRAM_DRAFT_S = 2.0
SLACK_STREAM_CHARS = 200
EDITS_KEPT = 10_000
"""Messages whose last edit is remembered; an older one may be edited at once again."""


class EditThrottle:
    """When each message was last edited by this process, and whether the next edit is due."""

    def __init__(self, kept: int = EDITS_KEPT) -> None:
        self._last: LRUCache[Hashable, float] = LRUCache(maxsize=kept)

    def due(self, message: Hashable, now: float, every_s: float) -> bool:
        """Whether `message` may be edited at `now` (monotonic seconds); if so, it is noted."""
        last = self._last.get(message)
        if last is not None and now - last < every_s:
            return False
        self._last[message] = now
        return True
