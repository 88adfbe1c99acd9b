"""Partner callback routes. Each URL carries an unguessable per-resource token.

What they answer to bodies that are not what the partner sends (tests/bot/test_webhook_bodies.py):
the Outgoing booking webhook (unsigned) gives one 404 for every failure, malformed JSON
included, so a prober learns nothing; the Call Agent's signed `ask_user` webhook gives 404 for
an unknown URL, 401 for a bad signature and 400 for a signed body that is not an `ask_user`
object. Both answer 413 past 64 KiB, before reading further. Never a 5xx.
"""

from __future__ import annotations

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bot.services import Services
from conversations.booking.config import WEBHOOK_PATH
from conversations.booking.webhook import MAX_BODY, receive_booking_webhook
from conversations.capabilities.callagent.access import WEBHOOK_PATH as CALL_WEBHOOK_PATH
from conversations.capabilities.callagent.webhook import MAX_BODY as CALL_MAX_BODY
from conversations.capabilities.callagent.webhook import WebhookOutcome, receive_ask_user
from conversations.capabilities.events import WEBHOOK_PATH as EVENTS_WEBHOOK_PATH
from conversations.capabilities.events.webhook import MAX_BODY as EVENTS_MAX_BODY
from conversations.capabilities.events.webhook import receive_run_hint

NOT_FOUND = JSONResponse({"error": "not found"}, status_code=404)


async def _capped_body(request: Request, limit: int) -> bytes | None:
    """The raw body, or None once it passes `limit` bytes (never buffered beyond that)."""
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            return None
    return bytes(body)


async def outgoing_booking(request: Request) -> Response:
    services: Services = request.app.state.services
    try:
        body = await _capped_body(request, MAX_BODY)
    except ClientDisconnect:
        return Response(status_code=400)
    if body is None:
        return JSONResponse({"error": "payload too large"}, status_code=413)
    outcome = await receive_booking_webhook(services.db, request.path_params["token"], body)
    if outcome.announced:
        services.outbox.wake()
    if outcome.status_code != 200:
        return NOT_FOUND
    return JSONResponse({"ok": True})


async def call_agent_question(request: Request) -> Response:
    """The Call Agent's backup `ask_user` webhook (signed over the raw body)."""
    services: Services = request.app.state.services
    access = services.deps.call_agent
    if access is None:
        return NOT_FOUND
    try:
        body = await _capped_body(request, CALL_MAX_BODY)
    except ClientDisconnect:
        return Response(status_code=400)
    if body is None:
        return JSONResponse({"error": "payload too large"}, status_code=413)
    try:
        outcome = await receive_ask_user(
            access, request.path_params["token"], body, request.headers
        )
    except RecursionError:
        # A signed body nested too deep for `json.loads` (inside `receive_ask_user`, after the
        # signature and before any write): malformed, like any other body that is no event.
        outcome = WebhookOutcome(400)
    if outcome.asked:
        services.outbox.wake()
    if outcome.status_code == 404:
        return NOT_FOUND
    if outcome.status_code == 401:
        return JSONResponse({"error": "invalid signature"}, status_code=401)
    if outcome.status_code == 400:
        return JSONResponse({"error": "not an ask_user event"}, status_code=400)
    return JSONResponse({"ok": True})


async def events_run(request: Request) -> Response:
    """An Events run moved on: a hint that wakes its job (the job's poll decides)."""
    services: Services = request.app.state.services
    try:
        body = await _capped_body(request, EVENTS_MAX_BODY)
    except ClientDisconnect:
        return Response(status_code=400)
    if body is None:
        return JSONResponse({"error": "payload too large"}, status_code=413)
    hint = await receive_run_hint(services.db, request.path_params["token"], body)
    if hint.woke:
        services.jobs.wake()
    if hint.status_code != 200:
        return NOT_FOUND
    return JSONResponse({"ok": True})


def webhook_routes() -> list[BaseRoute]:
    return [
        Route(WEBHOOK_PATH + "{token}", outgoing_booking, methods=["POST"]),
        Route(CALL_WEBHOOK_PATH + "{token}", call_agent_question, methods=["POST"]),
        Route(EVENTS_WEBHOOK_PATH + "{token}", events_run, methods=["POST"]),
    ]
