"""A contract-following fake of the Voyagent agency API (``voyagent-api.md``).

``create_voyagent_app(config)`` serves the routes the concierge uses: auth (2FA, refresh
rotation with reuse detection), enquiries, chat sessions whose scripted agent streams its
turns over SSE (``Last-Event-ID`` replay, heartbeats, pauses at approvals), approvals,
reports, tenant settings and the admin-only audit log. Errors are FastAPI-style
``{"detail": "<code>"}``. Every request is counted in ``state.calls``; tests queue errors
with ``state.force`` and cut a stream with ``state.drop_next_stream``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from integrations.sandbox import voyagent_routes as auth
from integrations.sandbox import voyagent_routes_chat as chat
from integrations.sandbox import voyagent_routes_enquiries as enquiries
from integrations.sandbox import voyagent_routes_reports as reports
from integrations.sandbox.responses import ApiError, one_route
from integrations.sandbox.voyagent_state import VoyagentSandboxConfig, VoyagentSandboxState, fail

__all__ = ["create_voyagent_app", "voyagent_state"]

Handler = Callable[[Request], Awaitable[Response]]
_PUBLIC = "public"
_USER = "user"
_ADMIN = "admin"


def voyagent_state(app: Starlette) -> VoyagentSandboxState:
    """The state of an app made by :func:`create_voyagent_app`."""
    state = app.state.voyagent
    if not isinstance(state, VoyagentSandboxState):
        raise TypeError("not a Voyagent sandbox app")
    return state


def _endpoint(
    method: str, template: str, handler: Handler, access: str
) -> Callable[[Request], Awaitable[Response]]:
    """Count the call, answer a forced error, check the bearer token, then run ``handler``."""

    async def endpoint(request: Request) -> Response:
        state = voyagent_state(request.app)
        state.calls[(method, template)] += 1
        forced = state.take_forced(method, template, request.url.path)
        if forced is not None:
            headers = {"Retry-After": "1"} if forced.status == 429 else None
            raise fail(forced.status, forced.detail, headers)
        if access != _PUBLIC:
            scheme, _, token = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise fail(401, "not_authenticated", {"WWW-Authenticate": "Bearer"})
            account = state.authenticate(token.strip())
            if access == _ADMIN and account.role != "agency_admin":
                raise fail(403, "agency_admin_required")
            request.state.account = account
        return await handler(request)

    return endpoint


_ROUTES: tuple[tuple[str, str, Handler, str], ...] = (
    ("GET", "/health", auth.health, _PUBLIC),
    ("POST", "/auth/sign-in", auth.sign_in, _PUBLIC),
    ("POST", "/auth/sign-in-totp", auth.sign_in_totp, _PUBLIC),
    ("POST", "/auth/refresh", auth.refresh, _PUBLIC),
    ("POST", "/auth/sign-out", auth.sign_out, _PUBLIC),
    ("GET", "/auth/me", auth.me, _USER),
    ("GET", "/tenant-settings", auth.tenant_settings, _USER),
    ("POST", "/enquiries", enquiries.create_enquiry, _USER),
    ("GET", "/enquiries", enquiries.list_enquiries, _USER),
    ("GET", "/enquiries/{enquiry_id}", enquiries.get_enquiry, _USER),
    ("PATCH", "/enquiries/{enquiry_id}", enquiries.patch_enquiry, _USER),
    ("POST", "/enquiries/{enquiry_id}/promote-to-session", enquiries.promote, _USER),
    ("POST", "/chat/sessions", chat.create_session, _USER),
    ("GET", "/chat/sessions", chat.list_sessions, _USER),
    ("GET", "/chat/sessions/{session_id}", chat.get_session, _USER),
    ("PATCH", "/chat/sessions/{session_id}", chat.rename_session, _USER),
    ("DELETE", "/chat/sessions/{session_id}", chat.delete_session, _USER),
    ("POST", "/chat/sessions/{session_id}/messages", chat.post_message, _USER),
    ("GET", "/approvals", chat.list_approvals, _USER),
    ("GET", "/approvals/{approval_id}", chat.get_approval, _USER),
    ("POST", "/approvals/{approval_id}/resolve", chat.resolve_approval, _USER),
    ("GET", "/reports/itinerary", reports.itinerary, _USER),
    ("GET", "/reports/payables", reports.payables, _USER),
    ("GET", "/reports/receivables", reports.receivables, _USER),
    ("GET", "/reports/trial-balance", reports.trial_balance, _USER),
    ("GET", "/audit", reports.list_audit, _ADMIN),
    ("GET", "/audit/export.csv", reports.audit_csv, _ADMIN),
)


def _routes() -> list[BaseRoute]:
    by_path: dict[str, dict[str, Callable[[Request], Awaitable[Response]]]] = {}
    for method, path, handler, access in _ROUTES:
        by_path.setdefault(path, {})[method] = _endpoint(method, path, handler, access)
    return [one_route(path, endpoints) for path, endpoints in by_path.items()]


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return exc.response()


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


async def _server_error(request: Request, exc: Exception) -> Response:
    return JSONResponse({"detail": "internal_error"}, status_code=500)


def create_voyagent_app(config: VoyagentSandboxConfig | None = None) -> Starlette:
    """A fresh sandbox (its own accounts, tokens, enquiries and sessions) for ``config``."""
    state = VoyagentSandboxState(config or VoyagentSandboxConfig())

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await state.aclose()  # running agent turns stop here

    app = Starlette(
        routes=_routes(),
        exception_handlers={
            ApiError: _api_error,
            HTTPException: _http_error,
            Exception: _server_error,
        },
        lifespan=lifespan,
    )
    app.state.voyagent = state
    return app
