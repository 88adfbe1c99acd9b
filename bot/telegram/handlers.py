"""PTB handlers: each update becomes an item for the conversation manager (or a direct
answer), classified by PTB's own `CommandHandler`, `MessageHandler` filters and
`CallbackQueryHandler`.

Handlers run inside `Application.process_update`, called by our webhook route and polling
loop before they acknowledge the update; they only translate, claim (`Gateway.admit`) and
hand the work over, so the claim is committed before Telegram hears "200".

- Commands: `/search jazz in Brooklyn` → "search jazz in Brooklyn", `/near Williamsburg` →
  "near Williamsburg", `/plan live music Friday` → "plan live music Friday", `/orders` →
  "orders", `/start` and `/help` → "help", `/settings` → a short description of this chat's
  set-up, answered directly. `/search` and `/plan` alone ask what to look for or plan; `/near`
  alone offers a "share my location" keyboard in private chats.
- Text, a shared location (live or not) or a venue: private chats always; groups when the
  bot is mentioned or replied to. A location becomes `InboundMessage(location=…)`.
- A button press: its token is resolved to the button's value (unknown or foreign tokens
  get "no longer active") and becomes a `ButtonPress`; buttons never reach the model.
- A `poll_answer` to one of the bot's polls (found by its id: `PollRecord`, unknown ones are
  ignored) becomes a `ButtonPress` of the chosen option's value in the poll's conversation,
  or of its retract value when the vote was taken back; anonymous answers (on behalf of a
  chat) and bots' are ignored.
- `my_chat_member`: the bot blocked or removed marks the chat inactive; added back, active
  (stored, for every process; a message from the chat makes it active again too). Added to
  a group, it posts the welcome there.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from telegram import CallbackQuery, KeyboardButton, Message, ReplyKeyboardMarkup, Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    PollAnswerHandler,
    filters,
)

from bot.telegram.addressing import (
    COMMAND_NAMES,
    SpokenTo,
    address_of,
    chat_address,
    command_of,
    event_id,
    is_group,
    sender_of,
    without_mention,
)
from bot.telegram.memory import CallbackEntry
from bot.telegram.records import PollRecord
from bot.telegram.render import escape
from conversations.types import (
    ButtonPress,
    ConversationAddress,
    GeoPoint,
    Inbound,
    InboundMessage,
)

log = logging.getLogger(__name__)

MAX_TEXT = 4000
WELCOME_TEXT = "help"
"""What `/start`, `/help` and being added to a group say to the manager: its welcome."""
COMMAND_TEXT = {"start": WELCOME_TEXT, "help": WELCOME_TEXT, "orders": "orders"}
SEARCH_HINT = "What should I look for? For example: /search jazz in Brooklyn"
NEAR_HINT = "Near where? For example: /near Williamsburg — or share a location with me."
PLAN_HINT = (
    "What should the group do? For example: /plan live music Friday under $40 — I'll post "
    "a poll of options here, then everyone who is in approves their own booking."
)
HINTS = {"search": SEARCH_HINT, "plan": PLAN_HINT}
NEAR_PRIVATE_HINT = "Near where? Send a place (/near Williamsburg) or share your location:"
SHARE_LOCATION = "📍 Share my location"
BUTTON_GONE = "That button is no longer active. Ask me again for fresh options."
GROUP_HELLO = (
    "Hi! I'm the concierge: I find things to do and book them. In this group I answer "
    "commands (try /search jazz in Brooklyn), messages that mention me, and replies to my "
    "messages."
)

Context = ContextTypes.DEFAULT_TYPE


class Gateway(Protocol):
    """What the handlers need from the front-end."""

    async def admit(
        self,
        item: Inbound,
        *,
        reply_to: int | None,
        query: CallbackQuery | None = None,
        shows: str | None = None,
    ) -> None:
        """Claim `item` (raising if the claim cannot be stored) and start its work; `shows`
        is the reply key of the message whose button was pressed (a later reply edits it)."""
        ...

    def answer(
        self,
        key: str,
        address: ConversationAddress,
        html: str,
        *,
        reply_to: int | None,
        markup: ReplyKeyboardMarkup | None = None,
    ) -> None:
        """Post our own message (once per `key` in this process), after the acknowledgement."""
        ...

    def answer_query(self, query: CallbackQuery, text: str | None) -> None: ...

    async def settings_html(self, address: ConversationAddress) -> str: ...

    async def status_html(self, address: ConversationAddress, user_id: str) -> str: ...

    async def callback_entry(self, token: str) -> CallbackEntry | None: ...

    async def poll_of(self, poll_id: str) -> PollRecord | None:
        """The bot's poll of that id (raising if it cannot be read), or None."""
        ...

    def seen(self, address: ConversationAddress, sender_id: str, name: str | None) -> None:
        """Someone wrote in this chat: their name is known for mentions (in memory only)."""
        ...

    def chat_status(self, chat_id: int, active: bool) -> None: ...


class TelegramHandlers:
    def __init__(self, gateway: Gateway) -> None:
        self._gateway = gateway

    def register(self, app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        fresh = filters.UpdateType.MESSAGE  # edits (live location moves) are not new asks
        content = filters.TEXT | filters.VENUE | filters.LOCATION
        app.add_handler(
            CommandHandler(COMMAND_NAMES, self._command, filters=fresh & ~filters.VIA_BOT)
        )
        app.add_handler(MessageHandler(fresh & filters.ChatType.PRIVATE & content, self._message))
        app.add_handler(
            MessageHandler(fresh & filters.ChatType.GROUPS & content & SpokenTo(), self._message)
        )
        app.add_handler(CallbackQueryHandler(self._button))
        app.add_handler(PollAnswerHandler(self._poll_answer))
        app.add_handler(ChatMemberHandler(self._membership, ChatMemberHandler.MY_CHAT_MEMBER))

    # ---- messages ----------------------------------------------------------------------

    async def _message(self, update: Update, context: Context) -> None:
        message = update.message
        if message is None or not _from_a_person(message):
            return
        me = context.bot.bot
        location = message.venue.location if message.venue else message.location
        text = without_mention(message.text or "", me) if message.text else ""
        point = GeoPoint(location.latitude, location.longitude) if location else None
        if point is None and not text:
            if is_group(message.chat):
                self._answer_once(update, message, escape(GROUP_HELLO))
            return
        await self._admit(update, message, text, point)

    async def _command(self, update: Update, context: Context) -> None:
        message = update.message
        if message is None or not _from_a_person(message):
            return
        parsed = command_of(message)
        if parsed is None:
            return
        name, rest = parsed
        address = address_of(message)
        if name == "settings":
            html = await self._gateway.settings_html(address)
            self._answer_once(update, message, html)
        elif name == "status" and message.from_user is not None:
            html = await self._gateway.status_html(address, str(message.from_user.id))
            self._answer_once(update, message, html)
        elif name in COMMAND_TEXT:
            await self._admit(update, message, COMMAND_TEXT[name], None)
        elif rest:
            await self._admit(update, message, f"{name} {rest}", None)
        elif name == "near" and not is_group(message.chat):
            keyboard = ReplyKeyboardMarkup(
                [[KeyboardButton(SHARE_LOCATION, request_location=True)]],
                one_time_keyboard=True,
                resize_keyboard=True,
            )
            self._answer_once(update, message, escape(NEAR_PRIVATE_HINT), keyboard)
        else:
            self._answer_once(update, message, escape(HINTS.get(name, NEAR_HINT)))

    async def _admit(
        self, update: Update, message: Message, text: str, point: GeoPoint | None
    ) -> None:
        assert message.from_user is not None  # checked by _from_a_person
        address = address_of(message)
        sender = sender_of(message.from_user)
        self._gateway.seen(address, sender.user_id, sender.display_name)
        item = InboundMessage(
            address,
            sender,
            text[:MAX_TEXT],
            event_id=event_id(message.get_bot().id, update.update_id),
            location=point,
            private=message.chat.type == ChatType.PRIVATE,
        )
        await self._gateway.admit(item, reply_to=message.message_id)

    def _answer_once(
        self,
        update: Update,
        message: Message,
        html: str,
        markup: ReplyKeyboardMarkup | None = None,
    ) -> None:
        key = event_id(message.get_bot().id, update.update_id)
        self._gateway.answer(
            key, address_of(message), html, reply_to=message.message_id, markup=markup
        )

    # ---- buttons -----------------------------------------------------------------------

    async def _button(self, update: Update, context: Context) -> None:
        query = update.callback_query
        if query is None:
            return
        message = query.message
        if message is None or not isinstance(message, Message) or not query.data:
            self._gateway.answer_query(query, BUTTON_GONE)
            return
        address = address_of(message)
        entry = await self._gateway.callback_entry(query.data)
        if entry is None or entry.chat_id != address.chat_id:
            self._gateway.answer_query(query, BUTTON_GONE)
            return
        sender = sender_of(query.from_user)
        self._gateway.seen(address, sender.user_id, sender.display_name)
        press = ButtonPress(
            address, sender, entry.value, event_id(context.bot.id, update.update_id)
        )
        await self._gateway.admit(
            press, reply_to=message.message_id, query=query, shows=entry.reply_key
        )

    async def _poll_answer(self, update: Update, context: Context) -> None:
        answer = update.poll_answer
        if answer is None or answer.voter_chat is not None:
            return
        if answer.user is None or answer.user.is_bot:
            return
        record = await self._gateway.poll_of(answer.poll_id)
        value = record.value_of(answer.option_ids) if record is not None else None
        if record is None or value is None:
            return
        sender = sender_of(answer.user)
        self._gateway.seen(record.address, sender.user_id, sender.display_name)
        press = ButtonPress(
            record.address, sender, value, event_id(context.bot.id, update.update_id)
        )
        await self._gateway.admit(press, reply_to=None, shows=record.reply_key)

    # ---- membership --------------------------------------------------------------------

    async def _membership(self, update: Update, context: Context) -> None:
        change = update.my_chat_member
        if change is None:
            return
        chat = change.chat
        now = change.new_chat_member.status
        before = change.old_chat_member.status
        gone = (ChatMemberStatus.BANNED, ChatMemberStatus.LEFT)
        self._gateway.chat_status(chat.id, active=now not in gone)
        adder = change.from_user
        if before in gone and now not in gone and is_group(chat) and not adder.is_bot:
            # Added to a group: the welcome, as if the person who added the bot said "help".
            hello = InboundMessage(
                chat_address(chat.id),
                sender_of(adder),
                WELCOME_TEXT,
                event_id=event_id(context.bot.id, update.update_id),
            )
            await self._gateway.admit(hello, reply_to=None)


def _from_a_person(message: Message) -> bool:
    user = message.from_user
    return user is not None and not user.is_bot
