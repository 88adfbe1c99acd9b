"""The two doors that bind partner keys to a workspace: the API and a small web page.

`POST /partner/v1/slack/workspaces/bind` follows the Outgoing spec's bind contract;
`GET/POST /bind` is a plain HTML form (no JavaScript) linked from the welcome DM. Both go
through `Workspaces.bind`, so the same rules apply. The page is CSRF-protected with a
double-submit token, never echoes a key back, and keeps the bind token out of referrers.
"""

from __future__ import annotations

import hmac
import html
import json
import secrets
from urllib.parse import parse_qs

from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bot.services import Services
from conversations.workspaces import BIND_API_PATH, BindResult

MAX_API_BODY = 4 * 1024
MAX_FORM_BODY = 16 * 1024
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


def _error(status: int, message: str, code: str | None = None) -> JSONResponse:
    body: dict[str, str] = {"error": message}
    if code:
        body["code"] = code
    return JSONResponse(body, status_code=status)


async def bind_api(request: Request) -> Response:
    """The spec's contract: Bearer key, `{"bind_token"}` → `{"ok", "team_id", "bound"}`."""
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
    except ValueError:
        body = None
    token = body.get("bind_token") if isinstance(body, dict) else None
    if not isinstance(token, str) or not token:
        detail = [{"loc": ["body", "bind_token"], "msg": "Field required", "type": "missing"}]
        return JSONResponse({"detail": detail}, status_code=422)
    services: Services = request.app.state.services
    result = await services.workspaces.bind(token=token, outgoing_key=key)
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


async def bind_page(request: Request) -> Response:
    csrf = secrets.token_urlsafe(32)
    token = request.query_params.get("token", "")[:200]
    return _page(_form(token, csrf), csrf=csrf, secure=_https(request))


async def bind_submit(request: Request) -> Response:
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
    token = fields.get("token", "")[:200]
    services: Services = request.app.state.services
    result = await services.workspaces.bind(
        token=token,
        outgoing_key=fields.get("outgoing_key", ""),
        other_keys={name: fields.get(name, "") for name, _ in OPTIONAL_KEYS},
    )
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


def bind_routes() -> list[BaseRoute]:
    return [
        Route(BIND_API_PATH, bind_api, methods=["POST"]),
        Route("/bind", bind_page, methods=["GET"]),
        Route("/bind", bind_submit, methods=["POST"]),
    ]
