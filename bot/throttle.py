"""Sliding-window failure counters for the doors that take guesses (the bind API and page).

Why: a bind token is 256 bits, so guessing one is hopeless, but every attempt still costs a
database read and, with a real token, an Outgoing `GET /auth` call: without a limit the bind
doors are an unmetered oracle for Outgoing keys and a cheap way to load the database. A
`FailureWindow` counts failed attempts per key (a client address, a workspace) over a sliding
window and says how long a key that reached its limit must wait (`Retry-After`).

- An attempt is *reserved* before the work starts (`begin`) and forgiven afterwards when it
  did not fail (`Attempt.forgive`): concurrent guesses from one client cannot overtake the
  limit while the first ones are still in flight, and successful attempts never count.
- Refused attempts do not count, so `Retry-After` is exact: the wait ends when the oldest
  failure still in the window leaves it.
- `Blocked.first` is true for the first refusal of a burst (and again at most once per window
  while the burst lasts): the caller logs one warning per burst, not one per attempt.
- Memory is bounded: at most `max_keys` keys (least recently used evicted first), and a key
  with no failure for a whole window is forgotten (cachetools' `TTLCache`).

Single process: the counts live in this process's memory. Replicas each count their own (N
replicas let a client make up to N× the limit) and a restart forgets them. That is acceptable
for a limit whose job is to make guessing slow, not to be exact; a shared store would be the
next step if it ever has to be.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from cachetools import TTLCache

DEFAULT_MAX_KEYS = 10_000


@dataclass(frozen=True)
class Limit:
    attempts: int
    window_s: float


@dataclass(frozen=True)
class Blocked:
    retry_after_s: int
    """Whole seconds (at least 1) until the key may try again."""
    first: bool
    """The first refusal of this burst (log it), else a repeat (stay quiet)."""


@dataclass
class _Key:
    failures: deque[float] = field(default_factory=deque)
    warned_at: float | None = None


class Attempt:
    """A reserved attempt: it counts as a failure unless forgiven."""

    def __init__(self, window: FailureWindow, key: str, at: float) -> None:
        self._window, self._key, self._at = window, key, at
        self._done = False

    def forgive(self) -> None:
        """The attempt did not fail (or failed through no fault of the client): uncount it."""
        if not self._done:
            self._done = True
            self._window._forget(self._key, self._at)


class FailureWindow:
    """At most `limit.attempts` failures per key in any `limit.window_s` seconds."""

    def __init__(
        self,
        limit: Limit,
        *,
        max_keys: int = DEFAULT_MAX_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if limit.attempts < 1 or limit.window_s <= 0:
            raise ValueError("a limit needs at least one attempt and a positive window")
        self.limit = limit
        self._clock = clock
        self._keys: TTLCache[str, _Key] = TTLCache(
            maxsize=max_keys, ttl=limit.window_s, timer=clock
        )

    def blocked(self, key: str) -> Blocked | None:
        """None when `key` may try now; else how long it must wait."""
        now = self._clock()
        state = self._live(key, now)
        if state is None or len(state.failures) < self.limit.attempts:
            return None
        oldest = state.failures[len(state.failures) - self.limit.attempts]
        wait = max(1, math.ceil(oldest + self.limit.window_s - now))
        first = state.warned_at is None or now - state.warned_at >= self.limit.window_s
        if first:
            state.warned_at = now
        return Blocked(retry_after_s=wait, first=first)

    def begin(self, key: str) -> Attempt | Blocked:
        """Reserve an attempt for `key` (counted as a failure unless forgiven), or refuse."""
        refused = self.blocked(key)
        if refused is not None:
            return refused
        now = self._clock()
        state = self._live(key, now) or _Key()
        state.failures.append(now)
        self._keys[key] = state  # (re)sets the key's expiry: a window after its last failure
        return Attempt(self, key, now)

    def _live(self, key: str, now: float) -> _Key | None:
        state = self._keys.get(key)
        if state is None:
            return None
        while state.failures and state.failures[0] <= now - self.limit.window_s:
            state.failures.popleft()
        return state

    def _forget(self, key: str, at: float) -> None:
        state = self._keys.get(key)
        if state is not None and at in state.failures:
            state.failures.remove(at)


def client_key(host: str | None) -> str:
    """The key of a client address: IPv4 as is, IPv6 by its /64 (one subscriber's network
    holds 2^64 addresses), an IPv4-mapped IPv6 address as its IPv4."""
    if not host:
        return "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host[:64]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)
