"""The channel-agnostic core: conversations, the LLM loop, tools, jobs, questions and replies."""

from conversations.llm import LLM, LLMError, LLMMessage, LLMRequest, LLMResponse
from conversations.manager import ConversationManager, ManagerConfig
from conversations.replies import ActivityCard, ActivityDetail, Button, Progress, Replier, Reply
from conversations.types import ConversationAddress, GeoPoint, InboundMessage, Sender
from conversations.work import WorkTracker

__all__ = [
    "LLM",
    "ActivityCard",
    "ActivityDetail",
    "Button",
    "ConversationAddress",
    "ConversationManager",
    "GeoPoint",
    "InboundMessage",
    "LLMError",
    "LLMMessage",
    "LLMRequest",
    "LLMResponse",
    "ManagerConfig",
    "Progress",
    "Replier",
    "Reply",
    "Sender",
    "WorkTracker",
]
