"""Voyagent from the chat: a trip handed to a travel agency, whose own agent then answers in
the thread (streamed, one message per turn), with its approvals decided from buttons."""

from conversations.buttons import ButtonRouter
from conversations.capabilities.voyagent.access import VoyagentAccess
from conversations.capabilities.voyagent.bridge import register_agency_buttons, relay
from conversations.capabilities.voyagent.handoff import ask_agency, register_trip_questions
from conversations.capabilities.voyagent.job import AGENCY
from conversations.capabilities.voyagent.reports import agency_report
from conversations.capabilities.voyagent.signin import register_code_questions
from conversations.questions import QuestionRouter
from conversations.tools.base import Tool

AGENCY_TOOLS: tuple[Tool, ...] = (ask_agency, agency_report)


def register_agency_questions(router: QuestionRouter) -> None:
    register_trip_questions(router)
    register_code_questions(router)


__all__ = [
    "AGENCY",
    "AGENCY_TOOLS",
    "ButtonRouter",
    "VoyagentAccess",
    "register_agency_buttons",
    "register_agency_questions",
    "relay",
]
