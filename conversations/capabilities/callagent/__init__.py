"""Phone calls placed by the AI Call Agent, with its mid-call questions asked in the thread."""

from conversations.capabilities.callagent.access import CallAgentAccess
from conversations.capabilities.callagent.asks import register_call_questions
from conversations.capabilities.callagent.buttons import register_call_buttons
from conversations.capabilities.callagent.call_job import CALL
from conversations.capabilities.callagent.start import start_call

__all__ = [
    "CALL",
    "CallAgentAccess",
    "register_call_buttons",
    "register_call_questions",
    "start_call",
]
