"""The Voyagent sandbox's shared request helpers and its auth, health and settings routes."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from integrations.sandbox.responses import json_body, parse
from integrations.sandbox.voyagent_state import (
    DEFAULT_PASSWORD,
    Account,
    VoyagentSandboxState,
    fail,
)

__all__ = [
    "account_of",
    "body_of",
    "health",
    "me",
    "refresh",
    "sign_in",
    "sign_in_totp",
    "sign_out",
    "state_of",
    "tenant_settings",
]

M = TypeVar("M", bound=BaseModel)


def state_of(request: Request) -> VoyagentSandboxState:
    state = request.app.state.voyagent
    assert isinstance(state, VoyagentSandboxState)
    return state


def account_of(request: Request) -> Account:
    """The signed-in caller (set by the app's endpoint wrapper)."""
    account = request.state.account
    assert isinstance(account, Account)
    return account


async def body_of(model: type[M], request: Request) -> M:
    return parse(model, await json_body(request), "body")


class _SignIn(BaseModel):
    email: str = Field(max_length=320)
    password: str = Field(max_length=1024)


class _Totp(BaseModel):
    challenge_token: str = Field(max_length=256)
    code: str = Field(max_length=16)


class _Refresh(BaseModel):
    refresh_token: str = Field(max_length=256)


async def sign_in(request: Request) -> Response:
    state = state_of(request)
    body = await body_of(_SignIn, request)
    account = state.accounts.get(body.email.strip().casefold())
    if account is None:
        raise fail(401, "invalid_credentials")
    if body.password != DEFAULT_PASSWORD:
        state.record(account, account.tenant_id, "auth.sign_in", "wrong password", status="failed")
        raise fail(401, "invalid_credentials")
    if account.totp_enabled:
        return JSONResponse(state.open_challenge(account))
    state.record(account, account.tenant_id, "auth.sign_in", f"{account.email} signed in")
    return JSONResponse(state.issue(account))


async def sign_in_totp(request: Request) -> Response:
    state = state_of(request)
    body = await body_of(_Totp, request)
    account = state.answer_challenge(body.challenge_token, body.code.strip())
    summary = f"{account.email} signed in with 2FA"
    state.record(account, account.tenant_id, "auth.sign_in", summary, {"totp": True})
    return JSONResponse(state.issue(account))


async def refresh(request: Request) -> Response:
    state = state_of(request)
    body = await body_of(_Refresh, request)
    return JSONResponse(state.refresh(body.refresh_token))


async def sign_out(request: Request) -> Response:
    state = state_of(request)
    body = await body_of(_Refresh, request)
    state.sign_out(body.refresh_token)
    return Response(status_code=204)


async def me(request: Request) -> Response:
    return JSONResponse(account_of(request).public())


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def tenant_settings(request: Request) -> Response:
    state, account = state_of(request), account_of(request)
    settings: dict[str, Any] = {
        "tenant_id": account.tenant_id,
        "agency_name": account.agency_name,
        "currency": "EUR",
        "timezone": "Europe/Lisbon",
        "locale": "en-GB",
        "approval_ttl_minutes": max(1, round(state.config.approval_ttl_s / 60)),
        "default_markup_percent": "8.00",
    }
    return JSONResponse(settings)
