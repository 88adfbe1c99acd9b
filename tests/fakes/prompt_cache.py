"""Prompt-cache accounting as the Messages API does it, for the fake Messages API.

The prompt is read in the API's order (tools, system, messages), block by block. A block
with `cache_control` is a breakpoint: the prefix up to it is written to the cache. A later
request reads the longest cached prefix that ends at one of its breakpoints or at most 20
blocks before one (the API's look-back), if that prefix has at least `minimum` tokens. What
follows the hit up to the last breakpoint is written; what follows the last breakpoint is
plain input. Tokens are estimated at four characters each, on the block's JSON without its
`cache_control` (moving a breakpoint does not change the content).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

LOOK_BACK = 20


@dataclass(frozen=True)
class CacheUsage:
    input_tokens: int
    cache_read_input_tokens: int
    cache_creation_input_tokens: int


@dataclass
class PromptCache:
    minimum: int = 1024
    _written: set[str] = field(default_factory=set)

    def account(self, body: Mapping[str, Any]) -> CacheUsage:
        blocks = _blocks(body)
        sizes = [_tokens(block) for block in blocks]
        keys = _prefix_keys(blocks)
        marks = [i for i, block in enumerate(blocks) if "cache_control" in block]
        hit = -1
        for mark in marks:
            for position in range(mark, max(-1, mark - LOOK_BACK - 1), -1):
                if keys[position] in self._written:
                    hit = max(hit, position)
                    break
        read = sum(sizes[: hit + 1])
        if read < self.minimum:
            hit, read = -1, 0
        last = marks[-1] if marks else -1
        written = sum(sizes[hit + 1 : last + 1])
        for mark in marks:
            if sum(sizes[: mark + 1]) >= self.minimum:
                self._written.add(keys[mark])
        return CacheUsage(
            input_tokens=sum(sizes[last + 1 :]),
            cache_read_input_tokens=read,
            cache_creation_input_tokens=written if last >= 0 else 0,
        )


def _blocks(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [dict(tool) for tool in body.get("tools") or []]
    system = body.get("system")
    if isinstance(system, str):
        blocks.append({"type": "text", "text": system})
    elif isinstance(system, list):
        blocks.extend(dict(block) for block in system)
    for message in body.get("messages") or []:
        content = message.get("content")
        if isinstance(content, str):
            blocks.append({"role": message.get("role"), "type": "text", "text": content})
            continue
        for block in content or []:
            blocks.append({"role": message.get("role"), **block})
    return blocks


def _plain(block: Mapping[str, Any]) -> str:
    return json.dumps(
        {k: v for k, v in block.items() if k != "cache_control"}, sort_keys=True, default=str
    )


def _tokens(block: Mapping[str, Any]) -> int:
    return max(1, len(_plain(block)) // 4)


def _prefix_keys(blocks: list[dict[str, Any]]) -> list[str]:
    digest = hashlib.sha256()
    keys = []
    for block in blocks:
        digest.update(_plain(block).encode())
        keys.append(digest.copy().hexdigest())
    return keys
