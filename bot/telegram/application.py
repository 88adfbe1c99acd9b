"""The python-telegram-bot `Application` for webhook and polling use, and its retries.

Built with `.updater(None)`: updates come from our own `POST /telegram/webhook` route or our
own `getUpdates` loop and are fed to `process_update`, so PTB's handlers classify them
while we keep the claim-before-200 order. The Bot API base comes from `TELEGRAM_API_URL`.

`RetryingRateLimiter` is PTB's `AIORateLimiter` (the flood limits: 30 messages a second,
20 a minute per group; a 429 waits its `retry_after` and retries) plus retries of network
errors and 5xx answers through the one retry layer (`integrations.retry`). A send whose
request may have reached Telegram (a read timeout, a dropped connection mid-answer) is not
repeated: Telegram has no idempotency key, and a duplicate message is worse than a log line.
Everything else is safe to repeat.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Coroutine
from typing import Any

import httpx
from telegram import LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import BadRequest, NetworkError
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, Defaults
from telegram.request import HTTPXRequest

from integrations.retry import Retrier, RetryPolicy

# PTB 22 warns on every 429 (RetryAfter) unless durations are opted in to `timedelta`, the
# type its next major version uses; nothing of ours reads them, so opt in.
os.environ.setdefault("PTB_TIMEDELTA", "true")

JSON = bool | dict[str, Any] | list[dict[str, Any]]

# Methods that post something new: repeated only when the request surely never arrived.
_POSTING = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "sendMediaGroup",
        "sendVenue",
        "sendLocation",
        "copyMessage",
        "forwardMessage",
    }
)
_UNSENT_CAUSES = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


# Network errors and 5xx answers: the one retry layer's attempts (at most 3) and backoff.
SEND_RETRY = RetryPolicy(base_delay=0.5, max_delay=8.0)
RATE_LIMIT_RETRIES = 3  # 429s, each waited out by PTB's limiter (`retry_after`)


def surely_unsent(error: NetworkError) -> bool:
    """True when the request cannot have reached Telegram (refused, no connection)."""
    return isinstance(error.__cause__, _UNSENT_CAUSES)


def retryable(error: BaseException, endpoint: str) -> bool:
    if isinstance(error, BadRequest) or not isinstance(error, NetworkError):
        return False  # 400s are final; 401/403/409 are not network errors
    if endpoint == "getUpdates":
        return False  # the polling loop has its own backoff
    if endpoint in _POSTING:
        # A 5xx (no cause: Telegram answered) or a refused connection did not post anything.
        return error.__cause__ is None or surely_unsent(error)
    return True


class RetryingRateLimiter(AIORateLimiter):
    def __init__(self, policy: RetryPolicy | None = None) -> None:
        self._retrier = Retrier(policy or SEND_RETRY)
        super().__init__(max_retries=RATE_LIMIT_RETRIES)

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, JSON]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> JSON:
        limited = super().process_request

        async def send() -> JSON:
            return await limited(callback, args, kwargs, endpoint, data, rate_limit_args)

        return await self._retrier.run(
            send,
            retryable=lambda error: retryable(error, endpoint),
            label=f"Telegram {endpoint}",
        )


def build_application(
    token: str,
    *,
    api_url: str,
    retry: RetryPolicy | None = None,
    concurrent_updates: int = 64,
) -> Application[Any, Any, Any, Any, Any, Any]:
    """The PTB application: no updater (we feed it), HTML and no link previews by default."""
    return (
        ApplicationBuilder()
        .token(token)
        .base_url(api_url)
        .updater(None)
        .request(HTTPXRequest(connection_pool_size=64, read_timeout=20.0, pool_timeout=5.0))
        .get_updates_request(HTTPXRequest(connection_pool_size=2, read_timeout=40.0))
        .rate_limiter(RetryingRateLimiter(retry))
        .defaults(
            Defaults(
                parse_mode=ParseMode.HTML,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        )
        # Handlers only claim and hand work over, but claims of different chats need not
        # wait for each other; the manager keeps each conversation in order.
        .concurrent_updates(concurrent_updates)
        .build()
    )
