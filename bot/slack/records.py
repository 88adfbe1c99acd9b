"""What every Slack replier of every `serve` process must agree on, kept in the database so
a restart or a second process sees it too:

- which message (channel, ts) shows what was posted under a `Reply.key`, be it a reply or a
  status line, so a later reply with that key replaces it in place (`posted_message`);
- which threads the bot takes part in, so follow-ups there need no new mention
  (`chat_note` "thread_member", scoped by the thread's address).

Memory holds only a bounded cache of threads known to take part: it may say "yes" without a
query, never a wrong "no" (a miss asks the database).
"""

from __future__ import annotations

from dataclasses import dataclass

from cachetools import LRUCache

from conversations.posted import find_posted, save_posted
from conversations.types import ConversationAddress
from storage import Database, repositories

PLATFORM = "slack"
THREAD_MEMBER = "thread_member"
CACHE_CAPACITY = 50_000


@dataclass(frozen=True)
class Posted:
    channel: str
    ts: str


def _in_a_channel_thread(address: ConversationAddress) -> bool:
    """Only channel threads need membership: every DM message is answered."""
    return bool(address.thread_id) and not address.chat_id.startswith("D")


class SlackRecords:
    def __init__(self, db: Database, capacity: int = CACHE_CAPACITY) -> None:
        self._db = db
        # address key → whether the database already has the note (False: noticed on the
        # ack path, to be written by the background work)
        self._threads: LRUCache[str, bool] = LRUCache(maxsize=capacity)

    # ---- posted messages ---------------------------------------------------------------

    async def find(self, address: ConversationAddress, key: str) -> Posted | None:
        row = await find_posted(self._db, address, key)
        return Posted(row.channel, row.message_id) if row is not None else None

    async def save(self, address: ConversationAddress, key: str, posted: Posted) -> None:
        await save_posted(self._db, address, key, channel=posted.channel, message_id=posted.ts)

    # ---- thread membership -------------------------------------------------------------

    def noticed(self, address: ConversationAddress) -> None:
        """The bot was mentioned in this thread: known here at once, without a write on the
        ack path; `join` (in the background work) stores it."""
        if _in_a_channel_thread(address) and address.key not in self._threads:
            self._cache(address.key, stored=False)

    async def takes_part(self, address: ConversationAddress) -> bool:
        if self._threads.get(address.key) is not None:  # a read marks it recently used
            return True
        async with self._db.session(read_only=True) as session:
            note = await repositories.get_chat_note(
                session, platform=PLATFORM, scope=address.key, name=THREAD_MEMBER
            )
        if note is not None:
            self._cache(address.key, stored=True)
        return note is not None

    async def join(self, address: ConversationAddress) -> None:
        """The bot posted or was mentioned in this thread: store it (once per process)."""
        if not _in_a_channel_thread(address) or self._threads.get(address.key):
            return
        async with self._db.session() as session:
            await repositories.set_chat_note(
                session, platform=PLATFORM, scope=address.key, name=THREAD_MEMBER, value="1"
            )
        self._cache(address.key, stored=True)

    def _cache(self, key: str, *, stored: bool) -> None:
        self._threads[key] = stored
