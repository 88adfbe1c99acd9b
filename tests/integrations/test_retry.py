"""The one retry layer for work that must get through: a connection at boot waits the same
full-jitter backoff with no attempt cap, honours a `Retry-After` however long, and stops at
once on what the caller calls final."""

from __future__ import annotations

from datetime import timedelta

import pytest

from integrations.errors import RateLimited
from integrations.retry import Retrier, RetryPolicy


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


class SlowDown(Exception):
    """A platform's 429 whose wait is a `timedelta` (python-telegram-bot's `RetryAfter`)."""

    def __init__(self, seconds: float) -> None:
        super().__init__("slow down")
        self.retry_after = timedelta(seconds=seconds)


class Refused(Exception):
    pass


def retrier(sleeps: Sleeps) -> Retrier:
    return Retrier(RetryPolicy(base_delay=1.0, max_delay=30.0), sleep=sleeps, random=lambda: 1.0)


async def test_keep_trying_outlasts_max_attempts_with_capped_backoff() -> None:
    sleeps = Sleeps()
    calls = 0

    async def connect() -> str:
        nonlocal calls
        calls += 1
        if calls < 8:
            raise ConnectionError("unreachable")
        return "connected"

    found = await retrier(sleeps).keep_trying(
        connect, retryable=lambda e: isinstance(e, ConnectionError), label="connecting"
    )
    assert found == "connected" and calls == 8
    assert sleeps.delays == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]


async def test_keep_trying_honours_retry_after_however_long_and_stops_on_final_errors() -> None:
    sleeps = Sleeps()
    answers: list[Exception] = [
        SlowDown(90.0),
        RateLimited(429, None, "slow", partner="p", retry_after=45.0),
        Refused("bad token"),
    ]

    async def fetch() -> None:
        raise answers.pop(0)

    with pytest.raises(Refused):
        await retrier(sleeps).keep_trying(
            fetch, retryable=lambda e: not isinstance(e, Refused), label="fetching"
        )
    assert sleeps.delays == [90.0, 45.0]  # beyond max_delay, and still waited


async def test_keep_trying_after_a_failed_first_try_waits_before_its_first_attempt() -> None:
    sleeps = Sleeps()
    seen: list[int] = []

    async def connect() -> None:
        seen.append(len(sleeps.delays))

    await retrier(sleeps).keep_trying(connect, retryable=lambda e: True, failed=1)
    assert seen == [1] and sleeps.delays == [1.0]


def test_pause_after_counts_attempts_beyond_the_cap_and_prefers_the_hint() -> None:
    timing = Retrier(RetryPolicy(base_delay=2.0, max_delay=300.0), random=lambda: 1.0)
    assert [timing.pause_after(n) for n in (1, 4, 8, 500)] == [2.0, 16.0, 256.0, 300.0]
    assert timing.pause_after(3, SlowDown(7.5)) == 7.5
    assert timing.pause_after(3, ValueError("no hint")) == 8.0
