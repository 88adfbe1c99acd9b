"""Prometheus metrics of the conversation core (served by `serve` at /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from conversations.llm import Usage

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
LLM_TOKENS = Counter(
    "concierge_llm_tokens_total",
    "Model tokens: input (uncached), cache_read, cache_write and output",
    ["kind"],
)
CACHED_SHARE = Histogram(
    "concierge_turn_cached_input_share",
    "Share of a turn's input tokens read from the prompt cache",
    buckets=(0.1, 0.25, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0),
)


def count_tokens(usage: Usage) -> None:
    """One model call's usage, added to the running totals."""
    LLM_TOKENS.labels("input").inc(usage.input_tokens)
    LLM_TOKENS.labels("cache_read").inc(usage.cache_read_tokens)
    LLM_TOKENS.labels("cache_write").inc(usage.cache_write_tokens)
    LLM_TOKENS.labels("output").inc(usage.output_tokens)


def cached_share(usage: Usage) -> float | None:
    """The share of input tokens that were cache reads (None when nothing was sent)."""
    total = usage.input_tokens + usage.cache_read_tokens + usage.cache_write_tokens
    return usage.cache_read_tokens / total if total else None


def add_usage(a: Usage, b: Usage) -> Usage:
    return Usage(
        a.input_tokens + b.input_tokens,
        a.output_tokens + b.output_tokens,
        a.cache_read_tokens + b.cache_read_tokens,
        a.cache_write_tokens + b.cache_write_tokens,
    )


def count_turn_tokens(usage: Usage) -> None:
    """A whole turn's usage (every model call of it): its cached share."""
    share = cached_share(usage)
    if share is not None:
        CACHED_SHARE.observe(share)
