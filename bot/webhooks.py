"""Partner callback routes. Each URL carries an unguessable per-resource token."""

from __future__ import annotations

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bot.services import Services
from conversations.booking.config import WEBHOOK_PATH
from conversations.booking.webhook import MAX_BODY, receive_booking_webhook

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


def webhook_routes() -> list[BaseRoute]:
    return [Route(WEBHOOK_PATH + "{token}", outgoing_booking, methods=["POST"])]
