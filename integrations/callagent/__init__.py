"""AI Call Agent partner API: typed async client, its models and the SSE call events."""

from integrations.callagent import models
from integrations.callagent.client import CallAgentClient
from integrations.callagent.errors import DialFailed, Maintenance
from integrations.callagent.events import (
    AskUserEvent,
    CallEvent,
    OutcomeEvent,
    StatusEvent,
    TranscriptEvent,
    UnknownEvent,
    parse_event,
)
from integrations.callagent.models import (
    Booking,
    BookingStatus,
    Call,
    MergedTranscript,
    StartCallBody,
    StartedCall,
    TaskKind,
    Turn,
)
from integrations.callagent.wire import PARTNER

__all__ = [
    "PARTNER",
    "AskUserEvent",
    "Booking",
    "BookingStatus",
    "Call",
    "CallAgentClient",
    "CallEvent",
    "DialFailed",
    "Maintenance",
    "MergedTranscript",
    "OutcomeEvent",
    "StartCallBody",
    "StartedCall",
    "StatusEvent",
    "TaskKind",
    "TranscriptEvent",
    "Turn",
    "UnknownEvent",
    "models",
    "parse_event",
]
