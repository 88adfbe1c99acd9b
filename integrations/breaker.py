"""A circuit breaker per partner: after a run of failures, fail fast for a cooldown.

When a partner is down, every conversation waiting on it would otherwise spend its own
retries and timeouts; the breaker opens after `threshold` consecutive failures (timeouts,
unreachable, 5xx), answers at once with `PartnerUnavailable` for `cooldown_s`, then lets a
single probe through: its success closes the circuit, its failure opens it again.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from integrations.errors import PartnerError, PartnerHTTPError, PartnerUnavailable


class CircuitOpen(PartnerUnavailable):
    """Refused without calling: the partner failed repeatedly just now. Not worth a retry."""

    @property
    def retryable(self) -> bool:
        return False


def counts_as_failure(error: BaseException) -> bool:
    """Outages count; a partner saying no (4xx) is an answer, not an outage."""
    if isinstance(error, PartnerHTTPError):
        return error.status >= 500
    return isinstance(error, PartnerError) and error.retryable


class CircuitBreaker:
    def __init__(
        self,
        partner: str,
        *,
        threshold: int = 10,
        cooldown_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.partner = partner
        self._threshold = threshold
        self._cooldown_s = cooldown_s
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False

    @property
    def is_open(self) -> bool:
        return self._opened_at is not None

    def before(self) -> None:
        """Call before an attempt; raises while the circuit is open (one probe at a time)."""
        if self._opened_at is None:
            return
        if self._probing or self._clock() - self._opened_at < self._cooldown_s:
            raise CircuitOpen(
                f"{self.partner} is failing; not calling it for a while", partner=self.partner
            )
        self._probing = True

    def record(self, error: BaseException | None) -> None:
        """Call after an attempt with its error (None for success)."""
        probing, self._probing = self._probing, False
        if error is None or not counts_as_failure(error):
            self._failures, self._opened_at = 0, None
            return
        self._failures += 1
        if probing or self._failures >= self._threshold:
            self._opened_at = self._clock()
