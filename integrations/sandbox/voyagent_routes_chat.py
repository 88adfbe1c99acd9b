"""The Voyagent sandbox's chat sessions, their message stream and the approvals routes."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from integrations.sandbox.responses import invalid, json_body, parse, query_data, validation_detail
from integrations.sandbox.voyagent_agent import play_turn
from integrations.sandbox.voyagent_routes import account_of, body_of, state_of
from integrations.sandbox.voyagent_routes_stream import EventStream
from integrations.sandbox.voyagent_state import Account, ChatSession, VoyagentSandboxState, fail

__all__ = [
    "create_session",
    "delete_session",
    "get_approval",
    "get_session",
    "list_approvals",
    "list_sessions",
    "new_session",
    "post_message",
    "rename_session",
    "resolve_approval",
]


class _NewSession(BaseModel):
    title: str | None = Field(default=None, max_length=200)


class _Rename(BaseModel):
    title: str = Field(min_length=1, max_length=200)


class _Message(BaseModel):
    message: str = Field(max_length=20_000)
    approvals: dict[str, bool] | None = None


class _ApprovalsQuery(BaseModel):
    status: Literal["pending", "granted", "rejected", "expired"] | None = None
    session_id: str | None = None
    limit: int = Field(default=50, ge=1, le=200)
    offset: int = Field(default=0, ge=0)


class _Resolve(BaseModel):
    granted: bool
    reason: str | None = Field(default=None, max_length=1000)


def new_session(
    state: VoyagentSandboxState, actor: Account, title: str, enquiry_id: str | None = None
) -> ChatSession:
    session = ChatSession(
        id=state.new_id("ses"),
        tenant_id=actor.tenant_id,
        title=title,
        created_at=state.stamp(),
        enquiry_id=enquiry_id,
    )
    state.sessions[session.id] = session
    state.owners[session.id] = actor.tenant_id
    payload = {"session_id": session.id, "enquiry_id": enquiry_id}
    state.record(actor, actor.tenant_id, "session.created", f"session “{title}”", payload)
    return session


def _session(request: Request) -> ChatSession:
    state, account = state_of(request), account_of(request)
    session_id = str(request.path_params["session_id"])
    found = state.owned(state.sessions, session_id, account.tenant_id, "session_not_found")
    assert isinstance(found, ChatSession)
    return found


async def create_session(request: Request) -> Response:
    state, account = state_of(request), account_of(request)
    raw = await request.body()
    body = parse(_NewSession, await json_body(request), "body") if raw.strip() else _NewSession()
    session = new_session(state, account, body.title or "New chat")
    return JSONResponse(session.summary(), status_code=201)


async def list_sessions(request: Request) -> Response:
    state, account = state_of(request), account_of(request)
    mine = [s for s in reversed(state.sessions.values()) if s.tenant_id == account.tenant_id]
    return JSONResponse({"items": [s.summary() for s in mine]})


async def get_session(request: Request) -> Response:
    return JSONResponse(_session(request).summary())


async def rename_session(request: Request) -> Response:
    session = _session(request)
    session.title = (await body_of(_Rename, request)).title
    return JSONResponse(session.summary())


async def delete_session(request: Request) -> Response:
    """Cascades to the session's approvals; its enquiry forgets it."""
    state, session = state_of(request), _session(request)
    del state.sessions[session.id]
    for approval_id in [a for a, row in state.approvals.items() if row["session_id"] == session.id]:
        del state.approvals[approval_id]
        state.approval_facts.pop(approval_id, None)
    if session.enquiry_id in state.enquiries:
        state.enquiries[session.enquiry_id]["session_id"] = None
    session.wake()
    return Response(status_code=204)


async def post_message(request: Request) -> EventStream:
    """Start (or resume, with an ``approvals`` map) a turn; replay with ``Last-Event-ID``."""
    state, account, session = state_of(request), account_of(request), _session(request)
    last_seen = request.headers.get("last-event-id", "").strip()
    if last_seen.isdigit():  # a reconnect: never a new turn
        return EventStream(state, session, int(last_seen), state.take_drop())
    body = await body_of(_Message, request)
    approvals = body.approvals or {}
    if not body.message.strip() and not approvals:
        msg = "Value error, message may be empty only when approvals is given"
        raise invalid(validation_detail(["body", "message"], msg, "value_error"))
    if session.running:
        raise fail(409, "turn_in_progress")
    state.sweep()
    waiting = session.paused_on
    if waiting is not None and state.approvals.get(waiting, {}).get("status") == "expired":
        session.paused_on = waiting = None  # nothing to wait on any more
    if waiting is not None and waiting not in approvals:
        raise fail(409, "approval_pending")
    at = state.stamp()
    session.messages.append({"message": body.message, "approvals": body.approvals, "at": at})
    session.running = True
    session.turn_start = session.last_event_id + 1
    state.spawn(play_turn(state, session, account, body.message, approvals))
    return EventStream(state, session, session.turn_start - 1, state.take_drop())


def _approval(request: Request) -> dict[str, Any]:
    state, account = state_of(request), account_of(request)
    state.sweep()
    approval_id = str(request.path_params["approval_id"])
    row = state.owned(state.approvals, approval_id, account.tenant_id, "approval_not_found")
    assert isinstance(row, dict)
    return row


async def list_approvals(request: Request) -> Response:
    state, account = state_of(request), account_of(request)
    query = parse(_ApprovalsQuery, query_data(request), "query")
    state.sweep()
    rows = [
        row
        for approval_id, row in reversed(state.approvals.items())
        if state.owners.get(approval_id) == account.tenant_id
        and (query.status is None or row["status"] == query.status)
        and (query.session_id is None or row["session_id"] == query.session_id)
    ]
    return JSONResponse({"items": rows[query.offset : query.offset + query.limit]})


async def get_approval(request: Request) -> Response:
    return JSONResponse(_approval(request))


async def resolve_approval(request: Request) -> Response:
    state, account = state_of(request), account_of(request)
    row = _approval(request)
    body = await body_of(_Resolve, request)
    return JSONResponse(state.resolve(row["id"], body.granted, account, body.reason))
