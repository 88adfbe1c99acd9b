"""Relays: a capability that talks for the person elsewhere (an agency's agent bridged into
a thread) takes their messages there before the model does.

A relay returns None when it does not apply to this message, else what to say here (often
nothing: the answer comes from the other side, through the outbox).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from conversations.replies import Reply
from conversations.tools.context import ToolContext
from conversations.types import InboundMessage

Relay = Callable[[ToolContext, InboundMessage], Awaitable[tuple[Reply, ...] | None]]

__all__ = ["Relay"]
