"""The LLM seam: one method over neutral, frozen message types.

The conversation loop speaks only these types. The Anthropic adapter
(`integrations.anthropic_llm`) translates them to the Messages API; tests use
`ScriptedLLM` and `FunctionLLM`; without an API key the offline planner stands in.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeAlias


@dataclass(frozen=True)
class TextPart:
    text: str


@dataclass(frozen=True)
class ToolCallPart:
    id: str
    name: str
    args: Mapping[str, Any]


@dataclass(frozen=True)
class ToolResultPart:
    """A tool's outcome as JSON text. Untrusted partner text only ever travels here."""

    tool_call_id: str
    content: str
    is_error: bool = False


Part: TypeAlias = TextPart | ToolCallPart | ToolResultPart


@dataclass(frozen=True)
class LLMMessage:
    role: Literal["user", "assistant"]
    parts: tuple[Part, ...]


@dataclass(frozen=True)
class ToolSpec:
    """A tool as the model sees it: name, description and JSON schema of its arguments."""

    name: str
    description: str
    input_schema: Mapping[str, Any]


TextSink: TypeAlias = Callable[[str], Awaitable[None]]


@dataclass(frozen=True)
class LLMRequest:
    system: str
    messages: tuple[LLMMessage, ...]
    tools: tuple[ToolSpec, ...] = ()
    max_tokens: int = 1024
    stable: int = 0
    """How many leading `messages` are stored history that the next requests will repeat
    unchanged (the window moves in chunks): adapters with a prompt cache mark its end."""
    # Receives text deltas as they stream; adapters that cannot stream ignore it.
    on_text: TextSink | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0


@dataclass(frozen=True)
class LLMResponse:
    parts: tuple[TextPart | ToolCallPart, ...]
    stop_reason: str = "end_turn"
    usage: Usage = Usage()

    @property
    def text(self) -> str:
        return "".join(p.text for p in self.parts if isinstance(p, TextPart))

    @property
    def tool_calls(self) -> tuple[ToolCallPart, ...]:
        return tuple(p for p in self.parts if isinstance(p, ToolCallPart))


class LLM(Protocol):
    """Anything that can answer a transcript: a real model, a script, a planner."""

    async def complete(self, request: LLMRequest) -> LLMResponse: ...


class LLMError(Exception):
    """The model could not answer (overloaded, unreachable, refused the request)."""
