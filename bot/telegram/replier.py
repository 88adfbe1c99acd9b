"""`TelegramReplier`: the core's `Replier` for one Telegram conversation (a private chat, a
group, or one forum topic), answering one message.

- `send` posts the rendered reply in the conversation's topic, as a reply to the message it
  answers (`allow_sending_without_reply`, so a deleted original is no error), with one
  notification (`render_reply` marks the other messages silent). A reply whose `key` was
  posted before (by any replier of any process: `TelegramRecords`) edits that message
  instead (an approval that became "confirmed"); a reply of several messages edits its
  first one that is not an album and posts the rest, and a text cannot become a photo (a
  new message is posted). A status line under the key is not edited into the answer, which
  would notify nobody: the answer is posted (the search's results under its line) and the
  line deleted.
- `progress` posts one silent status message per key, records it, and edits it in place as
  often as `TelegramShared.refresh_due` allows; a line posted elsewhere (another process,
  before a restart) is edited or finished, never posted twice. A finished line (`done`) is
  deleted: done comes from work whose answer follows at once, so "✓ … done" would only
  stand above that answer; a line Telegram will not delete any more is shortened to "✓ …".
- A reply `private_to` someone is sent as usual in a private chat; in a group it goes to
  that person's private chat with the bot instead (a replier of that chat: its records, its
  keys). When the bot cannot write to them there (they never started it, or blocked it: 403,
  and that chat is marked inactive), the group gets a short notice mentioning them and how
  to open the chat; the private content itself never goes to the group.
- A reply with a file is one document (`sendDocument`, the bytes uploaded under the file's
  name) captioned with the text, as much as a caption holds; the rest of the text, cards and
  buttons follow silently. A private one follows the rules above (the person's private chat;
  the group at most a notice). A file replaces nothing under the reply's `key` (its status
  line is deleted once the file is there) and is not recorded.
- A reply with a `poll` is a native Telegram poll, stopped or given new buttons in place by
  later replies under its key (`bot.telegram.polls`).
- `typing` shows "typing…" while the model works (Telegram shows it for 5 s per call).
- A chat that blocked or removed the bot (403) is marked inactive and skipped from then on;
  a group that became a supergroup is followed to its new id. Both are stored, and so is the
  message each conversation's later results reply to; a replier reads them once.

Flood limits and network errors are handled by the bot's rate limiter. What still fails is
logged; a turn's replier goes on, while the outlet's replier (`raise_errors`) raises
`TelegramDeliveryError`, so the outbox keeps the message and tries again later.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    InputMediaPhoto,
    LinkPreviewOptions,
    Message,
    ReplyKeyboardMarkup,
    ReplyParameters,
)
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest, ChatMigrated, Forbidden, TelegramError

from bot.telegram.addressing import chat_address
from bot.telegram.memory import CallbackEntry, new_callback_token
from bot.telegram.polls import send_poll
from bot.telegram.records import DB_ERRORS, ChatState, Posted
from bot.telegram.render import (
    TelegramMessage,
    render_document,
    render_private_notice,
    render_reply,
    render_status,
)
from bot.telegram.shared import TelegramShared
from bot.telegram.streaming import TelegramDraftStream
from conversations.replies import Button, FileAttachment, Progress, Reply, TextStream
from conversations.types import ConversationAddress

log = logging.getLogger(__name__)

Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup
_Sent = TypeVar("_Sent", Message, tuple[Message, ...])


class TelegramDeliveryError(Exception):
    """A Bot API call failed after the rate limiter's retries."""


class _ChatInactive(Exception):
    """The chat blocked or removed the bot; nothing more is sent to it."""


_STYLES = {"primary": "primary", "danger": "danger"}


class TelegramReplier:
    def __init__(
        self,
        shared: TelegramShared,
        address: ConversationAddress,
        *,
        reply_to: int | None = None,
        anchored: bool = False,
        after: asyncio.Future[Any] | None = None,
        raise_errors: bool = False,
        alert: Callable[[str, str], Awaitable[bool]] | None = None,
    ) -> None:
        """`reply_to` is the message this replier answers; `anchored` (for later results)
        replies to the one the bot last answered in the conversation instead. `after`: the
        records of this turn being stored, awaited before any record is read (the turn
        itself need not wait for them, so it keeps its place in the conversation's order).
        `alert` shows a short text to the person whose button press this replier answers
        (`PressAnswer.alert`): a private reply in a group, meant for them alone, pops up on
        their screen instead of going to their private chat."""
        self.address = address
        self._shared = shared
        self._reply_to = reply_to
        self._anchored = anchored
        self._after = after
        self._raise = raise_errors
        self._alert = alert
        self._lock = asyncio.Lock()
        self._statuses: dict[str, Posted | None] = {}
        self._chat: ChatState | None = None

    @property
    def group(self) -> bool:
        return self.address.chat_id.startswith("-")

    # ---- Replier -----------------------------------------------------------------------

    async def send(self, reply: Reply) -> None:
        async with self._lock, self._shared.posting.hold(self.address, reply.key):
            try:
                if reply.private_to and self.group:
                    alerted = (
                        self._alert is not None
                        and _just_words(reply)
                        and await self._alert(reply.private_to, reply.text)
                    )
                    if alerted:
                        return
                    await self._send_privately(reply, reply.private_to)
                    return
                await self._send(reply)
            except _ChatInactive:
                log.info("not sending to inactive Telegram chat %s", self.address.chat_id)

    async def progress(self, update: Progress) -> None:
        async with self._lock, self._shared.posting.hold(self.address, update.key):
            try:
                await self._progress(update)
            except _ChatInactive:
                return
            except TelegramDeliveryError as error:
                log.info("status line in %s not shown: %s", self.address.chat_id, error)

    async def stream(self) -> TextStream | None:
        """Drafts of the answer as it is written, in a private chat; a group gets the answer
        whole (the status line and "typing…" show progress there)."""
        if self.group:
            return None
        chat = await self._chat_state()
        if chat.inactive:
            return None
        return TelegramDraftStream(
            self._shared.bot,
            chat_id=chat.current_id,
            thread_id=self._thread(),
            interval_s=self._shared.policy.draft_interval_s,
            finish=self._send_streamed,
        )

    async def _send_streamed(self, text: str) -> None:
        await self.send(Reply(text=text))

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
                with contextlib.suppress(TelegramDeliveryError):
                    chat = await self._chat_state()
                    if chat.inactive:
                        return
                    with contextlib.suppress(TelegramError):
                        await self._shared.bot.send_chat_action(
                            chat.current_id, ChatAction.TYPING, message_thread_id=self._thread()
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
        if reply.file is not None:
            await self._send_document(reply, reply.file)
            return
        target: Posted | None = None
        if reply.key:
            running = self._statuses.pop(reply.key, None)  # replaced: no refresh may follow
            target = await self._find(reply.key) or running
            if reply.poll is not None and await send_poll(
                self, reply, reply.poll, reply.key, target
            ):
                return
        if target is not None and target.poll:
            target = None  # a poll never becomes a text: the reply is posted anew
        messages = render_reply(reply, self._shared.names.get, group=self.group)
        # A status line does not become the answer (an edit notifies nobody): the answer is
        # posted, then the line deleted.
        replaced = target if target is not None and target.status else None
        if replaced is not None:
            target = None
        main = next((i for i, m in enumerate(messages) if not m.album), None)
        shown: Posted | None = None
        for index, message in enumerate(messages):
            markup = await self._keyboard(message.keyboard, reply.key)
            posted: Posted | None = None
            if index == main and target is not None and target.photo == bool(message.photo):
                posted = await self._edit(target, message, markup)
            if posted is None:
                posted = await self._post(message, markup)
            if index == main:
                shown = posted
        if reply.key and shown is not None:
            await self._record(reply.key, shown)
        if replaced is not None:
            await self._delete(replaced)

    async def _send_document(self, reply: Reply, file: FileAttachment) -> None:
        """`file` captioned with the text, then the rest of the reply, silent."""
        caption, rest = render_document(reply, self._shared.names.get, group=self.group)
        replaced: Posted | None = None
        if reply.key:
            running = self._statuses.pop(reply.key, None)  # replaced: no refresh may follow
            found = await self._find(reply.key) or running
            replaced = found if found is not None and found.status else None
        await self._chat_state()  # also reads the anchor an `anchored` replier replies to
        document = InputFile(file.content, filename=file.filename)
        document.mimetype = file.mime
        sent = await self._call(
            "sendDocument",
            lambda chat: self._shared.bot.send_document(
                chat,
                document,
                caption=caption or None,
                message_thread_id=self._thread(),
                reply_parameters=self._reply_parameters(),
            ),
        )
        if sent is None:
            return
        for message in rest:
            await self._post(message, await self._keyboard(message.keyboard, reply.key))
        if replaced is not None:
            await self._delete(replaced)

    def _reply_parameters(self) -> ReplyParameters | None:
        if not self._reply_to:
            return None
        return ReplyParameters(self._reply_to, allow_sending_without_reply=True)

    async def _send_privately(self, reply: Reply, user: str) -> None:
        """`reply` in `user`'s private chat with the bot, or a notice here if that fails."""
        if not user.isdigit():
            log.warning("private reply dropped: %r is not a Telegram user id", user)
            return
        personal = TelegramReplier(self._shared, chat_address(int(user)), raise_errors=self._raise)
        try:
            async with personal._lock:
                await personal._send(dataclasses.replace(reply, private_to=None))
            return
        except _ChatInactive:
            log.info("Telegram user %s has no chat with the bot; telling the group", user)
        notice = render_private_notice(user, self._shared.names.get, self._bot_username())
        await self._post(notice, None)

    def _bot_username(self) -> str:
        try:
            return self._shared.bot.username or ""
        except RuntimeError:  # not initialised yet (no getMe)
            return ""

    async def _progress(self, update: Progress) -> None:
        now = time.monotonic()
        key = update.key
        line = TelegramMessage(render_status(update), silent=True)
        if key in self._statuses:
            posted = self._statuses[key]
        else:
            # Posted by another replier or process (a turn, before a restart), or not yet.
            found = await self._find(key)
            posted = found if found is not None and found.status else None
        if update.done:
            # Done comes from work whose answer follows at once (a detail after its live
            # prices); a line that stayed would only say "done" above that answer.
            self._statuses.pop(key, None)
            if posted is not None:
                await self._delete(posted, fallback=line)
            return
        if key not in self._statuses and posted is None:
            self._shared.refresh_due(self.address, key, now)
            self._statuses[key] = await self._post_status(key, line)
            return
        self._statuses[key] = posted
        if posted is None or not self._shared.refresh_due(self.address, key, now):
            return
        if await self._edit(posted, line, None) is None:  # deleted meanwhile: show it anew
            self._statuses[key] = await self._post_status(key, line)

    async def _post_status(self, key: str, line: TelegramMessage) -> Posted | None:
        posted = await self._post(line, None)
        if posted is None:
            return None
        posted = dataclasses.replace(posted, status=True)
        await self._record(key, posted)
        return posted

    # ---- records -----------------------------------------------------------------------

    async def _find(self, key: str) -> Posted | None:
        await self._noted()
        try:
            return await self._shared.records.find(self.address, key)
        except DB_ERRORS as error:
            self._db_failed(f"reading {key}", error)
            return None

    async def _record(self, key: str, posted: Posted) -> None:
        try:
            await self._shared.records.save(self.address, key, posted)
        except DB_ERRORS as error:  # posted already: a later reply under `key` posts anew
            log.warning("could not record the message of %s: %s", key, type(error).__name__)

    async def _chat_state(self) -> ChatState:
        """The chat's state, read once per replier (and kept up to date by its own sends)."""
        if self._chat is None:
            await self._noted()
            try:
                self._chat = await self._shared.records.chat_state(self.address)
            except DB_ERRORS as error:
                self._db_failed("reading the chat's state", error)
                return ChatState(False, int(self.address.chat_id), None)
            if self._anchored and self._reply_to is None:
                self._reply_to = self._chat.anchor
        return self._chat

    async def _noted(self) -> None:
        """Wait for this turn's records (the chat active again, say) before reading any."""
        if self._after is not None:
            await asyncio.wait({self._after})  # every caller waits for the same; never raises
            self._after = None

    def _db_failed(self, what: str, error: Exception) -> None:
        """Nothing is posted yet: the outlet's replier raises (the outbox retries later), a
        turn's replier goes on and posts anew."""
        if self._raise:
            raise TelegramDeliveryError(f"{what}: {type(error).__name__}") from error
        log.warning("Telegram %s in %s failed: %s", what, self.address.chat_id, error)

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
                if button.url:
                    buttons.append(InlineKeyboardButton(button.label, url=button.url))
                    continue
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
        await self._chat_state()  # also reads the anchor an `anchored` replier replies to
        reply = self._reply_parameters()
        if message.album:
            return await self._post_album(message, reply)
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
                        disable_notification=message.silent,
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
                disable_notification=message.silent,
                link_preview_options=_preview(message),
            ),
        )
        return Posted(sent.chat.id, sent.message_id) if sent is not None else None

    async def _post_album(
        self, message: TelegramMessage, reply: ReplyParameters | None
    ) -> Posted | None:
        """The pictures of a page of results; nothing when Telegram refuses one (the list
        that follows has every word and button)."""
        album = message.album
        try:
            if len(album) == 1:  # an album has two photos at least
                sent = await self._call(
                    "sendPhoto",
                    lambda chat: self._shared.bot.send_photo(
                        chat,
                        album[0].url,
                        caption=album[0].caption,
                        message_thread_id=self._thread(),
                        reply_parameters=reply,
                        disable_notification=message.silent,
                    ),
                    fallback=True,
                )
                return Posted(sent.chat.id, sent.message_id, photo=True) if sent else None
            group = await self._call(
                "sendMediaGroup",
                lambda chat: self._shared.bot.send_media_group(
                    chat,
                    [
                        InputMediaPhoto(p.url, caption=p.caption, parse_mode=ParseMode.HTML)
                        for p in album
                    ],
                    message_thread_id=self._thread(),
                    reply_parameters=reply,
                    disable_notification=message.silent,
                ),
                fallback=True,
            )
        except _PhotoRefused:
            return None
        return Posted(group[0].chat.id, group[0].message_id, photo=True) if group else None

    async def _delete(self, target: Posted, fallback: TelegramMessage | None = None) -> None:
        """Remove a status line; one Telegram keeps (older than 48 h) is edited to `fallback`."""
        try:
            await self._shared.bot.delete_message(target.chat_id, target.message_id)
        except Forbidden as error:
            await self._deactivate(error)
            raise _ChatInactive from error
        except TelegramError as error:
            log.info("could not delete message %s: %s", target.message_id, error)
            if fallback is not None:
                await self._edit(target, fallback, None)

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
                    link_preview_options=_preview(message),
                )
        except BadRequest as error:
            if "not modified" in error.message.lower():
                return target
            log.info("could not edit message %s (%s); posting anew", target.message_id, error)
            return None
        except Forbidden as error:
            await self._deactivate(error)
            raise _ChatInactive from error
        except TelegramError as error:
            log.warning("editing message %s failed: %s", target.message_id, error)
            return None
        return target

    async def _change(self, what: str, call: Callable[[], Awaitable[object]]) -> bool:
        """Change a message already posted (a poll stopped, its keyboard replaced); False
        when Telegram refused it (the message is gone, say)."""
        try:
            await call()
        except BadRequest as error:
            said = error.message.lower()
            if "not modified" in said or "already closed" in said:
                return True
            log.info("Telegram %s in %s refused: %s", what, self.address.chat_id, error)
            return False
        except Forbidden as error:
            await self._deactivate(error)
            raise _ChatInactive from error
        except TelegramError as error:
            self._failed(what, error)
            return False
        return True

    async def _call(
        self,
        what: str,
        call: Callable[[int], Awaitable[_Sent]],
        *,
        fallback: bool = False,
    ) -> _Sent | None:
        state = await self._chat_state()
        if state.inactive:
            raise _ChatInactive
        try:
            try:
                return await call(state.current_id)
            except ChatMigrated as moved:
                log.info("Telegram chat %s became %s", self.address.chat_id, moved.new_chat_id)
                self._chat = dataclasses.replace(state, current_id=moved.new_chat_id)
                with contextlib.suppress(*DB_ERRORS):
                    await self._shared.records.migrate(self.address.chat_id, moved.new_chat_id)
                return await call(moved.new_chat_id)
        except Forbidden as error:
            await self._deactivate(error)
            raise _ChatInactive from error
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

    async def _deactivate(self, error: Forbidden) -> None:
        log.warning(
            "Telegram chat %s is inactive (%s); not sending to it any more",
            self.address.chat_id,
            error.message,
        )
        if self._chat is not None:
            self._chat = dataclasses.replace(self._chat, inactive=True)
        with contextlib.suppress(*DB_ERRORS):
            await self._shared.records.deactivate(self.address.chat_id)

    def _thread(self) -> int | None:
        return int(self.address.thread_id) if self.address.thread_id else None


class _PhotoRefused(Exception):
    pass


def _preview(message: TelegramMessage) -> LinkPreviewOptions:
    """The picture a text shows above it, or no link preview at all."""
    if message.preview is None:
        return LinkPreviewOptions(is_disabled=True)
    return LinkPreviewOptions(url=message.preview, prefer_large_media=True, show_above_text=True)


def _just_words(reply: Reply) -> bool:
    """A reply that is only a short text (what a pop-up can show)."""
    return bool(reply.text) and not (
        reply.cards or reply.detail or reply.buttons or reply.approval or reply.footer or reply.file
    )
