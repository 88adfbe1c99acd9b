"""What every Telegram replier of every `serve` process must agree on, kept in the database
so a restart or a second process sees it too:

- which message shows what was posted under a `Reply.key`, a reply or a status line, and
  whether it is a photo (its caption is edited), a text, or a status line (a reply under its
  key is posted anew and the line deleted; only a status line is refreshed) (`posted_message`);
- chats that blocked or removed the bot (until someone writes there again), groups that
  became a supergroup with a new id, and the message the bot last answered in each
  conversation, which later results reply to (`chat_note`);
- each native poll the bot posted (`chat_note`, by poll id, and by its message): a
  `poll_answer` names only the poll, so where it was posted, the reply key it shows and
  what each answer presses must be found by any process, after a restart too.

People's display names (for mentions) are personal data and stay in memory only.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, replace

from sqlalchemy.exc import SQLAlchemyError

from conversations.posted import find_posted, save_posted
from conversations.types import ConversationAddress
from storage import Database, repositories

log = logging.getLogger(__name__)

PLATFORM = "telegram"
INACTIVE = "inactive"
MIGRATED = "migrated_to"
ANCHOR = "anchor"
PHOTO = "photo"
TEXT = "text"
STATUS = "status"
POLL = "poll"
DB_ERRORS = (SQLAlchemyError, OSError)
"""What a failing database raises: a record not read or written is logged, not fatal."""


@dataclass(frozen=True)
class Posted:
    """A message the bot posted; `photo` says whether it has a caption rather than a text,
    `status` whether it is a status line of long work (a text), `poll` whether it is a
    native poll (only stopped, or its keyboard changed)."""

    chat_id: int
    message_id: int
    photo: bool = False
    status: bool = False
    poll: bool = False


@dataclass(frozen=True)
class PollRecord:
    """A native poll the bot posted: its conversation, the reply key it shows, the button
    value each option presses (`retract` for a vote taken back), its message, and the
    buttons under it now (`keyboard`, so an unchanged keyboard is not edited)."""

    address: ConversationAddress
    reply_key: str
    options: tuple[str, ...]
    retract: str
    chat_id: int
    message_id: int
    keyboard: str = ""

    def value_of(self, option_ids: Sequence[int]) -> str | None:
        """What an answer presses: its one option's value, `retract` for none, else None."""
        if not option_ids:
            return self.retract or None
        index = option_ids[0]
        return self.options[index] if 0 <= index < len(self.options) else None

    def to_json(self) -> str:
        where = self.address
        return json.dumps(
            {
                "address": [where.platform, where.workspace_id, where.chat_id, where.thread_id],
                "reply_key": self.reply_key,
                "options": list(self.options),
                "retract": self.retract,
                "chat_id": self.chat_id,
                "message_id": self.message_id,
                "keyboard": self.keyboard,
            }
        )

    @classmethod
    def from_json(cls, raw: str) -> PollRecord | None:
        try:
            data = json.loads(raw)
            platform, workspace, chat, thread = (str(p) for p in data["address"])
            return cls(
                ConversationAddress(platform, workspace, chat, thread),
                str(data["reply_key"]),
                tuple(str(o) for o in data["options"]),
                str(data["retract"]),
                int(data["chat_id"]),
                int(data["message_id"]),
                str(data.get("keyboard") or ""),
            )
        except (ValueError, KeyError, TypeError):
            log.warning("unreadable Telegram poll record")
            return None


@dataclass(frozen=True)
class ChatState:
    """One conversation's chat as a replier needs it, read once per replier."""

    inactive: bool
    current_id: int
    """The chat's id now (a group that became a supergroup has a new one)."""
    anchor: int | None
    """The message the bot last answered in this conversation."""


async def quietly(write: Awaitable[None]) -> None:
    """A record for later replies: if the database fails, they post anew; the turn goes on."""
    try:
        await write
    except DB_ERRORS as error:
        log.warning("Telegram record not stored: %s", type(error).__name__)


def _shape(posted: Posted) -> str:
    if posted.poll:
        return POLL
    return PHOTO if posted.photo else STATUS if posted.status else TEXT


def _poll_scope(poll_id: str) -> str:
    return f"poll:{poll_id}"


def _poll_message_scope(chat_id: int, message_id: int) -> str:
    return f"poll-message:{chat_id}:{message_id}"


def _number(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


class TelegramRecords:
    def __init__(self, db: Database) -> None:
        self._db = db

    # ---- posted messages ---------------------------------------------------------------

    async def find(self, address: ConversationAddress, key: str) -> Posted | None:
        row = await find_posted(self._db, address, key)
        if row is None:
            return None
        return Posted(
            int(row.channel),
            int(row.message_id),
            photo=row.shape == PHOTO,
            status=row.shape == STATUS,
            poll=row.shape == POLL,
        )

    async def save(
        self, address: ConversationAddress, key: str, posted: Posted, *, if_missing: bool = False
    ) -> None:
        """Remember that `posted` shows `key` (unless `if_missing` and something already does)."""
        await save_posted(
            self._db,
            address,
            key,
            channel=str(posted.chat_id),
            message_id=str(posted.message_id),
            shape=_shape(posted),
            if_missing=if_missing,
        )

    # ---- polls -------------------------------------------------------------------------

    async def save_poll(self, poll_id: str, record: PollRecord) -> None:
        """Remember the poll, by its id (for its answers) and by its message (for edits)."""
        async with self._db.session() as session:
            await repositories.set_chat_note(
                session,
                platform=PLATFORM,
                scope=_poll_scope(poll_id),
                name=POLL,
                value=record.to_json(),
            )
            await repositories.set_chat_note(
                session,
                platform=PLATFORM,
                scope=_poll_message_scope(record.chat_id, record.message_id),
                name=POLL,
                value=poll_id,
            )

    async def find_poll(self, poll_id: str) -> PollRecord | None:
        async with self._db.session(read_only=True) as session:
            raw = await repositories.get_chat_note(
                session, platform=PLATFORM, scope=_poll_scope(poll_id), name=POLL
            )
        return PollRecord.from_json(raw) if raw is not None else None

    async def poll_at(self, posted: Posted) -> tuple[str, PollRecord] | None:
        """The poll `posted` shows, with its id."""
        async with self._db.session(read_only=True) as session:
            poll_id = await repositories.get_chat_note(
                session,
                platform=PLATFORM,
                scope=_poll_message_scope(posted.chat_id, posted.message_id),
                name=POLL,
            )
        record = await self.find_poll(poll_id) if poll_id is not None else None
        return (poll_id, record) if poll_id is not None and record is not None else None

    async def poll_keyboard(self, poll_id: str, record: PollRecord, keyboard: str) -> None:
        await self.save_poll(poll_id, replace(record, keyboard=keyboard))

    # ---- chats -------------------------------------------------------------------------

    async def chat_state(self, address: ConversationAddress) -> ChatState:
        async with self._db.session(read_only=True) as session:
            inactive = await repositories.get_chat_note(
                session, platform=PLATFORM, scope=address.chat_id, name=INACTIVE
            )
            migrated = await repositories.get_chat_note(
                session, platform=PLATFORM, scope=address.chat_id, name=MIGRATED
            )
            anchor = await repositories.get_chat_note(
                session, platform=PLATFORM, scope=address.key, name=ANCHOR
            )
        return ChatState(
            inactive=inactive is not None,
            current_id=_number(migrated) or int(address.chat_id),
            anchor=_number(anchor),
        )

    async def note_turn(
        self,
        address: ConversationAddress,
        *,
        reply_to: int | None = None,
        shown: tuple[str, Posted] | None = None,
    ) -> None:
        """What every process must know once someone wrote here (after the 200, not on its
        path): the chat is active, later results reply to `reply_to`, and the message of a
        pressed button shows its reply key (if posted before messages were recorded)."""
        await quietly(self.activate(address.chat_id))
        if reply_to is not None:
            await quietly(self.set_anchor(address, reply_to))
        if shown is not None:
            key, posted = shown
            await quietly(self.save(address, key, posted, if_missing=True))

    async def deactivate(self, chat_id: str) -> None:
        await self._set(chat_id, INACTIVE, "1")

    async def activate(self, chat_id: str) -> None:
        """Someone wrote in the chat (or added the bot back): send to it again. A read first,
        since nearly every chat is active and a write would queue behind others."""
        async with self._db.session(read_only=True) as session:
            note = await repositories.get_chat_note(
                session, platform=PLATFORM, scope=chat_id, name=INACTIVE
            )
        if note is not None:
            async with self._db.session() as session:
                await repositories.delete_chat_note(
                    session, platform=PLATFORM, scope=chat_id, name=INACTIVE
                )

    async def migrate(self, old_chat_id: str, new_chat_id: int) -> None:
        await self._set(old_chat_id, MIGRATED, str(new_chat_id))

    async def set_anchor(self, address: ConversationAddress, message_id: int) -> None:
        await self._set(address.key, ANCHOR, str(message_id))

    async def _set(self, scope: str, name: str, value: str) -> None:
        async with self._db.session() as session:
            await repositories.set_chat_note(
                session, platform=PLATFORM, scope=scope, name=name, value=value
            )
