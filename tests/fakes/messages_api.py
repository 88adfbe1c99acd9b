"""A local fake of the Anthropic Messages API (`POST /v1/messages`), as a Starlette app.

It answers from a script (a list of `Reply` / `ErrorReply`, consumed in order) or from a
function of the request (`responder=`), in JSON or, for `"stream": true`, in the SSE event
sequence the SDK parses (message_start, content_block_start/delta/stop, message_delta,
message_stop, plus `ping` and in-stream `error` events). Every request it receives is
recorded in `requests`, retried attempts included, so tests can assert the system prompt,
tools, `cache_control` breakpoints and tool results that actually went over the wire.

It also checks requests the way the API does (auth and version headers, required fields,
empty text, tool_result/tool_use pairing, at most four cache breakpoints, tool names) and
answers a violation with the API's 400 `invalid_request_error`, so a translation bug fails
the test instead of passing against a lenient fake.

    fake = FakeMessagesAPI([text_reply("Hi"), error_reply(529), text_reply("Again")])
    async with fake.serve() as base_url:
        client = anthropic.AsyncAnthropic(api_key="test", base_url=base_url)
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import inspect
import json
import re
import socket
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.fakes.prompt_cache import PromptCache

__all__ = [
    "ErrorReply",
    "FakeMessagesAPI",
    "FakeResponse",
    "FakeUsage",
    "RecordedRequest",
    "Reply",
    "Responder",
    "Text",
    "ToolUse",
    "error_reply",
    "text_reply",
    "tool_reply",
]

# ---- script entries ---------------------------------------------------------------------


@dataclass(frozen=True)
class FakeUsage:
    input_tokens: int = 10
    output_tokens: int = 5
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0


@dataclass(frozen=True)
class Text:
    """A text block. `deltas` is how it is split when streamed (default: word by word)."""

    text: str
    deltas: tuple[str, ...] | None = None

    def stream_deltas(self) -> tuple[str, ...]:
        if self.deltas is not None:
            if "".join(self.deltas) != self.text:
                raise ValueError("Text.deltas must join to Text.text")
            return self.deltas
        return tuple(re.findall(r"\S+\s*|\s+", self.text))


@dataclass(frozen=True)
class ToolUse:
    """A tool_use block. `id` defaults to a per-fake counter (`toolu_fake_0001`, ...)."""

    name: str
    input: Mapping[str, Any] = field(default_factory=dict)
    id: str | None = None


@dataclass(frozen=True)
class Reply:
    """An assistant message. `stop_reason` defaults to tool_use / end_turn by content."""

    content: tuple[Text | ToolUse, ...]
    stop_reason: str | None = None
    usage: FakeUsage = FakeUsage()
    model: str | None = None  # default: echo the request's model
    delay: float = 0.0  # seconds to wait before answering (to exercise client timeouts)
    gap: float = 0.0  # seconds between streamed events (a model that writes slowly)


@dataclass(frozen=True)
class ErrorReply:
    """An API error in the API's JSON shape.

    `retry_after_ms` is sent as the `retry-after-ms` header, which the SDK obeys instead of
    its own exponential backoff: the default keeps retries fast in tests; `None` leaves the
    SDK's backoff in charge. With `in_stream=True` a streaming request gets 200, a
    message_start and then an `event: error` (an overload mid-stream), which the SDK
    does not retry.
    """

    status: int
    error_type: str | None = None
    message: str | None = None
    retry_after_ms: int | None = 1
    headers: Mapping[str, str] = field(default_factory=dict)
    in_stream: bool = False
    delay: float = 0.0


FakeResponse: TypeAlias = Reply | ErrorReply


def text_reply(text: str, *, usage: FakeUsage | None = None, **kwargs: Any) -> Reply:
    return Reply((Text(text),), usage=usage or FakeUsage(), **kwargs)


def tool_reply(*calls: ToolUse, text: str | None = None, usage: FakeUsage | None = None) -> Reply:
    lead: tuple[Text | ToolUse, ...] = (Text(text),) if text else ()
    return Reply((*lead, *calls), usage=usage or FakeUsage())


def error_reply(status: int, error_type: str | None = None, **kwargs: Any) -> ErrorReply:
    return ErrorReply(status, error_type, **kwargs)


_ERROR_TYPES = {
    400: ("invalid_request_error", "Invalid request"),
    401: ("authentication_error", "invalid x-api-key"),
    402: ("billing_error", "Your credit balance is too low"),
    403: ("permission_error", "Your API key does not have permission to use this resource"),
    404: ("not_found_error", "Not found"),
    413: ("request_too_large", "Request exceeds the maximum allowed number of bytes"),
    429: ("rate_limit_error", "Number of request tokens has exceeded your rate limit"),
    500: ("api_error", "Internal server error"),
    504: ("timeout_error", "Request timed out"),
    529: ("overloaded_error", "Overloaded"),
}


# ---- recorded requests ------------------------------------------------------------------


@dataclass(frozen=True)
class RecordedRequest:
    """One request as received: the parsed JSON body and the (lower-cased) headers."""

    index: int
    body: Mapping[str, Any]
    headers: Mapping[str, str]
    rejected: str | None = None  # the 400 message, when validation refused it

    @property
    def model(self) -> str:
        return str(self.body.get("model"))

    @property
    def stream(self) -> bool:
        return self.body.get("stream") is True

    @property
    def system(self) -> Any:
        return self.body.get("system")

    @property
    def tools(self) -> list[dict[str, Any]]:
        return list(self.body.get("tools") or [])

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages") or [])

    @property
    def tool_results(self) -> list[dict[str, Any]]:
        """The tool_result blocks of the last message (the turn answering tool calls)."""
        if not self.messages:
            return []
        content = self.messages[-1].get("content")
        if not isinstance(content, list):
            return []
        return [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"]

    @property
    def said(self) -> str | None:
        """The person's words in the last message; None when it carries tool results."""
        content = self.messages[-1].get("content") if self.messages else None
        if isinstance(content, str):
            return content
        if self.tool_results:
            return None
        blocks = [b for b in content or [] if isinstance(b, dict)]
        return " ".join(str(b.get("text", "")) for b in blocks if b.get("type") == "text")

    @property
    def retry_count(self) -> int:
        return int(self.headers.get("x-stainless-retry-count", "0"))


Responder: TypeAlias = Callable[[RecordedRequest], FakeResponse | Awaitable[FakeResponse]]


# ---- the fake ---------------------------------------------------------------------------


class FakeMessagesAPI:
    """The fake server. `app` is the Starlette app; `serve()` runs it on loopback."""

    def __init__(
        self,
        script: Iterable[FakeResponse] = (),
        *,
        responder: Responder | None = None,
        validate: bool = True,
        cache: PromptCache | None = None,
    ) -> None:
        """With `cache`, each reply's input usage is what the API's prompt cache would
        report for the request (its own `usage` keeps only the output tokens)."""
        self._script: deque[FakeResponse] = deque(script)
        self._cache = cache
        self._responder = responder
        self._validate = validate
        self._tool_ids = 0
        self.requests: list[RecordedRequest] = []
        self.errors: list[str] = []  # validation failures, exhausted script, responder crashes
        self.app = Starlette(routes=[Route("/v1/messages", self._messages, methods=["POST"])])

    def push(self, *responses: FakeResponse) -> None:
        self._script.extend(responses)

    @property
    def remaining(self) -> int:
        return len(self._script)

    def serve(self) -> contextlib.AbstractAsyncContextManager[str]:
        return _serve_in_background(self.app)

    # -- HTTP ------------------------------------------------------------------------------

    async def _messages(self, request: Request) -> Response:
        headers = {k.lower(): v for k, v in request.headers.items()}
        index = len(self.requests)
        try:
            body = json.loads(await request.body())
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return self._reject(index, {}, headers, 400, "request body must be a JSON object")

        if self._validate:
            if (header_problem := _check_headers(headers)) is not None:
                return self._reject(index, body, headers, *header_problem)
            if (body_problem := _check_body(body)) is not None:
                return self._reject(index, body, headers, 400, body_problem)

        recorded = RecordedRequest(index=index, body=body, headers=headers)
        self.requests.append(recorded)
        try:
            answer = await self._next(recorded)
        except _FakeProblem as problem:
            self.errors.append(str(problem))
            return _error_response(ErrorReply(400, message=str(problem)), _request_id(index))

        if self._cache is not None and isinstance(answer, Reply):
            cached = self._cache.account(body)
            usage = FakeUsage(output_tokens=answer.usage.output_tokens, **vars(cached))
            answer = dataclasses.replace(answer, usage=usage)
        if answer.delay:
            await asyncio.sleep(answer.delay)
        if isinstance(answer, ErrorReply):
            if answer.in_stream and recorded.stream:
                return self._sse(recorded, None, answer)
            return _error_response(answer, _request_id(index))
        if recorded.stream:
            return self._sse(recorded, answer, None)
        return JSONResponse(
            self._message_json(recorded, answer), headers={"request-id": _request_id(index)}
        )

    def _reject(
        self,
        index: int,
        body: Mapping[str, Any],
        headers: Mapping[str, str],
        status: int,
        message: str,
    ) -> Response:
        self.requests.append(RecordedRequest(index, body, headers, rejected=message))
        self.errors.append(message)
        return _error_response(
            ErrorReply(status, message=message, retry_after_ms=None), _request_id(index)
        )

    async def _next(self, recorded: RecordedRequest) -> FakeResponse:
        if self._responder is not None:
            try:
                result = self._responder(recorded)
                if inspect.isawaitable(result):
                    result = await result
            except Exception as err:
                raise _FakeProblem(f"fake responder raised {type(err).__name__}: {err}") from err
            if not isinstance(result, Reply | ErrorReply):
                raise _FakeProblem(f"fake responder returned {type(result).__name__}")
            return result
        if not self._script:
            raise _FakeProblem("fake Messages API: script exhausted")
        return self._script.popleft()

    # -- bodies ----------------------------------------------------------------------------

    def _blocks_json(self, reply: Reply) -> list[dict[str, Any]]:
        blocks: list[dict[str, Any]] = []
        for block in reply.content:
            if isinstance(block, Text):
                blocks.append({"type": "text", "text": block.text})
            else:
                blocks.append(
                    {
                        "type": "tool_use",
                        "id": block.id or self._new_tool_id(),
                        "name": block.name,
                        "input": dict(block.input),
                    }
                )
        return blocks

    def _new_tool_id(self) -> str:
        self._tool_ids += 1
        return f"toolu_fake_{self._tool_ids:04d}"

    def _message_json(self, recorded: RecordedRequest, reply: Reply) -> dict[str, Any]:
        return {
            "id": f"msg_fake_{recorded.index:04d}",
            "type": "message",
            "role": "assistant",
            "model": reply.model or recorded.model,
            "content": self._blocks_json(reply),
            "stop_reason": _stop_reason(reply),
            "stop_sequence": None,
            "usage": _usage_json(reply.usage),
        }

    def _sse(
        self, recorded: RecordedRequest, reply: Reply | None, error: ErrorReply | None
    ) -> StreamingResponse:
        message = self._message_json(recorded, reply or Reply(()))
        events = list(_stream_events(message, reply, error))
        gap = reply.gap if reply is not None else 0.0

        async def body() -> AsyncIterator[bytes]:
            for name, data in events:
                yield f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()
                await asyncio.sleep(gap)  # each event goes out as its own chunk

        return StreamingResponse(
            body(),
            media_type="text/event-stream",
            headers={"request-id": _request_id(recorded.index), "cache-control": "no-cache"},
        )


class _FakeProblem(Exception):
    pass


def _request_id(index: int) -> str:
    return f"req_fake_{index:04d}"


def _stop_reason(reply: Reply) -> str:
    if reply.stop_reason is not None:
        return reply.stop_reason
    return "tool_use" if any(isinstance(b, ToolUse) for b in reply.content) else "end_turn"


def _usage_json(usage: FakeUsage) -> dict[str, Any]:
    return {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_creation_input_tokens": usage.cache_creation_input_tokens,
        "cache_read_input_tokens": usage.cache_read_input_tokens,
    }


def _error_json(error: ErrorReply, request_id: str) -> dict[str, Any]:
    default_type, default_message = _ERROR_TYPES.get(
        error.status, ("api_error" if error.status >= 500 else "invalid_request_error", "Error")
    )
    return {
        "type": "error",
        "error": {
            "type": error.error_type or default_type,
            "message": error.message or default_message,
        },
        "request_id": request_id,
    }


def _error_response(error: ErrorReply, request_id: str) -> JSONResponse:
    headers = {"request-id": request_id, **error.headers}
    if error.retry_after_ms is not None:
        headers["retry-after-ms"] = str(error.retry_after_ms)
    return JSONResponse(_error_json(error, request_id), status_code=error.status, headers=headers)


def _stream_events(
    message: Mapping[str, Any], reply: Reply | None, error: ErrorReply | None
) -> Iterator[tuple[str, dict[str, Any]]]:
    """The SSE sequence the API sends for `message` (or a mid-stream `error`)."""
    usage = dict(message["usage"])
    start_usage = {**usage, "output_tokens": min(1, usage["output_tokens"])}
    start = {
        **message,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": start_usage,
    }
    yield "message_start", {"type": "message_start", "message": start}
    yield "ping", {"type": "ping"}
    if error is not None:
        yield "error", _error_json(error, str(message["id"]).replace("msg_", "req_"))
        return
    assert reply is not None
    for index, (block, spec) in enumerate(zip(message["content"], reply.content, strict=True)):
        if block["type"] == "text":
            yield (
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": {"type": "text", "text": ""},
                },
            )
            assert isinstance(spec, Text)
            for piece in spec.stream_deltas():
                yield (
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {"type": "text_delta", "text": piece},
                    },
                )
        else:
            yield (
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": index,
                    "content_block": {
                        "type": "tool_use",
                        "id": block["id"],
                        "name": block["name"],
                        "input": {},
                    },
                },
            )
            for piece in _json_pieces(block["input"]):
                yield (
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {"type": "input_json_delta", "partial_json": piece},
                    },
                )
        yield "content_block_stop", {"type": "content_block_stop", "index": index}
    yield (
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
            # Counts on message_delta are cumulative totals, as the API sends them.
            "usage": usage,
        },
    )
    yield "message_stop", {"type": "message_stop"}


def _json_pieces(value: Mapping[str, Any]) -> list[str]:
    """The tool input as the API streams it: JSON text in a few arbitrary pieces."""
    if not value:
        return [""]
    text = json.dumps(value)
    size = max(1, len(text) // 3)
    return [text[i : i + size] for i in range(0, len(text), size)]


# ---- request validation (a subset of the API's own checks) ------------------------------

_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")
_MAX_BREAKPOINTS = 4


def _check_headers(headers: Mapping[str, str]) -> tuple[int, str] | None:
    if not headers.get("x-api-key") and not headers.get("authorization"):
        return 401, "x-api-key header is required"
    if not headers.get("anthropic-version"):
        return 400, "anthropic-version: header is required"
    return None


def _check_body(body: Mapping[str, Any]) -> str | None:
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "model: Field required"
    max_tokens = body.get("max_tokens")
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        return "max_tokens: Field required and must be >= 1"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages: at least one message is required"
    breakpoints = 0

    system = body.get("system")
    if system is not None:
        if isinstance(system, list):
            for i, block in enumerate(system):
                if not isinstance(block, dict) or block.get("type") != "text":
                    return f"system.{i}: Input should be a text block"
                if not block.get("text"):
                    return f"system.{i}: text content blocks must be non-empty"
                breakpoints += "cache_control" in block
        elif not isinstance(system, str):
            return "system: Input should be a string or a list of text blocks"

    names: set[str] = set()
    for i, tool in enumerate(body.get("tools") or []):
        name = tool.get("name") if isinstance(tool, dict) else None
        if not isinstance(name, str) or not _TOOL_NAME.match(name):
            return f"tools.{i}.name: String should match pattern '{_TOOL_NAME.pattern}'"
        if name in names:
            return "tools: Tool names must be unique."
        names.add(name)
        schema = tool.get("input_schema")
        if not isinstance(schema, dict) or schema.get("type") != "object":
            return f"tools.{i}.input_schema.type: Input should be 'object'"
        breakpoints += "cache_control" in tool

    pending_tool_ids: set[str] = set()
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            return f"messages.{i}.role: Input should be 'user' or 'assistant'"
        content = message.get("content")
        if isinstance(content, str):
            if not content:
                return f"messages.{i}: text content must be non-empty"
            blocks: list[Any] = [{"type": "text", "text": content}]
        elif isinstance(content, list) and content:
            blocks = content
        else:
            return f"messages.{i}: all messages must have non-empty content"

        result_ids: list[str] = []
        seen_other = False
        tool_ids: set[str] = set()
        for j, block in enumerate(blocks):
            kind = block.get("type") if isinstance(block, dict) else None
            where = f"messages.{i}.content.{j}"
            breakpoints += isinstance(block, dict) and "cache_control" in block
            if kind == "text":
                if not block.get("text"):
                    return f"{where}: text content blocks must be non-empty"
                seen_other = True
            elif kind == "tool_use":
                if message["role"] != "assistant":
                    return f"{where}: tool_use blocks are only allowed in assistant messages"
                if not isinstance(block.get("input"), dict):
                    return f"{where}.input: Input should be a valid dictionary"
                tool_ids.add(str(block.get("id")))
                seen_other = True
            elif kind == "tool_result":
                if message["role"] != "user":
                    return f"{where}: tool_result blocks are only allowed in user messages"
                if seen_other:
                    return f"{where}: tool_result blocks must come first in the content"
                result_ids.append(str(block.get("tool_use_id")))
            else:
                return f"{where}.type: unsupported block type {kind!r}"

        if pending_tool_ids:
            missing = pending_tool_ids - set(result_ids)
            if message["role"] != "user" or missing:
                return (
                    f"messages.{i}: `tool_use` ids were found without `tool_result` blocks "
                    f"immediately after: {', '.join(sorted(missing or pending_tool_ids))}"
                )
        unexpected = set(result_ids) - pending_tool_ids
        if unexpected:
            return (
                f"messages.{i}: unexpected `tool_use_id` found in `tool_result` blocks: "
                f"{', '.join(sorted(unexpected))}. Each `tool_result` block must have a "
                "corresponding `tool_use` block in the previous message."
            )
        pending_tool_ids = tool_ids

    if breakpoints > _MAX_BREAKPOINTS:
        return f"A maximum of {_MAX_BREAKPOINTS} blocks with cache_control may be provided."
    return None


# ---- serving over loopback --------------------------------------------------------------


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # In a test the process's signal handlers stay pytest's.
        yield


@contextlib.asynccontextmanager
async def _serve_in_background(
    app: Any, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[str]:
    """Run an ASGI app with uvicorn on a pre-bound loopback socket; yield its base URL.

    A private stand-in for `integrations.sandbox`'s `serve_in_background` (same signature).
    """
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen()
    sock.setblocking(False)
    bound_port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        lifespan="off",
        log_level="warning",
        access_log=False,
        ws="none",
        timeout_graceful_shutdown=2,
    )
    server = _Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()  # raises what stopped it
                raise RuntimeError("uvicorn exited before starting")
            await asyncio.sleep(0.005)
        url_host = f"[{host}]" if ":" in host else host
        yield f"http://{url_host}:{bound_port}"
    finally:
        server.should_exit = True
        await task
        sock.close()
