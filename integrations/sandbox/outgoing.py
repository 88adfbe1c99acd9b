"""A spec-following fake of the Outgoing Partner API (``/partner/v1``), as a Starlette app.

``create_outgoing_app(config)`` serves all eleven endpoints of
``shared/specs/outgoing-partner-api.openapi.json`` from the fixture catalogue, with the
spec's auth rules, status codes, headers and error bodies. A few extra routes outside
``/partner/v1`` make the flows usable locally: the RFC 9728 metadata named by the 401
challenge, the AAuth upgrade page, and ticket downloads.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import h3
from pydantic import AfterValidator, BaseModel, Field
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from integrations.outgoing.models import (
    BindWorkspaceRequest,
    BindWorkspaceResponse,
    BookingFilter,
    H3CellResponse,
    PricesResponse,
    ProvisionUserRequest,
    ProvisionUserResponse,
)
from integrations.sandbox import discovery
from integrations.sandbox.bookings import create_booking, orders_of, ticket_pdf
from integrations.sandbox.catalogue import H3_RESOLUTION, Activity
from integrations.sandbox.config import SandboxConfig
from integrations.sandbox.middleware import (
    API_PREFIX,
    AuthMiddleware,
    FaultMiddleware,
    JournalMiddleware,
    base_url,
)
from integrations.sandbox.responses import (
    ApiError,
    error,
    json_body,
    parse,
    parse_uuid,
    query_data,
    respond,
)
from integrations.sandbox.state import Principal, SandboxState, UserRecord

__all__ = ["create_outgoing_app", "sandbox_state"]

USUAL_PLANS = frozenset(
    {
        "visit-the-city",
        "fun-with-kids",
        "friends-hangout",
        "date-nights",
        "work-meetups",
        "meet-new-people",
        "staying-active",
        "pet-friendly",
        "nature-time",
        "accessible-wheelchair-outings",
    }
)
DIETARY_PREFERENCES = frozenset(
    {"vegan", "vegetarian", "kosher", "halal", "gluten_free", "pescatarian", "alcohol_free"}
)


def sandbox_state(app: Starlette) -> SandboxState:
    """The :class:`SandboxState` of an app made by :func:`create_outgoing_app`."""
    state = app.state.sandbox
    if not isinstance(state, SandboxState):
        raise TypeError("not an Outgoing sandbox app")
    return state


def _state(request: Request) -> SandboxState:
    return sandbox_state(request.app)


def _principal(request: Request) -> Principal:
    principal = request.state.principal
    assert isinstance(principal, Principal)
    return principal


def _external_user(request: Request, *, required: bool) -> str | None:
    """The user a negotiated key acts for; ``None`` for single-user credentials."""
    if _principal(request).kind != "negotiated":
        return None
    user = request.headers.get("x-external-user-id")
    if required and not user:
        raise error(
            400, "X-External-User-Id header is required for negotiated (multi-user) API keys."
        )
    return user


def _activity(request: Request) -> Activity:
    activity_id = parse_uuid(request.path_params["activity_id"], "activity_id")
    activity = _state(request).catalogue.get(activity_id)
    if activity is None:
        raise error(404, "Activity not found")
    return activity


def _debug(request: Request) -> bool:
    return request.query_params.get("debug", "").lower() in {"1", "true", "yes", "on"}


def _h3_res7(value: str) -> str:
    shaped = re.fullmatch(r"[0-9a-fA-F]{15}", value) is not None
    if not shaped or not h3.is_valid_cell(value) or h3.get_resolution(value) != H3_RESOLUTION:
        raise ValueError(f"h3_cell must be a valid H3 resolution-{H3_RESOLUTION} cell index")
    return value.lower()


class _HomescreenQuery(BaseModel):
    h3_cell: Annotated[str, AfterValidator(_h3_res7)]
    limit: int | None = Field(default=None, ge=1, le=250)
    usual_plans: list[str] | None = None
    shelved: bool = False
    booking_filter: BookingFilter = BookingFilter.ALL


class _H3Query(BaseModel):
    lat: float = Field(ge=-90, le=90)
    lng: float = Field(ge=-180, le=180)
    resolution: int = Field(default=H3_RESOLUTION, ge=0, le=15)


class _SearchQuery(BaseModel):
    prompt: str
    location: str | None = None


class _InteractionQuery(BaseModel):
    state: str


# --------------------------------------------------------------------------- endpoints


async def check_auth(request: Request) -> Response:
    return JSONResponse({"ok": True})


async def provision_user(request: Request) -> Response:
    state, principal = _state(request), _principal(request)
    if principal.kind != "negotiated":
        raise error(403, "POST /partner/v1/users is available only to negotiated keys.")
    profile = parse(ProvisionUserRequest, await json_body(request), "body")
    header_user = request.headers.get("x-external-user-id")
    if header_user is not None and header_user != profile.external_user_id:
        raise error(400, "X-External-User-Id does not match external_user_id in the body.")
    for name, values, valid in (
        ("usual_plans", profile.usual_plans, USUAL_PLANS),
        ("dietary_preferences", profile.dietary_preferences, DIETARY_PREFERENCES),
    ):
        unknown = sorted(set(values) - valid)
        if unknown:
            allowed = ", ".join(sorted(valid))
            raise error(400, f"Invalid {name}: {', '.join(unknown)}. Valid values: {allowed}.")

    ref = (principal.key, profile.external_user_id)
    existing = state.users.get(ref)
    if existing is not None:
        if not existing.linked:
            existing.profile = profile
        answer = ProvisionUserResponse(
            external_user_id=profile.external_user_id,
            created=False,
            linked=existing.linked,
            updated=not existing.linked,
        )
        return respond(answer, 201)
    linked = any(
        (profile.email and u.profile.email and u.profile.email.lower() == profile.email.lower())
        or (profile.phone and u.profile.phone == profile.phone)
        for u in state.users.values()
    )
    state.users[ref] = UserRecord(
        key=principal.key,
        external_user_id=profile.external_user_id,
        profile=profile,
        linked=linked,
        created_at=state.now(),
    )
    answer = ProvisionUserResponse(
        external_user_id=profile.external_user_id,
        created=not linked,
        linked=linked,
        updated=not linked,
    )
    return respond(answer, 201)


async def get_homescreen(request: Request) -> Response:
    state = _state(request)
    query = parse(_HomescreenQuery, query_data(request, lists=("usual_plans",)), "query")
    shelves = discovery.homescreen(
        state.catalogue,
        query.h3_cell,
        usual_plans=query.usual_plans or [],
        shelved=query.shelved,
        booking_filter=query.booking_filter,
        limit=query.limit or 250,
        k_rings=state.config.homescreen_k_rings,
        now=state.now(),
        debug=_debug(request),
    )
    cache = f"private, max-age={state.config.homescreen_cache_max_age_s}"
    return respond(shelves, headers={"Cache-Control": cache})


async def get_h3(request: Request) -> Response:
    query = parse(_H3Query, query_data(request), "query")
    cell = str(h3.latlng_to_cell(query.lat, query.lng, query.resolution))
    return respond(
        H3CellResponse(h3_cell=cell, resolution=query.resolution, lat=query.lat, lng=query.lng)
    )


async def search(request: Request) -> Response:
    state, principal = _state(request), _principal(request)
    query = parse(_SearchQuery, query_data(request), "query")
    user = _external_user(request, required=False)
    record = state.user(principal.key, user) if user else None
    default_city = record.profile.city if record else None
    if state.config.search_latency_s > 0:
        await asyncio.sleep(state.config.search_latency_s)
    answer = discovery.search(
        state.catalogue,
        query.prompt,
        query.location,
        default_city=default_city,
        limit=state.config.search_max_results,
    )
    return respond(answer)


async def get_activity(request: Request) -> Response:
    _external_user(request, required=True)
    activity = _activity(request)
    state = _state(request)
    return respond(activity.to_detail(now=state.now(), debug=_debug(request)))


async def get_prices(request: Request) -> Response:
    activity = _activity(request)
    state = _state(request)
    if state.config.prices_latency_s > 0:
        await asyncio.sleep(state.config.prices_latency_s)
    if activity.price_scrape == "error":
        answer = PricesResponse(activity_id=activity.activity_id, scrape_status="error")
    else:
        answer = PricesResponse(
            activity_id=activity.activity_id,
            ticket_price=activity.ticket_price,
            scrape_status="success" if activity.ticket_price else "no_prices",
        )
    return respond(answer)


async def list_orders(request: Request) -> Response:
    user = _external_user(request, required=True)
    return respond(orders_of(_state(request), _principal(request).key, user or ""))


async def post_booking(request: Request) -> Response:
    state = _state(request)
    principal = _principal(request)
    if principal.kind != "negotiated":
        raise error(403, "POST /partner/v1/bookings is available only to negotiated keys.")
    body = await json_body(request)
    return create_booking(
        state,
        principal,
        body,
        request.headers.get("x-external-user-id"),
        base_url(state, request.scope),
    )


async def bind_workspace(request: Request) -> Response:
    state, principal = _state(request), _principal(request)
    payload = parse(BindWorkspaceRequest, await json_body(request), "body")
    token = state.bind_tokens.get(payload.bind_token)
    if token is None:
        raise error(404, "Unknown bind token.")
    if token.expires_at is not None and state.now() >= token.expires_at:
        raise error(400, "This bind token has expired; ask the bot for a new one.")
    owner = state.bound_teams.get(token.team_id)
    if owner is None:
        state.bound_teams[token.team_id] = principal.key
    elif owner != principal.key:
        raise error(409, "This Slack workspace is already bound to another API key.")
    answer = BindWorkspaceResponse(ok=True, team_id=token.team_id, bound=owner is None)
    return respond(answer)


async def poll_interaction(request: Request) -> Response:
    state, principal = _state(request), _principal(request)
    query = parse(_InteractionQuery, query_data(request), "query")
    interaction = state.interactions.get(query.state)
    if interaction is None or interaction.key != principal.key:
        raise error(404, "Unknown interaction state.")
    if interaction.completed:
        return JSONResponse({"status": "completed"})
    return JSONResponse({"status": "pending"}, status_code=202)


# --------------------------------------------------------------------------- sandbox extras


async def resource_metadata(request: Request) -> Response:
    base = base_url(_state(request), request.scope)
    return JSONResponse(
        {
            "resource": f"{base}{API_PREFIX}",
            "resource_name": "Outgoing Partner API (sandbox)",
            "bearer_methods_supported": ["header"],
        }
    )


async def upgrade_page(request: Request) -> Response:
    """The browser page an AAuth interaction sends the user to; visiting it completes it."""
    code = request.query_params.get("code", "")
    if not _state(request).complete_interaction(code):
        return HTMLResponse("<h1>Unknown upgrade code</h1>", status_code=404)
    return HTMLResponse("<h1>Upgrade complete</h1><p>You can return to your agent.</p>")


async def ticket_download(request: Request) -> Response:
    booking = _state(request).bookings.get(request.path_params["booking_id"])
    number = int(request.path_params["number"])
    if booking is None or not 1 <= number <= len(booking.download_urls):
        raise error(404, "Ticket not found")
    return Response(ticket_pdf(booking, number), media_type="application/pdf")


# --------------------------------------------------------------------------- app


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return exc.response()


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=exc.headers)


async def _server_error(request: Request, exc: Exception) -> Response:
    return JSONResponse({"error": "Internal server error"}, status_code=500)


def create_outgoing_app(config: SandboxConfig | None = None) -> Starlette:
    """A fresh sandbox (own catalogue, journal, users and bookings) for ``config``."""
    state = SandboxState(config or SandboxConfig())

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await state.aclose()

    p = API_PREFIX
    routes = [
        Route(f"{p}/auth", check_auth, methods=["GET"]),
        Route(f"{p}/users", provision_user, methods=["POST"]),
        Route(f"{p}/homescreen", get_homescreen, methods=["GET"]),
        Route(f"{p}/h3", get_h3, methods=["GET"]),
        Route(f"{p}/search", search, methods=["GET"]),
        Route(f"{p}/activities/{{activity_id}}", get_activity, methods=["GET"]),
        Route(f"{p}/activities/{{activity_id}}/prices", get_prices, methods=["GET"]),
        Route(f"{p}/orders", list_orders, methods=["GET"]),
        Route(f"{p}/bookings", post_booking, methods=["POST"]),
        Route(f"{p}/slack/workspaces/bind", bind_workspace, methods=["POST"]),
        Route(f"{p}/aauth/interaction", poll_interaction, methods=["GET"]),
        Route("/.well-known/oauth-protected-resource", resource_metadata, methods=["GET"]),
        Route("/sandbox/aauth/upgrade", upgrade_page, methods=["GET"]),
        Route("/sandbox/tickets/{booking_id}/{number:int}.pdf", ticket_download, methods=["GET"]),
    ]
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(JournalMiddleware, state=state),
            Middleware(FaultMiddleware, state=state),
            Middleware(AuthMiddleware, state=state),
        ],
        exception_handlers={
            ApiError: _api_error,
            HTTPException: _http_error,
            Exception: _server_error,
        },
        lifespan=lifespan,
    )
    app.state.sandbox = state
    return app
