"""How updates reach us: the webhook's secret check and the long-polling loop.

Webhook: Telegram sends `X-Telegram-Bot-Api-Secret-Token` with every update when the webhook
was set with a secret. Telegram allows 1–256 characters of `A-Z a-z 0-9 _ -`; a header
missing or of another shape is refused with 401 before anything else, a well-formed wrong
one with 403, compared in constant time on bytes (a non-ASCII header never reaches the
comparison, so it cannot raise).

Shape (`malformed_update`): after the secret, the body must be a JSON object that is an
update of the kinds we subscribe to, with the types the Bot API documents for the fields the
handlers read (`update_id` an integer, a message's `chat.id` an integer, its `text` a
string, …). python-telegram-bot's `de_json` does not check types, so `"chat": {"id": "x"}`
or `"text": 5` would otherwise fail inside a handler (a 500) or mid-turn. Unknown fields pass.

Polling (when no public https URL is set): `getUpdates` with a long timeout; each update is
fed to the application and the offset moves past it only once it was handled, so an update
whose claim failed is fetched again (up to five times, so one bad update cannot stall all).
Failed fetches and refetches wait as the one retry layer says (`integrations.retry`: full
jitter, capped; a 429's `retry_after` honoured).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from telegram import Update
from telegram.error import InvalidToken, TelegramError
from telegram.ext import ExtBot

from integrations.retry import Retrier, RetryPolicy

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name)
ALLOWED_UPDATES = ("message", "callback_query", "my_chat_member", "poll_answer")
_SECRET_SHAPE = re.compile(r"[A-Za-z0-9_-]{1,256}")
MAX_FEED_ATTEMPTS = 5
POLL_RETRY = RetryPolicy(base_delay=1.0, max_delay=30.0)


Int64 = Annotated[int, Field(ge=-(2**63), le=2**63 - 1)]


class _Shape(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", populate_by_name=True)


class _User(_Shape):
    id: Int64
    is_bot: bool
    first_name: str
    last_name: str | None = None
    username: str | None = None


class _Chat(_Shape):
    id: Int64
    type: str
    title: str | None = None
    username: str | None = None
    first_name: str | None = None
    is_forum: bool | None = None


class _Entity(_Shape):
    type: str
    offset: Annotated[int, Field(ge=0)]
    length: Annotated[int, Field(ge=0)]
    user: _User | None = None


class _Location(_Shape):
    latitude: float
    longitude: float


class _Venue(_Shape):
    location: _Location
    title: str
    address: str


class _Topic(_Shape):
    name: str


class _Replied(_Shape):
    """A message as it appears inside another one (never with its own reply)."""

    message_id: Int64
    date: Int64
    chat: _Chat
    from_user: _User | None = Field(None, alias="from")
    text: str | None = None
    caption: str | None = None
    message_thread_id: Int64 | None = None
    is_topic_message: bool | None = None
    forum_topic_created: _Topic | None = None


class _Message(_Replied):
    sender_chat: _Chat | None = None
    entities: list[_Entity] | None = None
    caption_entities: list[_Entity] | None = None
    reply_to_message: _Replied | None = None
    location: _Location | None = None
    venue: _Venue | None = None


class _CallbackQuery(_Shape):
    id: str
    from_user: _User = Field(alias="from")
    chat_instance: str
    data: str | None = None
    message: _Message | None = None  # or an inaccessible message (date 0): the same shape


class _Member(_Shape):
    status: str
    user: _User


class _MemberUpdated(_Shape):
    chat: _Chat
    from_user: _User = Field(alias="from")
    date: Int64
    old_chat_member: _Member
    new_chat_member: _Member


class _PollAnswer(_Shape):
    poll_id: str
    option_ids: list[Annotated[int, Field(ge=0)]]
    user: _User | None = None
    voter_chat: _Chat | None = None


class _Update(_Shape):
    update_id: Annotated[int, Field(ge=0, le=2**63 - 1)]
    message: _Message | None = None
    edited_message: _Message | None = None
    callback_query: _CallbackQuery | None = None
    my_chat_member: _MemberUpdated | None = None
    poll_answer: _PollAnswer | None = None


def malformed_update(data: object) -> str | None:
    """None when `data` (a parsed JSON body) has the shape of an update we handle; otherwise
    why not (field paths only: never a value, for the log)."""
    if not isinstance(data, dict):
        return "not a JSON object"
    try:
        _Update.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        return "bad " + ".".join(str(part) for part in first["loc"]) + f" ({first['type']})"
    return None


def check_secret(given: str | None, expected: str | None) -> int | None:
    """None when the request may pass, else the status to refuse it with."""
    if expected is None:
        return 403  # no secret configured: nothing can prove it comes from Telegram
    if given is None or not _SECRET_SHAPE.fullmatch(given):
        return 401
    if not hmac.compare_digest(given.encode("ascii"), expected.encode("ascii")):
        return 403
    return None


def derived_secret(secret_key: str, bot_token: str) -> str:
    """The webhook secret when TELEGRAM_WEBHOOK_SECRET is unset: stable across restarts and
    replicas, unguessable without CONCIERGE_SECRET_KEY, and of the shape Telegram accepts."""
    material = (
        b"concierge telegram webhook\x00" + secret_key.encode() + b"\x00" + bot_token.encode()
    )
    return hashlib.sha256(material).hexdigest()


def valid_secret(value: str) -> bool:
    return bool(_SECRET_SHAPE.fullmatch(value))


def retry_later(error: BaseException) -> bool:
    """Worth another try after a wait: any Bot API failure (a conflict with another poller
    or a webhook, a 5xx, the network, a 429) but a refused token."""
    return isinstance(error, TelegramError) and not isinstance(error, InvalidToken)


async def poll(
    bot: ExtBot[Any],
    feed: Callable[[Update], Awaitable[bool]],
    *,
    timeout_s: int,
    allowed_updates: Sequence[str] = ALLOWED_UPDATES,
    retrier: Retrier | None = None,
) -> None:
    """Fetch and feed updates until cancelled (or the token is refused)."""
    retrier = retrier or Retrier(POLL_RETRY)
    offset: int | None = None
    failures: dict[int, int] = {}
    while True:
        fetch = functools.partial(
            bot.get_updates,
            offset=offset,
            timeout=timeout_s,
            allowed_updates=list(allowed_updates),
            read_timeout=timeout_s + 10,
        )
        try:
            # A `Conflict` in the log: another poller, or a webhook, uses this bot.
            updates = await retrier.keep_trying(
                fetch, retryable=retry_later, label="Telegram getUpdates"
            )
        except InvalidToken:
            log.error("Telegram refused the bot token; polling stopped")
            return
        for update in updates:
            if not await feed(update):
                failures[update.update_id] = failures.get(update.update_id, 0) + 1
                if failures[update.update_id] < MAX_FEED_ATTEMPTS:
                    await retrier.pause(failures[update.update_id])
                    break  # fetched again from this update on
                log.error(
                    "Telegram update %s failed %d times; skipped",
                    update.update_id,
                    MAX_FEED_ATTEMPTS,
                )
            failures.pop(update.update_id, None)
            offset = update.update_id + 1
