"""How tools are declared and what they get; the list of tools is `capabilities.registry`."""

from conversations.tools.base import Tool, ToolOutcome, tool, tool_error
from conversations.tools.context import ToolContext, ToolDeps

__all__ = [
    "Tool",
    "ToolContext",
    "ToolDeps",
    "ToolOutcome",
    "tool",
    "tool_error",
]
