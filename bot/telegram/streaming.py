"""`TelegramDraftStream`: the model's answer growing in a private chat as it is written.

Bot API drafts (`sendMessageDraft`) are a preview that notifies nobody and lasts a short
while; the answer itself is then sent once, as an ordinary message (the one notification).
Drafts go out at most every `ReplyPolicy.draft_interval_s`, never one per chunk, and the
latest text always makes it into the next draft. Groups get no drafts (the Bot API allows
them in private chats only): there the answer arrives whole.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import ExtBot

from bot.telegram.render import format_text, split_text

log = logging.getLogger(__name__)

_draft_ids = itertools.count(int(time.time()) % 1_000_000 * 1000 + 1)


class TelegramDraftStream:
    """One answer's drafts in one private chat, then the answer sent by `finish`."""

    def __init__(
        self,
        bot: ExtBot[Any],
        *,
        chat_id: int,
        thread_id: int | None,
        interval_s: float,
        finish: Callable[[str], Awaitable[None]],
    ) -> None:
        self._bot = bot
        self._chat_id = chat_id
        self._thread_id = thread_id
        self._interval_s = interval_s
        self._finish = finish
        self._draft_id = next(_draft_ids)  # one id per answer: Telegram animates its changes
        self._text = ""
        self._shown = ""
        self._last_sent = float("-inf")
        self._flusher: asyncio.Task[None] | None = None
        self._failed = False

    async def append(self, delta: str) -> None:
        self._text += delta
        if self._failed or (self._flusher is not None and not self._flusher.done()):
            return  # the waiting flush sends the newest text when it is due
        self._flusher = asyncio.get_running_loop().create_task(
            self._flush_when_due(), name="telegram-draft"
        )

    async def close(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        if self._text.strip():
            await self._finish(self._text.strip())

    async def _flush_when_due(self) -> None:
        wait = self._last_sent + self._interval_s - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        text = self._text.strip()
        if not text or text == self._shown:
            return
        # The part being written: a long answer becomes several messages in the end.
        html = format_text(split_text(text)[-1])
        self._last_sent = time.monotonic()
        try:
            await self._bot.send_message_draft(
                self._chat_id,
                self._draft_id,
                html,
                message_thread_id=self._thread_id,
                parse_mode=ParseMode.HTML,
            )
            self._shown = text
        except TelegramError as error:
            self._failed = True  # the answer still arrives whole at the end
            log.info("drafts in %s not shown: %s", self._chat_id, error)
