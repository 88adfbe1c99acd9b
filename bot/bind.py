"""The two doors that bind partner keys to a workspace: the API and a small web page.

`POST /partner/v1/slack/workspaces/bind` follows the Outgoing spec's bind contract;
`GET/POST /bind` is a plain HTML form (no JavaScript) linked from the welcome DM. Both go
through `Workspaces.bind`, so the same rules apply. The page is CSRF-protected with a
double-submit token, never echoes a key back, and keeps the bind token out of referrers.

Both doors share one `BindThrottle` (`bot.throttle`): at most 10 failed attempts per client
address and 20 per workspace being bound in any 10 minutes; beyond that they answer 429 with
`Retry-After` (the page: a page saying how many minutes to wait; the API: the usual
`{"error", "code": "too_many_attempts"}`). What counts is a refusal by `Workspaces.bind`
(unknown, expired or used token; rejected or malformed key); binds, failures that are not the
client's (Outgoing unreachable) and requests refused before any token is tried (no key, no
token, CSRF, too large) do not. The token's workspace is read first (one indexed read) so a
workspace's limit holds across addresses; an unknown token counts for the address only. The
price of the workspace limit: someone holding a valid bind link can hold up that workspace's
binding for 10 minutes. One warning is logged per burst, naming the address or workspace,
never the token. The client address is the one the ASGI server
reports: the TCP peer, unless uvicorn's own proxy-header handling (`--forwarded-allow-ips`,
`FORWARDED_ALLOW_IPS`; by default only a proxy on 127.0.0.1 is trusted) replaced it; the app
itself never reads `X-Forwarded-For`.
"""

from __future__ import annotations

import hmac
import html
import json
import logging
import secrets
import time
from collections.abc import Callable
from typing import NamedTuple
from urllib.parse import parse_qs

from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bot.services import Services
from bot.throttle import Attempt, Blocked, FailureWindow, Limit, client_key
from conversations.workspaces import BIND_API_PATH, BindResult
from storage import repositories, token_hash
from storage.models import Workspace

log = logging.getLogger(__name__)

MAX_API_BODY = 4 * 1024
MAX_FORM_BODY = 16 * 1024
MAX_TOKEN = 200
PER_ADDRESS = Limit(attempts=10, window_s=600)
PER_WORKSPACE = Limit(attempts=20, window_s=600)
CSRF_COOKIE = "concierge_bind_csrf"
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}
OPTIONAL_KEYS = (
    ("onegent", "Onegent API key (restaurants, hotels, flights)"),
    ("call_agent", "AI Call Agent API key (phone calls)"),
    ("events", "Events matching API key"),
)


async def _read_capped(request: Request, limit: int) -> bytes | None:
    body = bytearray()
    try:
        async for chunk in request.stream():
            body.extend(chunk)
            if len(body) > limit:
                return None
    except ClientDisconnect:
        return None
    return bytes(body)


def _bearer(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _error(
    status: int, message: str, code: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    body: dict[str, str] = {"error": message}
    if code:
        body["code"] = code
    return JSONResponse(body, status_code=status, headers=headers)


class WorkspaceRef(NamedTuple):
    id: str
    label: str
    """`platform:external id`, for the log."""


class BindThrottle:
    """Failed bind attempts per client address and per workspace being bound, shared by both
    doors (counted in this process only: see `bot.throttle`)."""

    def __init__(
        self,
        per_address: Limit = PER_ADDRESS,
        per_workspace: Limit = PER_WORKSPACE,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.addresses = FailureWindow(per_address, clock=clock)
        self.workspaces = FailureWindow(per_workspace, clock=clock)

    def address_blocked(self, address: str) -> Blocked | None:
        blocked = self.addresses.blocked(address)
        if blocked is not None and blocked.first:
            self._warn("from address", address, self.addresses, blocked)
        return blocked

    def begin(self, address: str, workspace: WorkspaceRef | None) -> _Attempts | Blocked:
        """Reserve the attempt against the address and the token's workspace (None: the token
        is unknown), or refuse it. No await in here: check and reservation are one step."""
        blocked = self.address_blocked(address)
        if blocked is not None:
            return blocked
        attempts: list[Attempt] = []
        began = self.addresses.begin(address)
        assert isinstance(began, Attempt)  # just checked, and nothing ran in between
        attempts.append(began)
        if workspace is not None:
            for_workspace = self.workspaces.begin(workspace.id)
            if isinstance(for_workspace, Blocked):
                began.forgive()
                if for_workspace.first:
                    self._warn("for workspace", workspace.label, self.workspaces, for_workspace)
                return for_workspace
            attempts.append(for_workspace)
        return _Attempts(attempts)

    @staticmethod
    def _warn(what: str, who: str, window: FailureWindow, blocked: Blocked) -> None:
        log.warning(
            "bind attempts %s %s throttled: %d failed in %d minutes; refused for %d s",
            what,
            who,
            window.limit.attempts,
            round(window.limit.window_s / 60),
            blocked.retry_after_s,
        )


class _Attempts:
    def __init__(self, attempts: list[Attempt]) -> None:
        self._attempts = attempts

    def forgive(self) -> None:
        for attempt in self._attempts:
            attempt.forgive()


def _counts(result: BindResult) -> bool:
    """A refusal the client caused counts; a bind, or Outgoing being down (5xx), does not."""
    return not result.ok and result.status < 500


def _minutes(seconds: int) -> str:
    minutes = max(1, -(-seconds // 60))
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


def _retry_after(blocked: Blocked) -> dict[str, str]:
    return {"Retry-After": str(blocked.retry_after_s)}


def _api_wait(blocked: Blocked) -> JSONResponse:
    return _error(
        429,
        f"Too many bind attempts; try again in {_minutes(blocked.retry_after_s)}.",
        "too_many_attempts",
        headers=_retry_after(blocked),
    )


def _page_wait(blocked: Blocked) -> HTMLResponse:
    response = _page(
        "<h1>Too many attempts</h1><p role='alert'>There have been too many attempts to "
        f"connect a workspace just now. Please wait {_minutes(blocked.retry_after_s)}, then "
        "open the link you were sent again.</p>",
        429,
    )
    response.headers.update(_retry_after(blocked))
    return response


def _address(request: Request) -> str:
    return client_key(request.client.host if request.client is not None else None)


async def _workspace_of(services: Services, token: str) -> WorkspaceRef | None:
    """The workspace a bind token belongs to (expired or used alike), None if unknown."""
    if not token or len(token) > MAX_TOKEN:
        return None
    async with services.db.session(read_only=True) as session:
        found = await repositories.get_bind_token(session, token_hash=token_hash(token))
        workspace = await session.get(Workspace, found.workspace_id) if found else None
        if workspace is None:
            return None
        return WorkspaceRef(workspace.id, f"{workspace.platform}:{workspace.external_id}")


async def _bind(
    request: Request,
    throttle: BindThrottle,
    token: str,
    outgoing_key: str,
    other_keys: dict[str, str] | None = None,
) -> BindResult | Blocked:
    """`Workspaces.bind` behind the throttle."""
    services: Services = request.app.state.services
    workspace = await _workspace_of(services, token)
    attempts = throttle.begin(_address(request), workspace)
    if isinstance(attempts, Blocked):
        return attempts
    counted = False
    try:
        result = await services.workspaces.bind(
            token=token, outgoing_key=outgoing_key, other_keys=other_keys
        )
        counted = _counts(result)
    finally:
        if not counted:
            attempts.forgive()
    return result


async def bind_api(request: Request, throttle: BindThrottle) -> Response:
    """The spec's contract: Bearer key, `{"bind_token"}` → `{"ok", "team_id", "bound"}`."""
    blocked = throttle.address_blocked(_address(request))
    if blocked is not None:
        return _api_wait(blocked)
    key = _bearer(request)
    if key is None:
        return _error(
            401, "Send the Outgoing key as 'Authorization: Bearer og_api_…'.", "key_malformed"
        )
    raw = await _read_capped(request, MAX_API_BODY)
    if raw is None:
        return _error(413, "Request body too large.")
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: deeply nested arrays
        body = None
    token = body.get("bind_token") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token:
        detail = [{"loc": ["body", "bind_token"], "msg": "Field required", "type": "missing"}]
        return JSONResponse({"detail": detail}, status_code=422)
    result = await _bind(request, throttle, token, key)
    if isinstance(result, Blocked):
        return _api_wait(result)
    if not result.ok:
        return _error(result.status, result.message, result.code)
    return JSONResponse({"ok": True, "team_id": result.team_id, "bound": result.bound})


def _page(
    body: str, status: int = 200, csrf: str | None = None, *, secure: bool = False
) -> HTMLResponse:
    document = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Connect your workspace · Concierge</title>
<style>
body {{ font: 16px/1.5 system-ui, sans-serif; max-width: 36rem; margin: 2rem auto;
  padding: 0 1rem; color: #111; }}
label {{ display: block; margin-top: 1rem; font-weight: 600; }}
input {{ width: 100%; padding: .5rem; font: inherit; box-sizing: border-box; }}
button {{ margin-top: 1.5rem; padding: .6rem 1.2rem; font: inherit; }}
.hint {{ color: #444; font-size: .9rem; }}
.error {{ border-left: 4px solid #b00020; padding: .5rem 1rem; background: #fdecee; }}
.ok {{ border-left: 4px solid #0a7d32; padding: .5rem 1rem; background: #e9f7ef; }}
</style></head><body><main>{body}</main></body></html>"""
    response = HTMLResponse(document, status_code=status, headers=PAGE_HEADERS)
    if csrf is not None:
        response.set_cookie(
            CSRF_COOKIE,
            csrf,
            httponly=True,
            samesite="strict",
            secure=secure,
            path="/bind",
            max_age=3600,
        )
    return response


def _form(token: str, csrf: str, problem: str | None = None) -> str:
    alert = (
        f'<p class="error" role="alert" id="problem">{html.escape(problem)}</p>' if problem else ""
    )
    described = ' aria-describedby="problem"' if problem else ""
    token_field = (
        f'<input type="hidden" name="token" value="{html.escape(token, quote=True)}">'
        if token
        else '<label for="token">Bind token</label>'
        '<input id="token" name="token" required autocomplete="off">'
    )
    optional = "".join(
        f'<label for="{name}">{html.escape(label)} <span class="hint">(optional)</span></label>'
        f'<input id="{name}" name="{name}" type="password" autocomplete="off">'
        for name, label in OPTIONAL_KEYS
    )
    return f"""<h1>Connect your workspace</h1>
<p>Paste the Outgoing partner key this workspace should use. It is checked with Outgoing,
then stored encrypted; it is never shown again.</p>
{alert}
<form method="post" action="/bind">
<input type="hidden" name="csrf" value="{csrf}">
{token_field}
<label for="outgoing_key">Outgoing API key</label>
<input id="outgoing_key" name="outgoing_key" type="password" required autocomplete="off"
  placeholder="og_api_…"{described}>
<fieldset style="margin-top:1rem"><legend>Other partners</legend>{optional}</fieldset>
<button type="submit">Connect</button>
</form>"""


def _https(request: Request) -> bool:
    services: Services = request.app.state.services
    return services.settings.public_url.startswith("https://")


async def bind_page(request: Request, throttle: BindThrottle) -> Response:
    blocked = throttle.address_blocked(_address(request))
    if blocked is not None:
        return _page_wait(blocked)
    csrf = secrets.token_urlsafe(32)
    token = request.query_params.get("token", "")[:MAX_TOKEN]
    return _page(_form(token, csrf), csrf=csrf, secure=_https(request))


async def bind_submit(request: Request, throttle: BindThrottle) -> Response:
    blocked = throttle.address_blocked(_address(request))
    if blocked is not None:
        return _page_wait(blocked)
    raw = await _read_capped(request, MAX_FORM_BODY)
    if raw is None:
        return _page("<h1>That was too much</h1><p>The form was too large.</p>", 413)
    fields = {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}
    cookie = request.cookies.get(CSRF_COOKIE, "")
    sent = fields.get("csrf", "")
    if not cookie or not hmac.compare_digest(cookie.encode(), sent.encode()):
        return _page(
            "<h1>Please try again</h1><p role='alert'>This form expired or did not come from "
            "this page. <a href='/bind'>Open it again</a> from the link you were sent.</p>",
            403,
        )
    token = fields.get("token", "")[:MAX_TOKEN]
    result = await _bind(
        request,
        throttle,
        token,
        fields.get("outgoing_key", ""),
        {name: fields.get(name, "") for name, _ in OPTIONAL_KEYS},
    )
    if isinstance(result, Blocked):
        return _page_wait(result)
    if not result.ok:
        csrf = secrets.token_urlsafe(32)
        problem = _form(token, csrf, _page_problem(result))
        return _page(problem, result.status, csrf=csrf, secure=_https(request))
    done = "connected" if result.bound else "already connected with this key"
    return _page(
        f'<h1>All set</h1><p class="ok" role="status">Workspace '
        f"{html.escape(result.team_id or '')} is {done}. You can close this page and go back "
        "to the chat.</p>"
    )


def _page_problem(result: BindResult) -> str:
    if result.code == "key_invalid":
        return "Outgoing did not accept that key. Check that you copied the whole key."
    if result.code == "key_malformed":
        return "That doesn't look like an Outgoing key; it starts with og_api_."
    return result.message


def bind_routes(throttle: BindThrottle | None = None) -> list[BaseRoute]:
    """Both doors, sharing one throttle (a fresh one unless given, e.g. with a test clock)."""
    shared = throttle or BindThrottle()

    async def api(request: Request) -> Response:
        return await bind_api(request, shared)

    async def page(request: Request) -> Response:
        return await bind_page(request, shared)

    async def submit(request: Request) -> Response:
        return await bind_submit(request, shared)

    return [
        Route(BIND_API_PATH, api, methods=["POST"]),
        Route("/bind", page, methods=["GET"]),
        Route("/bind", submit, methods=["POST"]),
    ]
