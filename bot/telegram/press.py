"""The one answer a Telegram button press gets (`answerCallbackQuery`).

A press refused or already settled ("Only the person who asked…") is told to the presser
alone, as a pop-up on their screen (`show_alert`), instead of a message in the group. Any
other press gets an empty answer — which stops the button's spinner — as soon as its work
is done, or after `QUIET_S` if it takes longer (Telegram wants an answer promptly).
"""

from __future__ import annotations

import asyncio
import contextlib

from telegram import CallbackQuery
from telegram.error import TelegramError

QUIET_S = 1.5
ALERT_LIMIT = 200
"""Telegram's limit on an answer's text."""


class PressAnswer:
    def __init__(self, query: CallbackQuery) -> None:
        self._query = query
        self._answered = False

    async def alert(self, user_id: str, text: str) -> bool:
        """Show `text` to the presser as a pop-up; False when it is for someone else, the
        press was answered already or the text is too long for one (the caller then says
        it another way)."""
        if self._answered or len(text) > ALERT_LIMIT or user_id != str(self._query.from_user.id):
            return False
        self._answered = True
        with contextlib.suppress(TelegramError):
            await self._query.answer(text, show_alert=True)
        return True

    async def quietly(self) -> None:
        """The empty answer, unless the press was answered already."""
        if self._answered:
            return
        self._answered = True
        with contextlib.suppress(TelegramError):
            await self._query.answer()

    async def quietly_after(self, seconds: float = QUIET_S) -> None:
        await asyncio.sleep(seconds)
        await self.quietly()
