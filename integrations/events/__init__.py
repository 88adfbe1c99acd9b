"""Events matching Partner API: typed async client, its models and its error classes."""

from integrations.events import models, wire
from integrations.events.chunks import ImportLimits
from integrations.events.client import EventsClient
from integrations.events.wire import CODE_ERRORS, PARTNER, EventsError

__all__ = [
    "CODE_ERRORS",
    "PARTNER",
    "EventsClient",
    "EventsError",
    "ImportLimits",
    "models",
    "wire",
]
