"""What every Telegram replier of one front-end shares: the bot, the button store, the
records every process shares (`TelegramRecords`), and this process's own memory (display
names, the refresh throttle of status lines)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from telegram.ext import ExtBot

from bot.cadence import STATUS_EDIT_S, TELEGRAM_DRAFT_S, EditThrottle
from bot.posting import PostingLocks
from bot.telegram.memory import Bounded, CallbackStore
from bot.telegram.records import TelegramRecords
from conversations.types import ConversationAddress


@dataclass(frozen=True)
class ReplyPolicy:
    """Telegram's share of the one edit rule (`bot.cadence`), and how often "typing…" is
    renewed (Telegram shows it for 5 s)."""

    progress_min_interval_s: float = STATUS_EDIT_S
    draft_interval_s: float = TELEGRAM_DRAFT_S
    typing_interval_s: float = 4.5


@dataclass
class TelegramShared:
    """What every replier of one front-end shares: the records every process shares, and
    this process's display names and refresh throttle of status lines."""

    bot: ExtBot[Any]
    callbacks: CallbackStore
    records: TelegramRecords
    names: Bounded[str, str] = field(default_factory=Bounded)
    edits: EditThrottle = field(default_factory=EditThrottle)
    policy: ReplyPolicy = field(default_factory=ReplyPolicy)
    posting: PostingLocks = field(default_factory=PostingLocks)

    def learn_name(self, user_id: str, name: str | None) -> None:
        if name:
            self.names.put(user_id, name)

    def refresh_due(self, address: ConversationAddress, key: str, now: float) -> bool:
        """Whether the status line under `key` may be edited now (and note that it is)."""
        return self.edits.due((address.key, key), now, self.policy.progress_min_interval_s)
