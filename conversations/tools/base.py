"""How a tool is declared, described to the model, validated and run.

A tool is `async def name(ctx: ToolContext, **typed_args) -> ToolOutcome`. Its docstring
is the model's description; its signature becomes a pydantic model that validates the
model's arguments before the tool runs (unknown or extra arguments are refused).
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, get_type_hints

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from conversations.llm import ToolSpec
from conversations.replies import Reply

ToolFunction = Callable[..., Awaitable["ToolOutcome"]]


@dataclass(frozen=True)
class ToolOutcome:
    """What a tool hands back: JSON for the model and replies for the people in the chat.

    `for_model` carries partner text only as data (with a `source`), never as instructions.
    """

    for_model: Mapping[str, Any]
    replies: tuple[Reply, ...] = ()
    is_error: bool = False

    def model_json(self) -> str:
        return json.dumps(self.for_model, ensure_ascii=False, default=str)

    def as_replies(self) -> tuple[Reply, ...]:
        """What a button or an answer shows when it runs a tool: its replies, or its error
        in words (there is no model to say it)."""
        if self.is_error:
            return (Reply(text=str(self.for_model.get("error", "That didn't work."))),)
        return self.replies


def tool_error(message: str, *, hint: str | None = None) -> ToolOutcome:
    """A failed tool call: the model reads `error` (said to the user) and `hint` (what to do)."""
    body: dict[str, Any] = {"error": message}
    if hint:
        body["hint"] = hint
    return ToolOutcome(for_model=body, is_error=True)


class _StrictArgs(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    args_model: type[BaseModel]
    function: ToolFunction
    partner: str | None = None
    offered: Callable[[Any], Awaitable[bool]] | None = None
    """Whether to offer it in this turn's context (a read-only key offers no writes)."""
    spec: ToolSpec = field(init=False)

    def __post_init__(self) -> None:
        schema = self.args_model.model_json_schema()
        schema.pop("title", None)
        object.__setattr__(self, "spec", ToolSpec(self.name, self.description, schema))

    def validate(self, args: Mapping[str, Any]) -> BaseModel:
        return self.args_model.model_validate(dict(args))

    async def run(self, ctx: Any, args: BaseModel) -> ToolOutcome:
        return await self.function(
            ctx, **{name: getattr(args, name) for name in type(args).model_fields}
        )


def tool(
    *, partner: str | None = None, offered: Callable[[Any], Awaitable[bool]] | None = None
) -> Callable[[ToolFunction], Tool]:
    """Turn an async function into a `Tool`; `partner` names the partner it needs configured,
    `offered` (given the turn's `ToolContext`) whether that partner lets it act here."""

    def wrap(function: ToolFunction) -> Tool:
        hints = get_type_hints(function, include_extras=True)
        fields: dict[str, Any] = {}
        for name, param in list(inspect.signature(function).parameters.items())[1:]:
            default = ... if param.default is inspect.Parameter.empty else param.default
            fields[name] = (hints[name], default)
        args_model = create_model(f"{function.__name__}_args", __base__=_StrictArgs, **fields)
        description = inspect.cleandoc(function.__doc__ or "")
        return Tool(function.__name__, description, args_model, function, partner, offered)

    return wrap


def describe_validation_error(error: ValidationError) -> str:
    """A short, model-readable account of what was wrong with the arguments."""
    problems = []
    for item in error.errors(include_url=False, include_input=False):
        where = ".".join(str(p) for p in item["loc"]) or "arguments"
        problems.append(f"{where}: {item['msg']}")
    return "; ".join(problems)
