"""ASGI middleware of the sandbox: request journal, forced faults, and the spec's auth rules.

Order (outermost first): journal -> faults -> auth -> routes. The journal therefore records
every request, including those answered by a forced fault or refused by auth.
"""

from __future__ import annotations

import asyncio
import json
import re
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from integrations.sandbox.config import ForcedResponse
from integrations.sandbox.state import JournalEntry, SandboxState, key_fingerprint

__all__ = [
    "API_PREFIX",
    "AuthMiddleware",
    "FaultMiddleware",
    "JournalMiddleware",
    "base_url",
]

API_PREFIX = "/partner/v1"
INTERACTION_PATH = f"{API_PREFIX}/aauth/interaction"
_KEY_SHAPE = re.compile(r"og_api_[A-Za-z0-9_-]{8,200}")


def base_url(state: SandboxState, scope: Scope) -> str:
    """Where this sandbox is reachable, for absolute links in responses."""
    if state.config.public_base_url:
        return state.config.public_base_url.rstrip("/")
    return str(Request(scope).base_url).rstrip("/")


def _bearer(headers: Headers) -> str | None:
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return token if scheme.lower() == "bearer" else None


class JournalMiddleware:
    """Buffers the body, records a :class:`JournalEntry`, then replays the body to the app."""

    def __init__(self, app: ASGIApp, state: SandboxState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        raw = b"".join(chunks)
        headers = Headers(scope=scope)
        try:
            body: Any = json.loads(raw) if raw else None
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        token = _bearer(headers)
        entry = JournalEntry(
            method=scope["method"],
            path=scope["path"],
            query=parse_qs(scope.get("query_string", b"").decode("latin-1")),
            headers={k: v for k, v in headers.items() if k != "authorization"},
            body=body,
            raw_body=raw,
            key_fingerprint=key_fingerprint(token) if token else None,
            at=self.state.now(),
        )
        self.state.journal.append(entry)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": raw, "more_body": False}
            return await receive()

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                entry.status = message["status"]
            await send(message)

        await self.app(scope, replay, capture)


def _forced_response(forced: ForcedResponse) -> Response:
    body = forced.body
    if body is None:
        body = {"error": HTTPStatus(forced.status).phrase}
    if isinstance(body, bytes | str):
        return Response(body, status_code=forced.status, headers=dict(forced.headers))
    return JSONResponse(body, status_code=forced.status, headers=dict(forced.headers))


class FaultMiddleware:
    """Answers with the next queued :class:`ForcedResponse` matching the request, if any."""

    def __init__(self, app: ASGIApp, state: SandboxState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        forced = (
            self.state.take_forced(scope["method"], scope["path"])
            if scope["type"] == "http"
            else None
        )
        if forced is None:
            await self.app(scope, receive, send)
            return
        if forced.delay_s > 0:
            await asyncio.sleep(forced.delay_s)
        await _forced_response(forced)(scope, receive, send)


class AuthMiddleware:
    """The spec's credential rules for every ``/partner/v1`` path.

    Sets ``request.state.principal`` for the routes.
    """

    def __init__(self, app: ASGIApp, state: SandboxState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(f"{API_PREFIX}/"):
            await self.app(scope, receive, send)
            return
        refusal = self._check(scope)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _check(self, scope: Scope) -> Response | None:
        state = self.state
        headers = Headers(scope=scope)
        base = base_url(state, scope)
        if "authorization" not in headers:
            return JSONResponse(
                {
                    "error": "Authentication required. Send 'Authorization: Bearer og_api_<key>' "
                    "or sign the request as an AAuth agent."
                },
                status_code=401,
                headers={
                    "WWW-Authenticate": (
                        f'Bearer resource_metadata="{base}/.well-known/oauth-protected-resource"'
                    ),
                    "AAuth-Requirement": "requirement=agent-token",
                },
            )
        token = _bearer(headers)
        if token is None or not _KEY_SHAPE.fullmatch(token):
            return JSONResponse(
                {
                    "error": "Malformed API key: expected 'Bearer og_api_<secret>' (check for "
                    "stray whitespace or truncation).",
                    "code": "key_malformed",
                },
                status_code=401,
            )
        principal = state.principal_for(token)
        if principal is None:
            return JSONResponse({"error": "Invalid API key.", "code": "key_invalid"}, 401)
        retry_after = state.retry_after(token)
        if retry_after is not None:
            limit = state.config.rate_limit_per_minute
            return JSONResponse(
                {"error": f"Rate limit exceeded ({limit}/min). Try again shortly."},
                status_code=429,
                headers={"Retry-After": str(retry_after)},
            )
        if (
            principal.kind == "agent"
            and token not in state.upgraded_keys
            and scope["path"] != INTERACTION_PATH
        ):
            interaction = state.interaction_for(token)
            return JSONResponse(
                {"error": "Free trial exhausted. Direct the user to the upgrade URL to continue."},
                status_code=202,
                headers={
                    "AAuth-Requirement": (
                        f'requirement=interaction; url="{base}/sandbox/aauth/upgrade"; '
                        f'code="{interaction.code}"'
                    ),
                    "Location": f"{INTERACTION_PATH}?state={interaction.state}",
                },
            )
        if principal.kind != "negotiated" and "x-external-user-id" in headers:
            return JSONResponse(
                {
                    "error": "X-External-User-Id is not allowed for this credential: self-serve "
                    "keys and AAuth agents already identify a single user."
                },
                status_code=400,
            )
        scope.setdefault("state", {})["principal"] = principal
        return None
