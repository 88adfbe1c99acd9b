"""The one retry layer every partner client uses.

* At most ``max_attempts`` (default and ceiling: 3) attempts in total; a partner that is
  down gets no more than three knocks from one call, however it is configured.
* Between attempts: exponential backoff with *full jitter*
  (``uniform(0, min(max_delay, base_delay * 2**(n-1)))``), unless the failure carries a
  ``retry_after`` (seconds, parsed from ``Retry-After`` by :func:`parse_retry_after`): then
  exactly that long. A ``Retry-After`` longer than ``max_delay`` is not slept through: the
  error is raised at once, so the caller can tell the user "later" instead of hanging.
* Only what the caller declares retryable is retried (``retryable=`` predicate); everything
  else propagates at once. The caller decides whether an operation is safe to repeat at all
  (a money POST only with the same idempotency key and body).
* ``sleep`` and ``random`` are injectable, so tests assert the exact delays without waiting.

The same delays serve work that must get through however many attempts fail, and so has no
attempt cap: a front-end connecting to its platform at boot (:meth:`Retrier.keep_trying`),
a chat message waiting in the outbox (:meth:`Retrier.pause_after`, with the attempts counted
in its row). There a ``Retry-After`` is always honoured, however long.
"""

from __future__ import annotations

import asyncio
import logging
import random as _random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import TypeVar

__all__ = ["MAX_ATTEMPTS", "Retrier", "RetryPolicy", "parse_retry_after"]

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class RetryPolicy:
    """How many attempts and how long to wait between them (seconds)."""

    max_attempts: int = MAX_ATTEMPTS
    base_delay: float = 0.5
    max_delay: float = 30.0

    def __post_init__(self) -> None:
        if not 1 <= self.max_attempts <= MAX_ATTEMPTS:
            raise ValueError(f"max_attempts must be between 1 and {MAX_ATTEMPTS}")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("delays must not be negative")


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds from ``now``: delay-seconds or an HTTP-date; None if absent
    or unparseable. A date in the past gives 0."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return seconds if seconds >= 0 and seconds == seconds else None  # rejects NaN
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    reference = now if now is not None else datetime.now(UTC)
    return max(0.0, (when - reference).total_seconds())


def _default_retry_after(exc: BaseException) -> float | None:
    """The failure's ``retry_after``: seconds (our partner errors) or a ``timedelta``
    (python-telegram-bot's ``RetryAfter``)."""
    value: object = getattr(exc, "retry_after", None)
    if isinstance(value, timedelta):
        return max(0.0, value.total_seconds())
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    return None


class Retrier:
    """Runs an async operation with retries. Share one per client (it keeps no state)."""

    def __init__(
        self,
        policy: RetryPolicy | None = None,
        *,
        sleep: Sleep = asyncio.sleep,
        random: Callable[[], float] = _random.random,
    ) -> None:
        self.policy = policy or RetryPolicy()
        self._sleep = sleep
        self._random = random

    def backoff(self, attempt: int) -> float:
        """Full-jitter delay after failed attempt number ``attempt`` (1-based)."""
        doublings = min(max(attempt, 1) - 1, 64)  # past that the ceiling is max_delay anyway
        ceiling = min(self.policy.max_delay, self.policy.base_delay * 2.0**doublings)
        return self._random() * ceiling

    async def pause(self, attempt: int) -> None:
        """Sleep the backoff after failed attempt ``attempt``: for callers that retry in
        their own loop (a refetch, a redelivery)."""
        await self._sleep(self.backoff(attempt))

    def pause_after(
        self,
        attempt: int,
        exc: BaseException | None = None,
        retry_after: Callable[[BaseException], float | None] = _default_retry_after,
    ) -> float:
        """Seconds to wait after failed attempt ``attempt`` by a caller that keeps trying
        (no attempt cap): the failure's ``Retry-After`` when it has one, else the backoff."""
        hinted = retry_after(exc) if exc is not None else None
        return hinted if hinted is not None else self.backoff(attempt)

    def delay_after(
        self,
        attempt: int,
        exc: BaseException,
        retry_after: Callable[[BaseException], float | None] = _default_retry_after,
    ) -> float | None:
        """Seconds to wait before the next attempt, or None to stop and raise ``exc``."""
        if attempt >= self.policy.max_attempts:
            return None
        hinted = retry_after(exc)
        if hinted is not None:
            return hinted if hinted <= self.policy.max_delay else None
        return self.backoff(attempt)

    async def run(
        self,
        operation: Callable[[], Awaitable[T]],
        *,
        retryable: Callable[[BaseException], bool],
        retry_after: Callable[[BaseException], float | None] = _default_retry_after,
        label: str = "operation",
    ) -> T:
        """Await ``operation()`` until it succeeds, fails with a non-retryable error, or the
        attempts (or a too-long ``Retry-After``) run out; then the last error propagates.

        ``operation`` must rebuild nothing that should stay identical between attempts
        (a money POST passes the same pre-serialised body every time).
        """
        attempt = 0
        while True:
            attempt += 1
            try:
                return await operation()
            except Exception as exc:
                if not retryable(exc):
                    raise
                delay = self.delay_after(attempt, exc, retry_after)
                if delay is None:
                    raise
                log.info(
                    "retrying %s after attempt %d (%s) in %.2fs",
                    label,
                    attempt,
                    type(exc).__name__,
                    delay,
                )
            await self._sleep(delay)

    async def keep_trying(
        self,
        operation: Callable[[], Awaitable[T]],
        *,
        retryable: Callable[[BaseException], bool],
        retry_after: Callable[[BaseException], float | None] = _default_retry_after,
        label: str = "operation",
        failed: int = 0,
    ) -> T:
        """Await ``operation()`` until it succeeds; a non-retryable error propagates. For what
        must come up eventually (a platform connection at boot), so ``max_attempts`` does not
        apply; each wait is :meth:`pause_after`. ``failed``: attempts the caller already made
        and lost, so the first wait comes before the first attempt here."""
        attempt = failed
        if failed:
            await self.pause(failed)
        while True:
            attempt += 1
            try:
                return await operation()
            except Exception as exc:
                if not retryable(exc):
                    raise
                delay = self.pause_after(attempt, exc, retry_after)
                log.warning(
                    "%s failed (attempt %d, %s); trying again in %.1fs",
                    label,
                    attempt,
                    type(exc).__name__,
                    delay,
                )
            await self._sleep(delay)
