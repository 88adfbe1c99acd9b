"""`TelegramReplier`: the core's `Replier` for one Telegram conversation (a private chat, a
group, or one forum topic), answering one message.

- `send` posts the rendered reply in the conversation's topic, as a reply to the message it
  answers (`allow_sending_without_reply`, so a deleted original is no error); a reply whose
  `key` was posted before edits that message instead (an approval that became "confirmed").
- `progress` posts one status message per key and edits it in place, at most every
  `progress_min_interval_s`; when the work is done the line says so.
- `typing` shows "typing…" while the model works (Telegram shows it for 5 s per call).
- A chat that blocked or removed the bot (403) is marked inactive and skipped from then on;
  a group that became a supergroup is followed to its new id.

Flood limits and network errors are handled by the bot's rate limiter. What still fails is
logged; a turn's replier goes on, while the outlet's replier (`raise_errors`) raises
`TelegramDeliveryError`, so the outbox keeps the message and tries again later.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, NoReturn

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    ReplyKeyboardMarkup,
    ReplyParameters,
)
from telegram.constants import ChatAction
from telegram.error import BadRequest, ChatMigrated, Forbidden, TelegramError
from telegram.ext import ExtBot

from bot.telegram.memory import (
    CallbackEntry,
    CallbackStore,
    ChatBook,
    MessageIndex,
    Posted,
    new_callback_token,
)
from bot.telegram.render import TelegramMessage, render_reply, render_status
from conversations.replies import Button, Progress, Reply, TextStream
from conversations.types import ConversationAddress

log = logging.getLogger(__name__)

Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup


class TelegramDeliveryError(Exception):
    """A Bot API call failed after the rate limiter's retries."""


class _ChatInactive(Exception):
    """The chat blocked or removed the bot; nothing more is sent to it."""


@dataclass(frozen=True)
class ReplyPolicy:
    progress_min_interval_s: float = 3.0
    typing_interval_s: float = 4.5


@dataclass
class TelegramShared:
    """What every replier of one front-end shares."""

    bot: ExtBot[Any]
    callbacks: CallbackStore
    chats: ChatBook = field(default_factory=ChatBook)
    messages: MessageIndex = field(default_factory=MessageIndex)
    policy: ReplyPolicy = field(default_factory=ReplyPolicy)


@dataclass
class _Status:
    last_update: float
    posted: Posted | None = None


_STYLES = {"primary": "primary", "danger": "danger"}


class TelegramReplier:
    def __init__(
        self,
        shared: TelegramShared,
        address: ConversationAddress,
        *,
        reply_to: int | None = None,
        raise_errors: bool = False,
    ) -> None:
        self.address = address
        self._shared = shared
        self._reply_to = reply_to
        self._raise = raise_errors
        self._lock = asyncio.Lock()
        self._statuses: dict[str, _Status] = {}

    @property
    def group(self) -> bool:
        return self.address.chat_id.startswith("-")

    # ---- Replier -----------------------------------------------------------------------

    async def send(self, reply: Reply) -> None:
        async with self._lock:
            try:
                await self._send(reply)
            except _ChatInactive:
                log.info("not sending to inactive Telegram chat %s", self.address.chat_id)

    async def progress(self, update: Progress) -> None:
        async with self._lock:
            try:
                await self._progress(update)
            except _ChatInactive:
                return
            except TelegramDeliveryError as error:
                log.info("status line in %s not shown: %s", self.address.chat_id, error)

    async def stream(self) -> TextStream | None:
        return None  # one message per answer; the status line and "typing…" show progress

    # ---- extras for the front-end ------------------------------------------------------

    async def post_html(self, text: str, markup: Markup | None = None) -> None:
        """A message of our own (settings, hints), outside the core's replies."""
        async with self._lock:
            try:
                await self._post(TelegramMessage(text), markup)
            except _ChatInactive:
                return

    @contextlib.asynccontextmanager
    async def typing(self) -> AsyncIterator[None]:
        """Keep "typing…" showing until the block ends."""

        async def keep_typing() -> None:
            while True:
                if self._shared.chats.is_inactive(self.address.chat_id):
                    return
                with contextlib.suppress(TelegramError):
                    await self._shared.bot.send_chat_action(
                        self._chat_id(), ChatAction.TYPING, message_thread_id=self._thread()
                    )
                await asyncio.sleep(self._shared.policy.typing_interval_s)

        task = asyncio.get_running_loop().create_task(keep_typing(), name="telegram-typing")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # ---- sending -----------------------------------------------------------------------

    async def _send(self, reply: Reply) -> None:
        chats = self._shared.chats
        messages = render_reply(reply, chats.name, group=self.group)
        target = self._shared.messages.get(self.address, reply.key) if reply.key else None
        first: Posted | None = None
        for index, message in enumerate(messages):
            markup = await self._keyboard(message.keyboard, reply.key)
            posted: Posted | None = None
            if index == 0 and target is not None and target.photo == bool(message.photo):
                posted = await self._edit(target, message, markup)
            if posted is None:
                posted = await self._post(message, markup)
            if index == 0:
                first = posted
        if reply.key and first is not None:
            self._shared.messages.put(self.address, reply.key, first)

    async def _progress(self, update: Progress) -> None:
        now = time.monotonic()
        status = self._statuses.get(update.key)
        text = render_status(update)
        if update.done:
            self._statuses.pop(update.key, None)
            if status is not None and status.posted is not None:
                await self._edit(status.posted, TelegramMessage(text), None)
            return
        if status is None:
            status = _Status(last_update=now)
            self._statuses[update.key] = status
            status.posted = await self._post(TelegramMessage(text), None)
            return
        due = now - status.last_update >= self._shared.policy.progress_min_interval_s
        if status.posted is not None and due:
            status.last_update = now
            await self._edit(status.posted, TelegramMessage(text), None)

    async def _keyboard(
        self, rows: tuple[tuple[Button, ...], ...], reply_key: str | None
    ) -> InlineKeyboardMarkup | None:
        """Each button carries a fresh random token; its value stays on our side."""
        if not rows:
            return None
        keyboard = []
        for row in rows:
            buttons = []
            for button in row:
                token = new_callback_token()
                entry = CallbackEntry(button.value, self.address.chat_id, reply_key)
                await self._shared.callbacks.save(token, entry)
                buttons.append(
                    InlineKeyboardButton(
                        button.label, callback_data=token, style=_STYLES.get(button.style)
                    )
                )
            keyboard.append(buttons)
        return InlineKeyboardMarkup(keyboard)

    async def _post(self, message: TelegramMessage, markup: Markup | None) -> Posted | None:
        reply = (
            ReplyParameters(self._reply_to, allow_sending_without_reply=True)
            if self._reply_to
            else None
        )
        if message.venue is not None:
            venue = message.venue
            sent = await self._call(
                "sendVenue",
                lambda chat: self._shared.bot.send_venue(
                    chat,
                    latitude=venue.lat,
                    longitude=venue.lng,
                    title=venue.title[:200],
                    address=venue.address[:200],
                    message_thread_id=self._thread(),
                    reply_parameters=reply,
                ),
            )
            return Posted(sent.chat.id, sent.message_id) if sent is not None else None
        if message.photo:
            photo = message.photo
            try:
                sent = await self._call(
                    "sendPhoto",
                    lambda chat: self._shared.bot.send_photo(
                        chat,
                        photo,
                        caption=message.html,
                        message_thread_id=self._thread(),
                        reply_parameters=reply,
                        reply_markup=markup,
                    ),
                    fallback=True,
                )
            except _PhotoRefused:
                sent = None  # Telegram could not fetch the picture: the caption as a text
            if sent is not None:
                return Posted(sent.chat.id, sent.message_id, photo=True)
        sent = await self._call(
            "sendMessage",
            lambda chat: self._shared.bot.send_message(
                chat,
                message.html,
                message_thread_id=self._thread(),
                reply_parameters=reply,
                reply_markup=markup,
            ),
        )
        return Posted(sent.chat.id, sent.message_id) if sent is not None else None

    async def _edit(
        self, target: Posted, message: TelegramMessage, markup: InlineKeyboardMarkup | None
    ) -> Posted | None:
        """Replace `target`'s text (or caption); None when it cannot be edited any more."""
        bot = self._shared.bot
        try:
            if target.photo:
                await bot.edit_message_caption(
                    chat_id=target.chat_id,
                    message_id=target.message_id,
                    caption=message.html,
                    reply_markup=markup,
                )
            else:
                await bot.edit_message_text(
                    message.html,
                    chat_id=target.chat_id,
                    message_id=target.message_id,
                    reply_markup=markup,
                )
        except BadRequest as error:
            if "not modified" in error.message.lower():
                return target
            log.info("could not edit message %s (%s); posting anew", target.message_id, error)
            return None
        except Forbidden as error:
            self._deactivate(error)
        except TelegramError as error:
            log.warning("editing message %s failed: %s", target.message_id, error)
            return None
        return target

    async def _call(
        self,
        what: str,
        call: Callable[[int], Awaitable[Message]],
        *,
        fallback: bool = False,
    ) -> Message | None:
        chats = self._shared.chats
        if chats.is_inactive(self.address.chat_id):
            raise _ChatInactive
        chat = chats.current_id(self.address.chat_id)
        try:
            try:
                return await call(chat)
            except ChatMigrated as moved:
                log.info("Telegram chat %s became %s", self.address.chat_id, moved.new_chat_id)
                chats.migrate(self.address.chat_id, moved.new_chat_id)
                return await call(moved.new_chat_id)
        except Forbidden as error:
            self._deactivate(error)
        except BadRequest as error:
            if fallback:
                log.info("Telegram refused a picture (%s); sending text", error.message)
                raise _PhotoRefused from error
            self._failed(what, error)
            return None
        except TelegramError as error:
            self._failed(what, error)
            return None

    def _failed(self, what: str, error: TelegramError) -> None:
        log.warning("Telegram %s to %s failed: %s", what, self.address.chat_id, error)
        if self._raise:
            raise TelegramDeliveryError(f"{what}: {error}") from error

    def _deactivate(self, error: Forbidden) -> NoReturn:
        log.warning(
            "Telegram chat %s is inactive (%s); not sending to it any more",
            self.address.chat_id,
            error.message,
        )
        self._shared.chats.deactivate(self.address.chat_id)
        raise _ChatInactive from error

    def _chat_id(self) -> int:
        return self._shared.chats.current_id(self.address.chat_id)

    def _thread(self) -> int | None:
        return int(self.address.thread_id) if self.address.thread_id else None


class _PhotoRefused(Exception):
    pass
