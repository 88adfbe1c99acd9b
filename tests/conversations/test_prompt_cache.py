"""The prompt cache pays: the real adapter and manager against the fake Messages API, which
accounts for cache reads and writes the way the API does (`tests/fakes/prompt_cache.py`)."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import REGISTRY

from conversations.metrics import cached_share
from tests.benchmarks.bench_tokens import run, share_from_turn_two


async def test_from_the_second_turn_on_most_input_is_read_from_the_cache(tmp_path: Path) -> None:
    # 24 turns: past the point where the history window first moves (16 messages).
    read_before = REGISTRY.get_sample_value("concierge_llm_tokens_total", {"kind": "cache_read"})
    turns = await run(24, tmp_path)
    assert turns[0].cache_read_tokens == 0 and turns[0].cache_write_tokens > 1024
    assert share_from_turn_two(turns) >= 0.8
    # Every turn reads at least the tools and the system prompt back, even when the
    # window has just moved.
    assert all(t.cache_read_tokens >= turns[0].cache_write_tokens * 0.9 for t in turns[1:])
    assert min(cached_share(t) or 0 for t in turns[1:]) > 0.5
    # /metrics shows the same figures.
    read_after = REGISTRY.get_sample_value("concierge_llm_tokens_total", {"kind": "cache_read"})
    assert (read_after or 0) - (read_before or 0) == sum(t.cache_read_tokens for t in turns)
    assert (REGISTRY.get_sample_value("concierge_turn_cached_input_share_count") or 0) >= 24
