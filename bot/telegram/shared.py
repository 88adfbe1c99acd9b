"""What every Telegram replier of one front-end shares: the bot, the button store, the
records every process shares (`TelegramRecords`), and this process's own memory (display
names, the refresh throttle of status lines)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from telegram.ext import ExtBot

from bot.telegram.memory import Bounded, CallbackStore
from bot.telegram.records import TelegramRecords
from conversations.types import ConversationAddress


@dataclass(frozen=True)
class ReplyPolicy:
    """How often a chat sees a message change: a status line is edited at most every
    `progress_min_interval_s` (`TelegramShared.refresh_due`, the one rule for edits), a draft
    of a streamed answer is sent at most every `draft_interval_s`, "typing…" is renewed every
    `typing_interval_s` (Telegram shows it for 5 s)."""

    progress_min_interval_s: float = 3.0
    draft_interval_s: float = 2.0
    typing_interval_s: float = 4.5


@dataclass
class TelegramShared:
    """What every replier of one front-end shares: the records every process shares, and
    this process's display names and refresh throttle of status lines."""

    bot: ExtBot[Any]
    callbacks: CallbackStore
    records: TelegramRecords
    names: Bounded[str, str] = field(default_factory=Bounded)
    refreshed: Bounded[tuple[str, str], float] = field(default_factory=Bounded)
    policy: ReplyPolicy = field(default_factory=ReplyPolicy)

    def learn_name(self, user_id: str, name: str | None) -> None:
        if name:
            self.names.put(user_id, name)

    def refresh_due(self, address: ConversationAddress, key: str, now: float) -> bool:
        """Whether the status line under `key` may be edited now (and note that it is)."""
        last = self.refreshed.get((address.key, key))
        if last is not None and now - last < self.policy.progress_min_interval_s:
            return False
        self.refreshed.put((address.key, key), now)
        return True
