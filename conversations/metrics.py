"""Prometheus metrics of the conversation core (served by `serve` at /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

TURNS = Counter("concierge_turns_total", "Conversation turns handled", ["platform", "outcome"])
TOOL_CALLS = Counter(
    "concierge_tool_calls_total", "Tool calls made by the model", ["tool", "outcome"]
)
TURN_SECONDS = Histogram(
    "concierge_turn_seconds",
    "Wall time of one conversation turn",
    ["platform"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)
DUPLICATES = Counter(
    "concierge_duplicate_events_total", "Inbound events dropped as duplicates", ["platform"]
)
