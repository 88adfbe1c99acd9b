"""Installing the app in any workspace: Slack OAuth v2 at `/slack/install` and
`/slack/oauth_redirect`, with slack-bolt's `AsyncOAuthFlow` over our own stores.

- `/slack/install` sets a state cookie and redirects to Slack's consent screen.
- `/slack/oauth_redirect` checks the state (signed, 10 minutes, usable once, and the same as
  the cookie of the browser that started), trades the code at `oauth.v2.access` (at
  `SLACK_API_URL`, like every Web API call), stores the installation sealed in our database
  and welcomes the installer in a DM. Every failure is a short page saying what to do next;
  nothing is stored then.

No file store is ever used: the installation store is `SlackInstallationStore` and the
state store `SignedStateStore` (the single use is claimed in the database).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aiohttp
from slack_bolt.oauth.async_callback_options import (
    AsyncCallbackOptions,
    AsyncFailureArgs,
    AsyncSuccessArgs,
)
from slack_bolt.oauth.async_oauth_flow import AsyncOAuthFlow
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.oauth.installation_store import Installation
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore
from slack_sdk.web.async_client import AsyncWebClient
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from bot.bind import PAGE_HEADERS
from bot.slack.clients import describe
from bot.slack.installations import InstallRefused
from storage import Database, repositories, token_hash

log = logging.getLogger(__name__)

INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
STATE_COOKIE = "concierge_slack_oauth_state"
STATE_TTL_S = 600
MAX_STATE = 200

_SLACK_ERRORS = (SlackClientError, aiohttp.ClientError, TimeoutError)


class SlackUnreachable(Exception):
    """`oauth.v2.access` could not be reached (or answered garbage)."""


class SignedStateStore(AsyncOAuthStateStore):
    """OAuth `state` values signed with a key derived from `CONCIERGE_SECRET_KEY`: they
    expire after `ttl_s`, and each is accepted once (claimed in the database)."""

    def __init__(self, *, key: bytes, db: Database, ttl_s: int = STATE_TTL_S) -> None:
        self._key = hashlib.sha256(b"concierge slack oauth state\x00" + key).digest()
        self._db = db
        self._ttl_s = ttl_s

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        body = f"{secrets.token_urlsafe(18)}.{int(time.time()) + self._ttl_s}"
        return f"{body}.{self._sign(body)}"

    async def async_consume(self, state: str) -> bool:
        if not state or len(state) > MAX_STATE or state.count(".") != 2:
            return False
        body, _, signature = state.rpartition(".")
        if not hmac.compare_digest(self._sign(body).encode(), signature.encode()):
            return False
        expires = body.rpartition(".")[2]
        if not expires.isdigit() or int(expires) < time.time():
            return False
        async with self._db.session() as session:
            return await repositories.claim_event(
                session, key=f"slack:oauth-state:{token_hash(state)}", source="slack_oauth"
            )

    def _sign(self, body: str) -> str:
        digest = hmac.new(self._key, body.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class ConciergeOAuthFlow(AsyncOAuthFlow):
    """bolt's flow, except that a failed code exchange is logged without the code, and an
    unreachable Slack is told apart from a refused code."""

    async def run_installation(self, code: str) -> Installation | None:
        try:
            answer = await self.client.oauth_v2_access(
                code=code,
                client_id=self.settings.client_id,
                client_secret=self.settings.client_secret,
                redirect_uri=self.settings.redirect_uri,
            )
        except SlackApiError as error:
            if error.response.status_code >= 500 or not isinstance(error.response.data, dict):
                raise SlackUnreachable(f"HTTP {error.response.status_code}") from error
            log.warning("oauth.v2.access refused the code: %s", describe(error))
            return None
        except _SLACK_ERRORS as error:
            raise SlackUnreachable(type(error).__name__) from error
        team = answer.get("team") or {}
        enterprise = answer.get("enterprise") or {}
        installer = answer.get("authed_user") or {}
        if not isinstance(team, dict) or not isinstance(installer, dict):
            raise SlackUnreachable("unexpected oauth.v2.access answer")
        bot_token = answer.get("access_token")
        bot_id = None
        if bot_token:
            try:
                bot_id = (await self.client.auth_test(token=bot_token)).get("bot_id")
            except (SlackApiError, *_SLACK_ERRORS) as error:
                log.warning("auth.test after install failed: %s", type(error).__name__)
        return Installation(
            app_id=answer.get("app_id"),
            enterprise_id=enterprise.get("id") if isinstance(enterprise, dict) else None,
            team_id=team.get("id"),
            team_name=team.get("name"),
            bot_token=bot_token,
            bot_id=bot_id,
            bot_user_id=answer.get("bot_user_id"),
            bot_scopes=answer.get("scope") or "",
            bot_refresh_token=answer.get("refresh_token"),
            bot_token_expires_in=answer.get("expires_in"),
            user_id=str(installer.get("id") or ""),
            is_enterprise_install=bool(answer.get("is_enterprise_install")),
            token_type=answer.get("token_type"),
        )


Installed = Callable[[Installation], Awaitable[None]]


def build_flow(
    *,
    client_id: str,
    client_secret: str,
    scopes: Sequence[str],
    redirect_uri: str,
    client: AsyncWebClient,
    installation_store: AsyncInstallationStore,
    state_store: AsyncOAuthStateStore,
    on_installed: Installed,
) -> ConciergeOAuthFlow:
    settings = AsyncOAuthSettings(
        client_id=client_id,
        client_secret=client_secret,
        scopes=list(scopes),
        user_scopes=[],
        redirect_uri=redirect_uri,
        install_path=INSTALL_PATH,
        install_page_rendering_enabled=False,
        redirect_uri_path=REDIRECT_PATH,
        installation_store=installation_store,
        installation_store_bot_only=True,
        state_store=state_store,
        state_cookie_name=STATE_COOKIE,
        state_expiration_seconds=STATE_TTL_S,
        logger=log,
    )
    pages = _Pages(on_installed)
    settings.callback_options = AsyncCallbackOptions(success=pages.success, failure=pages.failure)
    return ConciergeOAuthFlow(client=client, logger=log, settings=settings)


# ---- pages ------------------------------------------------------------------------------

_FAILURES: dict[str, tuple[int, str, str]] = {
    # reason → (status, title, what to do)
    "access_denied": (
        200,
        "Nothing was installed",
        "The installation was cancelled in Slack. You can start again whenever you like.",
    ),
    "invalid_browser": (
        400,
        "This install link can't be finished here",
        "It was started in another browser, or it expired. Start the installation again "
        "from the same browser.",
    ),
    "invalid_state": (
        400,
        "This install link has expired or was already used",
        "Each install link works once, for ten minutes. Start the installation again.",
    ),
    "missing_code": (
        400,
        "Slack sent no authorization code",
        "Start the installation again from the beginning.",
    ),
    "invalid_code": (
        400,
        "Slack did not accept this installation",
        "The authorization may have expired. Start the installation again.",
    ),
}


class _Pages:
    def __init__(self, on_installed: Installed) -> None:
        self._on_installed = on_installed

    async def success(self, args: AsyncSuccessArgs) -> BoltResponse:
        installation = args.installation
        await self._on_installed(installation)
        team = html.escape(installation.team_name or installation.team_id or "your workspace")
        app = installation.app_id
        open_url = f"slack://app?team={installation.team_id}&id={app}" if app else "slack://open"
        body = (
            f"<h1>Concierge is installed in {team}</h1>"
            '<p class="ok" role="status">I sent you a direct message in Slack with what I can do '
            "and how to connect this workspace to Outgoing.</p>"
            f'<p><a href="{html.escape(open_url, quote=True)}">Open Slack</a> · <a href="'
            f"https://app.slack.com/client/{html.escape(installation.team_id or '', quote=True)}"
            '">Slack in the browser</a></p>'
        )
        return _bolt_page(body, 200)

    async def failure(self, args: AsyncFailureArgs) -> BoltResponse:
        if isinstance(args.error, InstallRefused):
            status, title, hint = (
                400,
                "This kind of installation isn't supported",
                "Install Concierge in each workspace rather than across an organization.",
            )
        elif args.reason == "storage_error":
            status, title, hint = (
                503,
                "The installation could not be saved",
                "Nothing was installed. Please try again in a minute.",
            )
        else:
            status, title, hint = _FAILURES.get(
                args.reason,
                (400, "The installation didn't finish", "Start the installation again."),
            )
        log.info("Slack install failed: %s", args.reason)
        return _bolt_page(
            f"<h1>{html.escape(title)}</h1><p role='alert'>{html.escape(hint)}</p>" + _again(),
            status,
        )


def _again() -> str:
    return f'<p><a href="{INSTALL_PATH}">Start the installation again</a></p>'


def _bolt_page(body: str, status: int) -> BoltResponse:
    return BoltResponse(
        status=status,
        body=_document(body),
        headers={"Content-Type": "text/html; charset=utf-8", "X-Clear-State": "1"},
    )


def _document(body: str) -> str:
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Install Concierge in Slack</title>
<style>
body {{ font: 16px/1.5 system-ui, sans-serif; max-width: 36rem; margin: 2rem auto;
  padding: 0 1rem; color: #111; }}
.ok {{ border-left: 4px solid #0a7d32; padding: .5rem 1rem; background: #e9f7ef; }}
[role=alert] {{ border-left: 4px solid #b00020; padding: .5rem 1rem; background: #fdecee; }}
</style></head><body><main>{body}</main></body></html>"""


# ---- Starlette glue ---------------------------------------------------------------------


def bolt_request(request: Request) -> AsyncBoltRequest:
    return AsyncBoltRequest(
        body="",
        query=request.url.query,
        headers={k.lower(): v for k, v in request.headers.items()},
        mode="http",
    )


def to_response(answer: BoltResponse, *, secure_cookie: bool) -> Response:
    """bolt's answer as a Starlette response; the state cookie is set (install) or cleared
    (callback) with the flags this deployment needs."""
    headers = {
        k: v
        for k, v in answer.first_headers_without_set_cookie().items()
        if k.lower() not in {"content-length", "x-clear-state"}
    }
    # Never cached, never referred: the redirect carries the state, the pages are private.
    response = Response(answer.body, status_code=answer.status, headers={**headers, **PAGE_HEADERS})
    for cookie in answer.cookies():
        for name, morsel in cookie.items():
            if name == STATE_COOKIE:
                response.set_cookie(
                    name,
                    morsel.value,
                    max_age=STATE_TTL_S,
                    path="/slack/",
                    secure=secure_cookie,
                    httponly=True,
                    samesite="lax",
                )
    if answer.headers.get("x-clear-state"):
        response.delete_cookie(
            STATE_COOKIE, path="/slack/", secure=secure_cookie, httponly=True, samesite="lax"
        )
    return response


def unreachable_page() -> Response:
    return HTMLResponse(
        _document(
            "<h1>Slack can't be reached right now</h1><p role='alert'>Nothing was installed. "
            f"Please try again in a minute.</p>{_again()}"
        ),
        status_code=502,
        headers=PAGE_HEADERS,
    )
