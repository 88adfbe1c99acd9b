"""How late the event loop runs: a probe that asks to wake every `interval_s` and measures
how much later it actually woke. A blocked loop (a CPU-bound step, a synchronous call)
shows here before it shows as slow acks.

Exported in /metrics: every sample in `concierge_event_loop_lag_seconds` (a histogram) and
the p99 of the last `window` samples in `concierge_event_loop_lag_p99_seconds`.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import deque

from prometheus_client import Gauge, Histogram

LAG = Histogram(
    "concierge_event_loop_lag_seconds",
    "How much later than asked the event loop woke a sleeping probe",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
LAG_P99 = Gauge("concierge_event_loop_lag_p99_seconds", "p99 event-loop lag over the last samples")


class LoopLag:
    def __init__(self, *, interval_s: float = 0.1, window: int = 600) -> None:
        self._interval = interval_s
        self._samples: deque[float] = deque(maxlen=window)

    @property
    def p99(self) -> float:
        if len(self._samples) < 2:
            return max(self._samples, default=0.0)
        return statistics.quantiles(self._samples, n=100, method="inclusive")[98]

    async def run(self) -> None:
        while True:
            asked = time.perf_counter()
            await asyncio.sleep(self._interval)
            self.record(max(0.0, time.perf_counter() - asked - self._interval))

    def record(self, lag: float) -> None:
        self._samples.append(lag)
        LAG.observe(lag)
        LAG_P99.set(self.p99)
