"""A spec-following fake of the Events matching Partner API (``events-matching-partner-api.md``).

``create_events_app(config)`` serves every route of the spec at the server root with its
status codes, ``{"error": {"code", "message"}, "correlation_id"}`` bodies and the caller's
``x-correlation-id`` echoed (header and body; a fresh one when none was sent). Keys are
``Authorization: Bearer``; a ``partner:read`` key gets ``403 INSUFFICIENT_SCOPE`` on
writes. Runs move on as ``GET /runs/{id}`` is polled; their webhooks are echoed, never
delivered (as the spec says). Tests can queue errors with ``state.force``.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from integrations.sandbox import events_review as q
from integrations.sandbox import events_routes as r
from integrations.sandbox.events_state import EventsSandboxConfig, EventsSandboxState
from integrations.sandbox.events_validation import api_error
from integrations.sandbox.responses import ApiError

__all__ = ["create_events_app", "events_state"]

Handler = Callable[[Request], Awaitable[tuple[int, dict[str, Any]]]]
_CID = "x-correlation-id"


def events_state(app: Starlette) -> EventsSandboxState:
    """The state of an app made by :func:`create_events_app`."""
    state = app.state.events
    if not isinstance(state, EventsSandboxState):
        raise TypeError("not an Events sandbox app")
    return state


def _correlation_id(request: Request) -> str:
    sent = request.headers.get(_CID, "").strip()
    cid = sent if 0 < len(sent) <= 128 else f"cid_{uuid.uuid4().hex}"
    request.state.correlation_id = cid
    return cid


def _answer(request: Request, status: int, body: dict[str, Any]) -> Response:
    cid = getattr(request.state, "correlation_id", None) or _correlation_id(request)
    return JSONResponse({**body, "correlation_id": cid}, status_code=status, headers={_CID: cid})


def _authorize(request: Request, state: EventsSandboxState, write: bool) -> None:
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    scopes = state.config.keys.get(key.strip()) if scheme.lower() == "bearer" else None
    if scopes is None:
        raise api_error(401, "UNAUTHORIZED", "A valid Bearer API key is required")
    if write and "partner:write" not in scopes:
        raise api_error(403, "INSUFFICIENT_SCOPE", "This key has partner:read only")
    request.state.scopes = scopes


def _endpoint(handler: Handler, *, write: bool = False) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        state = events_state(request.app)
        state.correlation_ids.append(_correlation_id(request))
        _authorize(request, state, write)
        forced = state.forced.pop(0) if state.forced else None
        if forced is not None and not forced.after:
            raise api_error(forced.status, forced.code, "Forced by the sandbox")
        status, body = await handler(request)
        if forced is not None:
            raise api_error(forced.status, forced.code, "Forced by the sandbox")
        return _answer(request, status, body)

    return endpoint


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return _answer(request, exc.status, exc.body)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.status_code, "HTTP_ERROR")
    body = {"error": {"code": code, "message": str(exc.detail)}}
    return _answer(request, exc.status_code, body)


async def _server_error(request: Request, exc: Exception) -> Response:
    return _answer(request, 500, {"error": {"code": "INTERNAL", "message": "Internal error"}})


def create_events_app(config: EventsSandboxConfig | None = None) -> Starlette:
    """A fresh sandbox (its own org, events and runs) for ``config``."""
    ev = "/events/{event_id}"
    att = ev + "/attendees/{attendee_id}"
    reads: list[tuple[str, Handler]] = [
        ("/auth", r.auth),
        ("/id-map/{kind}/{partner_id}", r.id_map),
        ("/events", r.list_events),
        (ev, r.get_event),
        (ev + "/context", r.get_context),
        (ev + "/sessions", r.list_sessions),
        (ev + "/sessions/{session_id}", r.get_session),
        (ev + "/attendees", r.list_attendees),
        (att + "/identity", r.identity),
        (att + "/matches", q.attendee_matches),
        (ev + "/matches", q.event_matches),
        (ev + "/matches/{principal}/{target}", q.pair_match),
        ("/runs", r.list_runs),
        ("/runs/{run_id}", r.get_run),
        (ev + "/review-queue", q.event_review_queue),
        ("/review-queue", q.review_queue),
    ]
    writes: list[tuple[str, str, Handler]] = [
        ("POST", "/events", r.create_event),
        ("POST", ev + "/context", r.update_context),
        ("POST", ev + "/sessions", r.create_session),
        ("PUT", ev + "/attendees:import", r.import_attendees),
        ("POST", ev + "/enrichment-runs", r.enrichment_run),
        ("POST", ev + "/match-runs", r.match_run),
        ("POST", "/runs", r.create_run),
        ("POST", "/review-queue/{review_id}/resolve", q.resolve),
        ("POST", "/review-queue/{review_id}/merge", q.merge),
    ]
    routes = [Route(path, _endpoint(h, write=True), methods=[m]) for m, path, h in writes]
    routes += [Route(path, _endpoint(h), methods=["GET"]) for path, h in reads]
    app = Starlette(
        routes=routes,
        exception_handlers={
            ApiError: _api_error,
            HTTPException: _http_error,
            Exception: _server_error,
        },
    )
    app.state.events = EventsSandboxState(config or EventsSandboxConfig())
    return app
