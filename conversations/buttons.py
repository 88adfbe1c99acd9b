"""Button presses → code, never the model. A button's value is `verb` or `verb:argument`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from conversations.replies import BUTTON_EXPIRED, LINK, Reply
from conversations.tools.activities import get_activity, more_results
from conversations.tools.base import Tool
from conversations.tools.context import ToolContext

ButtonHandler = Callable[[ToolContext, str], Awaitable[tuple[Reply, ...]]]

EXPIRED = BUTTON_EXPIRED


def _tool_button(tool: Tool, argument_name: str | None) -> ButtonHandler:
    """A button that runs a tool with the button's argument, showing what the tool shows."""

    async def handle(ctx: ToolContext, argument: str) -> tuple[Reply, ...]:
        raw = {argument_name: argument} if argument_name else {}
        try:
            args = tool.validate(raw)
        except ValueError:
            return (EXPIRED,)
        return (await tool.run(ctx, args)).as_replies()

    return handle


async def _link_pressed(ctx: ToolContext, argument: str) -> tuple[Reply, ...]:
    return ()  # the platform opened the link; there is nothing to do here


class ButtonRouter:
    """Maps a button's verb to its handler; other capabilities register theirs."""

    def __init__(self) -> None:
        self._handlers: dict[str, ButtonHandler] = {
            "details": _tool_button(get_activity, "activity_id"),
            "more": _tool_button(more_results, None),
            LINK: _link_pressed,
        }

    def register(self, verb: str, handler: ButtonHandler) -> None:
        self._handlers[verb] = handler

    async def dispatch(self, ctx: ToolContext, value: str) -> tuple[Reply, ...]:
        verb, _, argument = value.partition(":")
        handler = self._handlers.get(verb)
        if handler is None or len(value) > 200:
            return (EXPIRED,)
        return await handler(ctx, argument)
