"""Events matching from the chat: a chat becomes an event, its members are shared with the
organiser's approval, matching runs as tracked jobs, and each member privately gets their
introductions."""

from conversations.buttons import ButtonRouter
from conversations.capabilities.events.access import WEBHOOK_PATH, EventsAccess
from conversations.capabilities.events.create import create_event, register_create_buttons
from conversations.capabilities.events.import_job import IMPORT
from conversations.capabilities.events.matches import my_matches
from conversations.capabilities.events.matching import MATCHING, run_matching
from conversations.capabilities.events.reviews import register_review_buttons, review_queue
from conversations.capabilities.events.sharing import (
    event_sharing,
    import_attendees,
    register_sharing_buttons,
)
from conversations.tools.base import Tool

EVENT_TOOLS: tuple[Tool, ...] = (
    create_event,
    import_attendees,
    event_sharing,
    run_matching,
    my_matches,
    review_queue,
)


def register_event_buttons(router: ButtonRouter) -> None:
    register_create_buttons(router)
    register_sharing_buttons(router)
    register_review_buttons(router)


__all__ = [
    "EVENT_TOOLS",
    "IMPORT",
    "MATCHING",
    "WEBHOOK_PATH",
    "EventsAccess",
    "register_event_buttons",
]
