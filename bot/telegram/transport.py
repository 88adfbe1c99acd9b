"""How updates reach us: the webhook's secret check and the long-polling loop.

Webhook: Telegram sends `X-Telegram-Bot-Api-Secret-Token` with every update when the webhook
was set with a secret. Telegram allows 1–256 characters of `A-Z a-z 0-9 _ -`; a header
missing or of another shape is refused with 401 before anything else, a well-formed wrong
one with 403, compared in constant time on bytes (a non-ASCII header never reaches the
comparison, so it cannot raise).

Polling (when no public https URL is set): `getUpdates` with a long timeout; each update is
fed to the application and the offset moves past it only once it was handled, so an update
whose claim failed is fetched again (up to five times, so one bad update cannot stall all).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from telegram import Update
from telegram.error import Conflict, InvalidToken, TelegramError
from telegram.ext import ExtBot

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name)
ALLOWED_UPDATES = ("message", "callback_query", "my_chat_member")
_SECRET_SHAPE = re.compile(r"[A-Za-z0-9_-]{1,256}")
MAX_BACKOFF_S = 30.0
MAX_FEED_ATTEMPTS = 5


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


async def poll(
    bot: ExtBot[Any],
    feed: Callable[[Update], Awaitable[bool]],
    *,
    timeout_s: int,
    allowed_updates: Sequence[str] = ALLOWED_UPDATES,
    first_backoff_s: float = 1.0,
) -> None:
    """Fetch and feed updates until cancelled (or the token is refused)."""
    offset: int | None = None
    backoff = first_backoff_s
    failures: dict[int, int] = {}
    while True:
        try:
            updates = await bot.get_updates(
                offset=offset,
                timeout=timeout_s,
                allowed_updates=list(allowed_updates),
                read_timeout=timeout_s + 10,
            )
        except InvalidToken:
            log.error("Telegram refused the bot token; polling stopped")
            return
        except (Conflict, TelegramError) as error:
            kind = "conflict (another poller or a webhook)" if isinstance(error, Conflict) else ""
            log.warning("Telegram getUpdates failed %s: %s", kind, error)
            await asyncio.sleep(backoff)
            backoff = min(MAX_BACKOFF_S, backoff * 2)
            continue
        backoff = first_backoff_s
        for update in updates:
            if not await feed(update):
                failures[update.update_id] = failures.get(update.update_id, 0) + 1
                if failures[update.update_id] < MAX_FEED_ATTEMPTS:
                    await asyncio.sleep(backoff)
                    break  # fetched again from this update on
                log.error(
                    "Telegram update %s failed %d times; skipped",
                    update.update_id,
                    MAX_FEED_ATTEMPTS,
                )
            failures.pop(update.update_id, None)
            offset = update.update_id + 1
