"""A spec-following fake of the AI Call Agent API (``shared/specs/ai-call-agent.openapi.json``).

``create_callagent_app(config)`` serves every path of the spec with its status codes and
FastAPI-shaped bodies (``{"detail": "…"}``, ``{"detail": {"code", "message"}}``, the 422
list). Calls follow the deterministic script of ``callagent_script``; their events stream
over SSE with backfill from ``Last-Event-ID``, 15 s heartbeats and a close shortly after
the outcome. Auth is ``X-API-Key`` (401 ``invalid api key``); another key's call is a
stealth 404, and recordings are for admin keys only.

This module holds the app and the call, booking and user routes; the SSE stream
(``callagent_events``) and the skill routes (``callagent_skills``) have modules of their
own, and their public names are re-exported here.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from urllib.parse import urlsplit

from pydantic import BaseModel, Field
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from integrations.callagent.models import (
    AnswerBody,
    AnswerResponse,
    BookingStatus,
    CancelResponse,
    ClearWebhookResponse,
    LimitsResponse,
    Me,
    MergedTranscript,
    QueuedCallResponse,
    SetLimitsRequest,
    SetWebhookRequest,
    SetWebhookResponse,
    StartCallBody,
    StartCallResponse,
    Turn,
)
from integrations.sandbox.callagent_config import OWNER_POD as OWNER_POD
from integrations.sandbox.callagent_events import HEARTBEAT as HEARTBEAT
from integrations.sandbox.callagent_events import call_events as call_events
from integrations.sandbox.callagent_requests import (
    callagent_state,
    caller_key,
    own_call,
    state_of,
)
from integrations.sandbox.callagent_skills import SKILL_ID, skill_fingerprint
from integrations.sandbox.callagent_skills import SUMMARY as SUMMARY
from integrations.sandbox.callagent_skills import RestaurantBookingInput as RestaurantBookingInput
from integrations.sandbox.callagent_skills import list_skills as list_skills
from integrations.sandbox.callagent_skills import run_skill as run_skill
from integrations.sandbox.callagent_skills import skill_manifest as skill_manifest
from integrations.sandbox.callagent_state import (
    CallAgentSandboxConfig,
    CallAgentSandboxState,
    Webhook,
)
from integrations.sandbox.responses import (
    ApiError,
    invalid,
    json_body,
    one_route,
    parse,
    query_data,
    respond,
    validation_detail,
)

__all__ = ["SKILL_ID", "callagent_state", "create_callagent_app", "skill_fingerprint"]

_FAKE_MP3 = b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x64" + b"\x00" * 413


class _Limit(BaseModel):
    limit: int = 100


class _BookingsQuery(BaseModel):
    status: str | None = None
    limit: int = Field(default=20, ge=1, le=100)


# --------------------------------------------------------------------------- calls


async def start_call(request: Request) -> Response:
    state, key = state_of(request), caller_key(request)
    state.start_requests += 1
    raw = await json_body(request)
    body = parse(StartCallBody, raw, "body")
    if not isinstance(raw, dict) or "ask_user_mode" not in raw:
        body = body.model_copy(update={"ask_user_mode": "any"})  # the spec's server default
    call = state.start_call(key, body)
    if call.status == "queued":
        queued = QueuedCallResponse(
            call_id=call.call_id, queue_id=call.queue_id or "", position=state.queue_position(call)
        )
        return respond(queued, 202)
    started = StartCallResponse(
        call=call.dto(details=False),
        task_id=call.task_id,
        credits_reserved=state.config.credits_per_call,
        owner_pod=OWNER_POD,
    )
    return respond(started, 201)


async def list_calls(request: Request) -> Response:
    state, key = state_of(request), caller_key(request)
    limit = max(0, parse(_Limit, query_data(request), "query").limit)
    mine = [c for c in reversed(state.call_list) if c.key == key][:limit]
    return JSONResponse([c.dto(details=False).model_dump(mode="json") for c in mine])


async def get_call(request: Request) -> Response:
    return respond(own_call(request, caller_key(request)).dto(details=True))


async def answer_call(request: Request) -> Response:
    state, key = state_of(request), caller_key(request)
    call = own_call(request, key)
    body = parse(AnswerBody, await json_body(request), "body")
    delivered = state.submit_answer(call, body.answer, body.request_id, body.mode)
    return respond(AnswerResponse(delivered=delivered))


async def cancel_call(request: Request) -> Response:
    """Never 404: unknown, foreign and final calls answer ``cancelled: false``."""
    state, key = state_of(request), caller_key(request)
    call = state.calls.get(request.path_params["call_id"])
    cancelled = call is not None and call.key == key and state.cancel(call)
    return respond(CancelResponse(cancelled=cancelled))


async def transcript_merged(request: Request) -> Response:
    call = own_call(request, caller_key(request))
    if not call.final:
        return JSONResponse({"status": "merger_pending"}, status_code=202)
    origin = call.started_at or call.created_at
    turns: list[Turn] = []
    for line in call.transcript:  # one timeline: a turn starts after the previous one
        spoken = round((datetime.fromisoformat(line["ts"]) - origin).total_seconds() * 1000)
        start = max(spoken, turns[-1].end_ms + 200 if turns else 0)
        end = start + 60 * len(line["text"])
        turns.append(
            Turn(
                speaker=line["role"],
                start_ms=start,
                end_ms=end,
                text=line["text"],
                source=line["source"],
            )
        )
    duration = turns[-1].end_ms if turns else 0
    merged = MergedTranscript(version=1, duration_ms=duration, calibration_delta_ms=0, turns=turns)
    return respond(merged)


async def recording(request: Request) -> Response:
    """Admin keys only; everyone else (the owner too) gets the same 404 as a missing call."""
    state, key = state_of(request), caller_key(request, query=True)
    call = state.calls.get(request.path_params["call_id"])
    if not state.is_admin(key) or call is None or call.call_sid is None:
        raise ApiError(404, {"detail": "Not Found"})
    if not call.final:
        return JSONResponse({"status": "recording_pending"}, status_code=202)
    download = request.query_params.get("download", "false").lower() in {"1", "true", "yes", "on"}
    disposition = "attachment" if download else "inline"
    headers = {"Content-Disposition": f'{disposition}; filename="call_{call.call_id}.mp3"'}
    return Response(_FAKE_MP3, media_type="audio/mpeg", headers=headers)


# --------------------------------------------------------------------------- bookings


async def list_bookings(request: Request) -> Response:
    state, key = state_of(request), caller_key(request)
    query = parse(_BookingsQuery, query_data(request), "query")
    allowed = [s.value for s in BookingStatus]
    if query.status is not None and query.status not in allowed:
        message = f"Invalid status {query.status!r}. Allowed: {', '.join(allowed)}."
        raise ApiError(400, {"detail": message})
    rows = [b for owner, b in reversed(state.bookings.values()) if owner == key]
    rows = [b for b in rows if query.status is None or b.status == query.status][: query.limit]
    return JSONResponse([b.model_dump(mode="json") for b in rows])


async def get_booking(request: Request) -> Response:
    state, key = state_of(request), caller_key(request)
    found = state.bookings.get(request.path_params["booking_id"])
    if found is None or found[0] != key:
        raise ApiError(404, {"detail": "Booking not found"})
    return respond(found[1])


# --------------------------------------------------------------------------- users


async def me(request: Request) -> Response:
    state, key = state_of(request), caller_key(request)
    webhook = state.webhooks.get(key)
    customer = state.customer_id(key)
    profile = Me(
        api_key_id="key_" + customer.removeprefix("cus_"),
        customer_id=customer,
        customer_name=state.config.customer_name,
        api_key_last_4=key[-4:],
        status="active",
        quota_limit=state.config.quota_limit,
        current_usage=state.usage.get(key, 0),
        quota_period="monthly",
        ask_user_webhook_url=webhook.url if webhook else None,
        ask_user_webhook_configured=webhook is not None,
        max_concurrent_calls=state.cap_of(key),
        is_admin=state.is_admin(key),
        maintenance=state.maintenance(),
    )
    return respond(profile)


async def set_webhook(request: Request) -> Response:
    state, key = state_of(request), caller_key(request)
    body = parse(SetWebhookRequest, await json_body(request), "body")
    parts = urlsplit(body.url)
    schemes = {"https", "http"} if state.config.allow_http_webhooks else {"https"}
    if parts.scheme.lower() not in schemes or not parts.hostname:
        msg = "Value error, webhook URL must be an absolute https:// URL"
        raise invalid(validation_detail(["body", "url"], msg, "value_error"))
    existing = state.webhooks.get(key)
    rotate = body.regenerate_secret or existing is None
    secret = secrets.token_urlsafe(32) if rotate or existing is None else existing.secret
    state.webhooks[key] = Webhook(url=body.url, secret=secret)
    return respond(SetWebhookResponse(url=body.url, secret=secret if rotate else None))


async def clear_webhook(request: Request) -> Response:
    state, key = state_of(request), caller_key(request)
    state.webhooks.pop(key, None)
    return respond(ClearWebhookResponse(cleared=True))


async def set_limits(request: Request) -> Response:
    state, key = state_of(request), caller_key(request)
    body = parse(SetLimitsRequest, await json_body(request), "body")
    state.limits[key] = body.max_concurrent_calls
    state.capacity_changed()
    return respond(LimitsResponse(max_concurrent_calls=body.max_concurrent_calls))


# --------------------------------------------------------------------------- app


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return exc.response()


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


async def _server_error(request: Request, exc: Exception) -> Response:
    return JSONResponse({"detail": "Internal Server Error"}, status_code=500)


def create_callagent_app(config: CallAgentSandboxConfig | None = None) -> Starlette:
    """A fresh sandbox (own calls, bookings, webhooks) for ``config``."""
    state = CallAgentSandboxState(config or CallAgentSandboxConfig())

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await state.aclose()  # running calls and webhook deliveries stop here

    routes = [
        one_route("/calls", {"POST": start_call, "GET": list_calls}),
        Route("/calls/{call_id}", get_call, methods=["GET"]),
        Route("/calls/{call_id}/answer", answer_call, methods=["POST"]),
        Route("/calls/{call_id}/events", call_events, methods=["GET"]),
        Route("/calls/{call_id}/recording", recording, methods=["GET"]),
        Route("/calls/{call_id}/transcript-merged", transcript_merged, methods=["GET"]),
        Route("/calls/{call_id}/cancel", cancel_call, methods=["POST"]),
        Route("/skills", list_skills, methods=["GET"]),
        Route("/skills/{skill_id}/manifest", skill_manifest, methods=["GET"]),
        Route("/skills/{skill_id}/run", run_skill, methods=["POST"]),
        Route("/v1/booking/bookings", list_bookings, methods=["GET"]),
        Route("/v1/booking/bookings/{booking_id}", get_booking, methods=["GET"]),
        Route("/users/me", me, methods=["GET"]),
        one_route("/users/me/webhook", {"PUT": set_webhook, "DELETE": clear_webhook}),
        Route("/users/me/limits", set_limits, methods=["PUT"]),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={
            ApiError: _api_error,
            HTTPException: _http_error,
            Exception: _server_error,
        },
        lifespan=lifespan,
    )
    app.state.callagent = state
    return app
