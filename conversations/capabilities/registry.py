"""The one list of capabilities: every tool, job kind and button the concierge offers.

Adding a partner means adding its capability package and a line here.
"""

from __future__ import annotations

from conversations.buttons import ButtonRouter
from conversations.capabilities.callagent import (
    CALL,
    register_call_buttons,
    register_call_questions,
    start_call,
)
from conversations.capabilities.events import EVENT_TOOLS, IMPORT, MATCHING, register_event_buttons
from conversations.capabilities.jobs_tools import job_status
from conversations.capabilities.onegent import (
    RESERVATION,
    register_reserve_buttons,
    register_reserve_questions,
    reserve,
)
from conversations.capabilities.outgoing.booking_choices import register_booking_questions
from conversations.capabilities.outgoing.booking_job import BOOKING
from conversations.capabilities.outgoing.search_job import SEARCH, search_activities
from conversations.capabilities.plans import PLAN, plan_outing, register_plan_buttons
from conversations.capabilities.voyagent import (
    AGENCY,
    AGENCY_TOOLS,
    register_agency_buttons,
    register_agency_questions,
    relay,
)
from conversations.jobs import JobKind
from conversations.questions import QuestionRouter
from conversations.relays import Relay
from conversations.tools.activities import ACTIVITY_TOOLS
from conversations.tools.base import Tool
from conversations.tools.booking import book_activity, register_booking_buttons

ALL_TOOLS: tuple[Tool, ...] = (
    search_activities,
    *ACTIVITY_TOOLS,
    book_activity,
    start_call,
    reserve,
    *EVENT_TOOLS,
    *AGENCY_TOOLS,
    plan_outing,
    job_status,
)
JOB_KINDS: tuple[JobKind, ...] = (
    SEARCH,
    BOOKING,
    CALL,
    RESERVATION,
    IMPORT,
    MATCHING,
    AGENCY,
    PLAN,
)
RELAYS: tuple[Relay, ...] = (relay,)


def questions() -> QuestionRouter:
    router = QuestionRouter()
    register_booking_questions(router)
    register_call_questions(router)
    register_reserve_questions(router)
    register_agency_questions(router)
    return router


def buttons(answers: QuestionRouter) -> ButtonRouter:
    router = ButtonRouter()
    register_booking_buttons(router)
    register_call_buttons(router)
    register_reserve_buttons(router)
    register_event_buttons(router)
    register_agency_buttons(router)
    register_plan_buttons(router)
    router.register("answer", answers.button)
    return router
