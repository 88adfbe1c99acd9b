"""Prometheus metrics for partner calls, shared by every partner client.

* ``concierge_partner_request_seconds`` (histogram): one observation per HTTP attempt.
* ``concierge_partner_errors_total`` (counter): one increment per failed attempt.

Labels: ``partner`` (``outgoing``, ``onegent``…), ``endpoint`` (the route template such as
``GET /partner/v1/activities/{activity_id}`` — never a raw URL, so ids, queries and personal
data stay out of label values and cardinality stays bounded) and ``status`` (the HTTP status
code, or ``timeout`` / ``unavailable`` / ``invalid_response`` when there is none or the body
was unusable).
"""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram

__all__ = [
    "DEFAULT_METRICS",
    "STATUS_INVALID_RESPONSE",
    "STATUS_TIMEOUT",
    "STATUS_UNAVAILABLE",
    "PartnerMetrics",
]

STATUS_TIMEOUT = "timeout"
STATUS_UNAVAILABLE = "unavailable"
STATUS_INVALID_RESPONSE = "invalid_response"

# Partner calls range from ~50 ms lookups to two-minute agentic searches.
_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 90.0, 120.0, 180.0)
_LABELS = ("partner", "endpoint", "status")


class PartnerMetrics:
    """The two partner-call metrics, registered in one registry (tests pass their own)."""

    def __init__(self, registry: CollectorRegistry | None = REGISTRY) -> None:
        self.request_seconds = Histogram(
            "concierge_partner_request_seconds",
            "Duration of one HTTP attempt to a partner API.",
            _LABELS,
            buckets=_BUCKETS,
            registry=registry,
        )
        self.errors_total = Counter(
            "concierge_partner_errors_total",
            "Failed HTTP attempts to a partner API (error status, timeout, unreachable, "
            "invalid body).",
            _LABELS,
            registry=registry,
        )

    def observe(
        self, *, partner: str, endpoint: str, status: str | int, seconds: float, error: bool
    ) -> None:
        """Record one attempt."""
        labels = {"partner": partner, "endpoint": endpoint, "status": str(status)}
        self.request_seconds.labels(**labels).observe(seconds)
        if error:
            self.errors_total.labels(**labels).inc()

    def count_error(self, *, partner: str, endpoint: str, status: str | int) -> None:
        """Count a failure found after the attempt was timed (e.g. an invalid body)."""
        self.errors_total.labels(partner=partner, endpoint=endpoint, status=str(status)).inc()


DEFAULT_METRICS = PartnerMetrics()
"""Registered in the process-wide registry that ``GET /metrics`` exposes."""
