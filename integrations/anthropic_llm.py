"""The Anthropic adapter behind the `conversations.llm.LLM` seam.

Translates the neutral message types to the Messages API and back, places the
prompt-cache breakpoints, streams text deltas to `request.on_text` when it is set,
and turns every SDK failure into `LLMError` with a short message that never
carries the API key.

Prompt caching: three breakpoints. The system block (it caches the tools, which
come first, with it); the end of the stored history (`request.stable`), which the
next turns repeat unchanged while the history window stays put; and the last block,
so the next model call of the same turn reads everything before its new blocks.

Retries live in exactly one place: the SDK's own `max_retries` (connection
errors, 408/409/429/5xx/529, honouring `retry-after`). Nothing here retries again.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Iterable, Mapping, Sequence

import anthropic
from anthropic.resources.messages import DEPRECATED_MODELS as _SDK_DEPRECATED_MODELS
from anthropic.types import (
    CacheControlEphemeralParam,
    Message,
    MessageParam,
    TextBlockParam,
    ToolParam,
    ToolResultBlockParam,
    ToolUseBlockParam,
)

from conversations.llm import (
    LLMError,
    LLMMessage,
    LLMRequest,
    LLMResponse,
    TextPart,
    ToolCallPart,
    ToolResultPart,
    ToolSpec,
    Usage,
)

__all__ = ["ALLOW_ONLY_LOOPBACK", "DEPRECATED_MODELS", "AnthropicLLM"]

log = logging.getLogger(__name__)

# Set to True by tests/conftest.py: `complete` then refuses any base URL that is not
# loopback, so no test can ever reach the real API.
ALLOW_ONLY_LOOPBACK = False

# Models past or near their end of life that we refuse even under an SDK that no longer
# (or does not yet) list them: the contract names `claude-sonnet-4-5`.
_KNOWN_END_OF_LIFE: Mapping[str, str] = {
    "claude-sonnet-4-5": "November 30th, 2026",
    "claude-sonnet-4-5-20250929": "November 30th, 2026",
}
# The installed SDK's public list (the one its own deprecation warnings use), and ours.
DEPRECATED_MODELS: Mapping[str, str] = {**_KNOWN_END_OF_LIFE, **_SDK_DEPRECATED_MODELS}

_EPHEMERAL: CacheControlEphemeralParam = {"type": "ephemeral"}
_SAFE_TOKEN = re.compile(r"[A-Za-z0-9_.:-]{1,80}")


class AnthropicLLM:
    """`LLM` over an injected `anthropic.AsyncAnthropic` and a model id."""

    def __init__(self, client: anthropic.AsyncAnthropic, model: str) -> None:
        _refuse_deprecated(model)
        self._client = client
        self._model = model

    @classmethod
    def from_settings(
        cls,
        api_key: str | None,
        base_url: str | None,
        model: str,
        timeout: float = 60,
        *,
        max_retries: int = anthropic.DEFAULT_MAX_RETRIES,
    ) -> AnthropicLLM:
        """Build the client from deployment settings (`None` lets the SDK use its defaults)."""
        _refuse_deprecated(model)  # before building a client
        client = anthropic.AsyncAnthropic(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
        )
        return cls(client, model)

    @property
    def model(self) -> str:
        return self._model

    async def aclose(self) -> None:
        """Close the SDK's HTTP connections (on shutdown)."""
        await self._client.close()

    @property
    def client(self) -> anthropic.AsyncAnthropic:
        return self._client

    async def complete(self, request: LLMRequest) -> LLMResponse:
        self._check_loopback()
        messages = _messages(request.messages, stable=request.stable)
        system = _system(request.system)
        tools = _tools(request.tools, cached=not request.system)
        try:
            if request.on_text is None:
                message: Message = await self._client.messages.create(
                    model=self._model,
                    max_tokens=request.max_tokens,
                    messages=messages,
                    system=system,
                    tools=tools,
                )
            else:
                async with self._client.messages.stream(
                    model=self._model,
                    max_tokens=request.max_tokens,
                    messages=messages,
                    system=system,
                    tools=tools,
                ) as stream:
                    async for delta in stream.text_stream:
                        await request.on_text(delta)
                    message = await stream.get_final_message()
        except anthropic.AnthropicError as err:
            safe = _safe_message(err)
            log.warning("anthropic call failed: %s", safe)
            # `from None`: the SDK error holds the request, whose headers hold the key.
            raise LLMError(safe) from None
        return _response(message)

    def _check_loopback(self) -> None:
        if not ALLOW_ONLY_LOOPBACK:
            return
        host = self._client.base_url.host
        if not _is_loopback(host):
            raise LLMError(
                f"refusing to call a non-loopback Anthropic base URL ({host or 'no host'}) "
                "while ALLOW_ONLY_LOOPBACK is set"
            )


def _refuse_deprecated(model: str) -> None:
    if model in DEPRECATED_MODELS:
        raise ValueError(
            f"model {model!r} is deprecated (end of life {DEPRECATED_MODELS[model]}); "
            "configure a current model"
        )


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


# ---- neutral → Messages API ------------------------------------------------------------


def _system(system: str) -> list[TextBlockParam] | anthropic.Omit:
    if not system:
        return anthropic.omit
    # A breakpoint on the system block caches tools + system (tools come first in the prefix).
    return [{"type": "text", "text": system, "cache_control": _EPHEMERAL}]


def _messages(messages: Sequence[LLMMessage], *, stable: int = 0) -> list[MessageParam]:
    out: list[MessageParam] = []
    history_end: list[_Block] | None = None
    last: list[_Block] | None = None
    for index, message in enumerate(messages):
        blocks = _blocks(message)
        if not blocks:  # the API rejects empty content; nothing is lost by skipping it
            continue
        if message.role == "user":
            out.append({"role": "user", "content": blocks})
        else:
            out.append({"role": "assistant", "content": blocks})
        if index < stable:
            history_end = blocks
        last = blocks
    for marked in (history_end, last):
        if marked:
            marked[-1]["cache_control"] = _EPHEMERAL
    return out


_Block = TextBlockParam | ToolUseBlockParam | ToolResultBlockParam


def _blocks(message: LLMMessage) -> list[_Block]:
    results: list[_Block] = []
    others: list[_Block] = []
    for part in message.parts:
        if isinstance(part, TextPart):
            if part.text:  # the API rejects empty text blocks
                others.append({"type": "text", "text": part.text})
        elif isinstance(part, ToolCallPart):
            others.append(
                {"type": "tool_use", "id": part.id, "name": part.name, "input": dict(part.args)}
            )
        elif isinstance(part, ToolResultPart):
            results.append(
                {
                    "type": "tool_result",
                    "tool_use_id": part.tool_call_id,
                    "content": part.content,
                    "is_error": part.is_error,
                }
            )
    # The API wants tool_result blocks first in a user turn.
    return results + others


def _tools(tools: Iterable[ToolSpec], *, cached: bool) -> list[ToolParam] | anthropic.Omit:
    out: list[ToolParam] = [
        {
            "name": tool.name,
            "description": tool.description,
            "input_schema": dict(tool.input_schema),
        }
        for tool in tools
    ]
    if not out:
        return anthropic.omit
    if cached:  # no system block to carry the breakpoint: the last tool does
        out[-1]["cache_control"] = _EPHEMERAL
    return out


# ---- Messages API → neutral ------------------------------------------------------------


def _response(message: Message) -> LLMResponse:
    parts: list[TextPart | ToolCallPart] = []
    for block in message.content:
        if block.type == "text":
            if block.text:
                parts.append(TextPart(block.text))
        elif block.type == "tool_use":
            parts.append(ToolCallPart(id=block.id, name=block.name, args=dict(block.input)))
        # thinking and server-side blocks carry nothing the conversation loop uses
    usage = message.usage
    return LLMResponse(
        parts=tuple(parts),
        stop_reason=message.stop_reason or "end_turn",
        usage=Usage(
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cache_read_tokens=usage.cache_read_input_tokens or 0,
            cache_write_tokens=usage.cache_creation_input_tokens or 0,
        ),
    )


# ---- errors ----------------------------------------------------------------------------


def _token(value: object) -> str | None:
    """A server-supplied identifier, only if it looks like one (no free text)."""
    if isinstance(value, str) and _SAFE_TOKEN.fullmatch(value):
        return value
    return None


def _safe_message(err: anthropic.AnthropicError) -> str:
    """A short description built from fixed strings, the status and ids only."""
    if isinstance(err, anthropic.APITimeoutError):
        return "Anthropic API timed out"
    if isinstance(err, anthropic.APIConnectionError):
        return "could not reach the Anthropic API"
    if isinstance(err, anthropic.APIStatusError):
        status = err.status_code
        if isinstance(err, anthropic.OverloadedError) or status == 529:
            what = "Anthropic API is overloaded"
        elif isinstance(err, anthropic.RateLimitError):
            what = "Anthropic API rate limit reached"
        elif isinstance(err, anthropic.AuthenticationError | anthropic.PermissionDeniedError):
            what = "Anthropic API refused the credentials"
        elif status >= 500:
            what = "Anthropic API server error"
        else:
            what = "Anthropic API rejected the request"
        details = [str(status)]
        if error_type := _token(err.type):
            details.append(error_type)
        if request_id := _token(err.request_id):
            details.append(f"request {request_id}")
        return f"{what} ({', '.join(details)})"
    if isinstance(err, anthropic.APIResponseValidationError):
        return "Anthropic API returned a response the SDK could not parse"
    return f"Anthropic API call failed ({type(err).__name__})"
