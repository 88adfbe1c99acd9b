"""The tools the model may call (names of the contract's LLM tools are fixed)."""

from conversations.tools.activities import ACTIVITY_TOOLS
from conversations.tools.base import Tool, ToolOutcome, tool, tool_error
from conversations.tools.booking import book_activity, register_booking_buttons
from conversations.tools.context import ToolContext, ToolDeps

ALL_TOOLS: tuple[Tool, ...] = (*ACTIVITY_TOOLS, book_activity)

__all__ = [
    "ALL_TOOLS",
    "Tool",
    "ToolContext",
    "ToolDeps",
    "ToolOutcome",
    "register_booking_buttons",
    "tool",
    "tool_error",
]
