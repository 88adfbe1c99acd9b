"""Shared builders for test payloads and scripted model steps."""

from __future__ import annotations

from conversations.llm import ToolCallPart
from integrations.sandbox import SandboxState
from tests.fakes.llm import call

LATE_SET = "Late Set: Brooklyn Jazz Quartet"


def first_session(state: SandboxState, name: str) -> tuple[str, str, str]:
    """(activity id, date, time) of the first session of a sandbox activity, by name."""
    found = next(a for a in state.catalogue.activities if a.name == name)
    detail = found.to_detail(now=state.now())
    assert detail.ticket_price is not None
    session = detail.ticket_price.sessions[0]
    return detail.activity_id, str(session.date), str(session.time)


def book_call(
    state: SandboxState, name: str = LATE_SET, ticket: str = "General Admission", quantity: int = 2
) -> ToolCallPart:
    """The model asking to book `quantity` × `ticket` for the first session of `name`."""
    activity_id, date, time = first_session(state, name)
    return call(
        "book_activity",
        activity_id=activity_id,
        session_date=date,
        session_time=time,
        tickets=[{"name": ticket, "quantity": quantity}],
    )
