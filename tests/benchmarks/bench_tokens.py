"""Prompt-cache benchmark: input, cached and uncached tokens per turn of one long chat.

Run: `uv run python -m tests.benchmarks.bench_tokens [--turns 100]`

The real anthropic SDK talks to the fake Messages API, which accounts for the prompt cache
the way the API does (`tests/fakes/prompt_cache.py`: breakpoints, 20-block look-back,
1024-token minimum); the conversation manager, its tools and the Outgoing sandbox are the
real ones. Every third turn the model calls `list_orders` (two model calls in that turn).
Printed per turn: uncached input, cache writes, cache reads and the cached share; then the
share over turns 2..N, the figure the prompt cache is judged by (goal ≥ 80 %).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import anthropic
import httpx

from bot.settings import DEFAULT_MODEL
from conversations.llm import LLMRequest, LLMResponse, Usage
from conversations.metrics import add_usage, cached_share
from integrations.anthropic_llm import AnthropicLLM
from integrations.sandbox import DEFAULT_NEGOTIATED_KEY, SandboxConfig, running_outgoing_sandbox
from storage import Database, FieldCipher, generate_key, upgrade
from storage.sealing import seal_with
from tests.conversations.conftest import Harness
from tests.fakes.messages_api import FakeMessagesAPI, FakeResponse, RecordedRequest, ToolUse
from tests.fakes.messages_api import Reply as ModelReply
from tests.fakes.messages_api import Text as ModelText
from tests.fakes.prompt_cache import PromptCache

MODEL = DEFAULT_MODEL


@dataclass
class CountingLLM:
    """The real adapter, with each turn's usage summed (the manager calls it per round)."""

    inner: AnthropicLLM
    turns: list[Usage] = field(default_factory=list)

    async def complete(self, request: LLMRequest) -> LLMResponse:
        response = await self.inner.complete(request)
        self.turns[-1] = add_usage(self.turns[-1], response.usage)
        return response


def _respond(request: RecordedRequest) -> FakeResponse:
    last = request.messages[-1]["content"]
    if any(block.get("type") == "tool_result" for block in last):
        return ModelReply((ModelText("Those are your orders; nothing is booked yet."),))
    said = " ".join(block.get("text", "") for block in last if block.get("type") == "text")
    if "orders" in said:
        return ModelReply((ToolUse("list_orders", {}),))
    return ModelReply((ModelText(f"Noted: {said[:160]} What else would you like?"),))


def _message(turn: int) -> str:
    ask = "what are my orders?" if turn % 3 == 0 else "something to do this weekend"
    return (
        f"Turn {turn}: {ask} We are four friends, we like jazz, food markets and walks by "
        "the river, and we would rather stay in Brooklyn than cross to Manhattan."
    )


async def run(turns: int, workdir: Path) -> list[Usage]:
    """`turns` turns of one conversation; the summed usage of each turn, in order."""
    fake = FakeMessagesAPI(responder=_respond, cache=PromptCache())
    url = f"sqlite+aiosqlite:///{workdir / 'tokens.db'}"
    await upgrade(url)
    db = await Database.create(url)
    seal_with(db, FieldCipher(generate_key()))
    try:
        async with (
            fake.serve() as base_url,
            running_outgoing_sandbox(SandboxConfig.fast()) as sandbox,
            httpx.AsyncClient() as http,
            anthropic.AsyncAnthropic(api_key="test", base_url=base_url, max_retries=0) as client,
        ):
            llm = CountingLLM(AnthropicLLM(client, MODEL))
            harness = Harness(db, http, sandbox, DEFAULT_NEGOTIATED_KEY)
            manager = harness.manager(llm)
            for turn in range(1, turns + 1):
                llm.turns.append(Usage())
                await harness.say(manager, _message(turn))
            if fake.errors:
                raise RuntimeError(f"the fake Messages API refused a request: {fake.errors[0]}")
            return llm.turns
    finally:
        await db.dispose()


def share_from_turn_two(turns: Sequence[Usage]) -> float:
    total = Usage()
    for usage in turns[1:]:
        total = add_usage(total, usage)
    return cached_share(total) or 0.0


def _print(turns: Sequence[Usage]) -> None:
    print(f"{'turn':>4} {'uncached':>9} {'written':>8} {'read':>7} {'cached':>7}")
    for number, usage in enumerate(turns, start=1):
        share = cached_share(usage) or 0.0
        print(
            f"{number:>4} {usage.input_tokens:>9} {usage.cache_write_tokens:>8} "
            f"{usage.cache_read_tokens:>7} {share:>7.0%}"
        )
    total = Usage()
    for usage in turns[1:]:
        total = add_usage(total, usage)
    print(
        f"turns 2..{len(turns)}: {total.input_tokens} uncached, {total.cache_write_tokens} "
        f"written, {total.cache_read_tokens} read: {share_from_turn_two(turns):.1%} cached"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        _print(asyncio.run(run(args.turns, Path(workdir))))


if __name__ == "__main__":
    main()
