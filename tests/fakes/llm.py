"""Test models behind the LLM seam: a fixed script, or a function of the transcript."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from conversations.llm import LLMRequest, LLMResponse, TextPart, ToolCallPart

_ids = itertools.count(1)


def call(name: str, **args: Any) -> ToolCallPart:
    return ToolCallPart(f"call_{next(_ids)}", name, args)


def text(value: str) -> LLMResponse:
    return LLMResponse((TextPart(value),))


def calls(*parts: ToolCallPart) -> LLMResponse:
    return LLMResponse(tuple(parts), "tool_use")


class ScriptedLLM:
    """Answers each request with the next scripted response and records every request."""

    def __init__(self, script: Iterable[LLMResponse | ToolCallPart | str]) -> None:
        self._script = [self._coerce(item) for item in script]
        self.requests: list[LLMRequest] = []

    @staticmethod
    def _coerce(item: LLMResponse | ToolCallPart | str) -> LLMResponse:
        if isinstance(item, str):
            return text(item)
        if isinstance(item, ToolCallPart):
            return calls(item)
        return item

    async def complete(self, request: LLMRequest) -> LLMResponse:
        self.requests.append(request)
        if not self._script:
            raise AssertionError("the scripted model ran out of responses")
        return self._script.pop(0)

    @property
    def exhausted(self) -> bool:
        return not self._script


class FunctionLLM:
    """Answers with `function(request)`, for tests where the reply depends on the transcript."""

    def __init__(
        self, function: Callable[[LLMRequest], LLMResponse | Awaitable[LLMResponse]]
    ) -> None:
        self._function = function
        self.requests: list[LLMRequest] = []

    async def complete(self, request: LLMRequest) -> LLMResponse:
        self.requests.append(request)
        result = self._function(request)
        if isinstance(result, LLMResponse):
            return result
        return await result


def tool_results(request: LLMRequest) -> list[Mapping[str, Any]]:
    """The JSON tool results in the newest message of a request."""
    import json

    from conversations.llm import ToolResultPart

    last = request.messages[-1]
    return [json.loads(p.content) for p in last.parts if isinstance(p, ToolResultPart)]
