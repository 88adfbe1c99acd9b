"""A spec-following fake of the Onegent Execution API (``shared/specs/onegent-execution-api.md``).

``create_onegent_app(config)`` serves the four ``/api/v1`` endpoints with the spec's status
codes and ``{"error": {"code", "message"}}`` bodies (+ ``details``, a zod-like issue list,
for ``invalid_request``), the full auth ladder (``missing_authorization``,
``invalid_auth_scheme``, ``empty_api_key``, ``malformed_api_key``, ``invalid_api_key``,
``503 auth_backend_unavailable``), per-key allowed scenarios (``403
scenario_not_allowed``) and idempotent creates (same ``clientMetadata.idempotencyKey`` →
the same job). Jobs play the deterministic script of ``onegent_script`` (its outcome
markers are documented in ``onegent_config``); ``paused_payment`` hands off to this
server's own ``/handoff/{jobId}`` page. Any valid key may read any job, as the spec says
v1 does.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, NoReturn

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from integrations.sandbox.onegent_jobs import (
    API_PREFIX,
    audit_body,
    created_body,
    job_body,
    with_extras,
)
from integrations.sandbox.onegent_metrics import provider_metrics
from integrations.sandbox.onegent_state import (
    OnegentSandboxConfig,
    OnegentSandboxState,
    onegent_error,
)
from integrations.sandbox.onegent_validation import InvalidBody, validate_job_request
from integrations.sandbox.responses import ApiError

__all__ = ["create_onegent_app", "onegent_state"]

_KEY_SHAPE = re.compile(r"ogk_(live|test)_[A-Za-z0-9_-]{16,}")
_LEADING_INT = re.compile(r"\s*([-+]?\d+)")


def onegent_state(app: Starlette) -> OnegentSandboxState:
    """The state of an app made by :func:`create_onegent_app`."""
    state = app.state.onegent
    if not isinstance(state, OnegentSandboxState):
        raise TypeError("not an Onegent sandbox app")
    return state


def _state(request: Request) -> OnegentSandboxState:
    return onegent_state(request.app)


def _unauthorized(code: str, message: str) -> NoReturn:
    raise onegent_error(401, code, message)


def authorize(request: Request) -> str:
    """The caller's key, or the spec's auth error (malformed keys fail before the lookup)."""
    state = _state(request)
    header = request.headers.get("authorization", "").strip()
    if not header:
        _unauthorized("missing_authorization", "Missing Authorization header")
    scheme, _, rest = header.partition(" ")
    if scheme.lower() != "bearer":
        _unauthorized("invalid_auth_scheme", "Authorization header must use the Bearer scheme")
    key = rest.strip()
    if not key:
        _unauthorized("empty_api_key", "API key is empty")
    if _KEY_SHAPE.fullmatch(key) is None:
        _unauthorized("malformed_api_key", "API key is malformed")
    if state.config.auth_backend_down:
        raise onegent_error(503, "auth_backend_unavailable", "Auth backend is unavailable")
    if not state.known(key):
        _unauthorized("invalid_api_key", "API key is invalid or revoked")
    return key


def _int_query(request: Request, name: str, default: int, low: int, high: int) -> int:
    """``parseInt``-like (``"7days"`` → 7, junk → the default), clamped to [low, high]."""
    raw = request.query_params.get(name)
    match = _LEADING_INT.match(raw) if raw is not None else None
    value = int(match.group(1)) if match else default
    return min(high, max(low, value))


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# --------------------------------------------------------------------------- routes


async def create_job(request: Request) -> Response:
    state = _state(request)
    state.create_requests += 1
    raw = await request.body()
    body: Any = None
    parsed = True
    try:
        body = json.loads(raw, parse_constant=_no_constants)
    except (ValueError, UnicodeDecodeError):
        parsed = False
    state.raw_requests.append(raw)
    state.requests.append(body)
    key = authorize(request)
    if not parsed:
        raise onegent_error(400, "invalid_json", "Request body is not valid JSON")
    try:
        validated = validate_job_request(body)
    except InvalidBody as exc:
        raise onegent_error(
            400, "invalid_request", "Request body failed validation", details=exc.issues
        ) from exc
    if not state.config.may_run(key, validated.scenario):
        message = f"This API key may not run {validated.scenario} jobs"
        raise onegent_error(403, "scenario_not_allowed", message)
    job, _ = state.create_job(key, validated, str(request.base_url))
    created = created_body(
        job, state.config.organization_name, extra_fields=state.config.extra_fields
    )
    return JSONResponse(created, status_code=202)


def _job_id(request: Request) -> str:
    job_id = str(request.path_params.get("job_id", ""))
    if not job_id.strip():
        raise onegent_error(400, "missing_job_id", "jobId path parameter is required")
    return job_id


async def get_job(request: Request) -> Response:
    state = _state(request)
    raw_id = str(request.path_params.get("job_id", ""))
    state.polls[raw_id] = state.polls.get(raw_id, 0) + 1
    authorize(request)
    job = state.jobs.get(_job_id(request))
    if job is None:
        raise onegent_error(404, "job_not_found", "Job not found")
    config = state.config
    body = job_body(job, extra_fields=config.extra_fields, omit_handoff=config.omit_handoff)
    return JSONResponse(body)


async def get_audit(request: Request) -> Response:
    state = _state(request)
    authorize(request)
    job = state.jobs.get(_job_id(request))
    if job is None:
        raise onegent_error(404, "job_not_found", "Job not found")
    limit = _int_query(request, "limit", 500, 1, 2000)
    return JSONResponse(audit_body(job, limit, extra_fields=state.config.extra_fields))


async def get_provider_metrics(request: Request) -> Response:
    state = _state(request)
    authorize(request)
    provider_id = str(request.path_params.get("provider_id", ""))
    if not provider_id.strip():
        raise onegent_error(400, "missing_provider_id", "providerId path parameter is required")
    days = _int_query(request, "timeRangeDays", 30, 1, 365)
    body = with_extras(provider_metrics(provider_id, days), state.config.extra_fields)
    return JSONResponse(body)


_HANDOFF_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Complete payment (sandbox)</title></head>
<body>
<h1>Complete payment (sandbox)</h1>
<p>{summary}</p>
<p>Job <code>{job_id}</code>. This is the Onegent sandbox: no card is charged here.</p>
<form onsubmit="return false"><button type="submit">Pay (sandbox)</button></form>
</body></html>
"""


async def handoff_page(request: Request) -> Response:
    """Where ``paused_payment`` sends the user (no API key: it is opened in a browser)."""
    state = _state(request)
    job_id = str(request.path_params["job_id"])
    job = state.jobs.get(job_id)
    if job is None or job.handoff_url is None:
        return HTMLResponse("<h1>Unknown or expired hand-off</h1>", status_code=404)
    state.handoff_views[job_id] = state.handoff_views.get(job_id, 0) + 1
    page = _HANDOFF_PAGE.format(
        summary=html.escape(job.summary or "Payment pending"), job_id=html.escape(job_id)
    )
    return HTMLResponse(page)


# --------------------------------------------------------------------------- app


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return exc.response()


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    body = {"error": {"code": code, "message": str(exc.detail)}}
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


async def _server_error(request: Request, exc: Exception) -> Response:
    body = {"error": {"code": "internal_error", "message": "Internal server error"}}
    return JSONResponse(body, status_code=500)


def create_onegent_app(config: OnegentSandboxConfig | None = None) -> Starlette:
    """A fresh sandbox (own jobs, keys and counters) for ``config``."""
    state = OnegentSandboxState(config or OnegentSandboxConfig())

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await state.aclose()  # running job scripts stop here

    jobs = f"{API_PREFIX}/execution-jobs"
    providers = f"{API_PREFIX}/metrics/providers"
    routes = [
        Route(jobs, create_job, methods=["POST"]),
        Route(f"{jobs}/", get_job, methods=["GET"]),
        Route(f"{jobs}//audit", get_audit, methods=["GET"]),
        Route(f"{jobs}/{{job_id}}", get_job, methods=["GET"]),
        Route(f"{jobs}/{{job_id}}/audit", get_audit, methods=["GET"]),
        Route(providers, get_provider_metrics, methods=["GET"]),
        Route(f"{providers}/", get_provider_metrics, methods=["GET"]),
        Route(f"{providers}/{{provider_id}}", get_provider_metrics, methods=["GET"]),
        Route("/handoff/{job_id}", handoff_page, methods=["GET"]),
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
    app.state.onegent = state
    return app
