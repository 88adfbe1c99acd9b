"""Slack Web API clients: one seam for bot tokens, one client per token, identities cached.

Single-workspace mode answers every team with `SLACK_BOT_TOKEN`; multi-workspace OAuth
plugs in another `TokenLookup` (installations in the database) without touching the rest.
Every client retries rate limits (`Retry-After`), connection resets and 5xx answers through
slack_sdk's retry handlers, so a 429 from `chat.postMessage` delays a reply instead of losing it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
from cachetools import LRUCache
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.authorization.async_authorize import AsyncAuthorize
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

log = logging.getLogger(__name__)

API_TIMEOUT_S = 20
REMEMBERED = 1000
SLACK_ERRORS = (SlackApiError, SlackClientError, aiohttp.ClientError, TimeoutError)


def describe(error: BaseException) -> str:
    """A Slack failure in a few words, for logs and for admins (never a token)."""
    if isinstance(error, SlackApiError):
        data = error.response.data
        code = data.get("error") if isinstance(data, dict) else None
        return str(code or error.response.status_code)
    return type(error).__name__


class TokenLookup(Protocol):
    """The bot token for a workspace, or None when the app is not installed there."""

    async def bot_token(self, *, team_id: str | None, enterprise_id: str | None) -> str | None: ...


class SingleWorkspaceTokens:
    """`SLACK_BOT_TOKEN` for whichever workspace asks (the app is installed in one)."""

    def __init__(self, token: str) -> None:
        self._token = token

    async def bot_token(self, *, team_id: str | None, enterprise_id: str | None) -> str | None:
        return self._token


@dataclass(frozen=True)
class BotIdentity:
    """Who the bot is in one workspace (from `auth.test`)."""

    team_id: str
    user_id: str
    bot_id: str
    scopes: frozenset[str] = frozenset()
    """What the workspace granted (`X-OAuth-Scopes`)."""


def retry_handlers() -> list[AsyncRetryHandler]:
    return [
        AsyncConnectionErrorRetryHandler(max_retry_count=2),
        AsyncRateLimitErrorRetryHandler(max_retry_count=3),
        AsyncServerErrorRetryHandler(max_retry_count=2),
    ]


class WebClient(AsyncWebClient):
    """slack_sdk's client, except that app credentials (`oauth.v2.access`) go in a plain
    Basic header instead of through aiohttp's deprecated `BasicAuth`."""

    async def api_call(
        self, api_method: str, *, auth: dict[str, str] | None = None, **kwargs: Any
    ) -> AsyncSlackResponse:
        if auth is not None:
            pair = f"{auth['client_id']}:{auth['client_secret']}".encode()
            headers = dict(kwargs.pop("headers", None) or {})
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
            kwargs["headers"] = headers
        return await super().api_call(api_method, **kwargs)


def web_client(
    base_url: str, *, token: str | None = None, session: aiohttp.ClientSession | None = None
) -> AsyncWebClient:
    """A Web API client at `SLACK_API_URL` (also the base of `oauth.v2.access`) that
    retries rate limits, resets and 5xx."""
    return WebClient(
        token=token,
        base_url=api_base_url(base_url),
        timeout=API_TIMEOUT_S,
        session=session,
        retry_handlers=retry_handlers(),
    )


def api_base_url(url: str) -> str:
    """slack_sdk joins method names onto the base; without a trailing `/` it drops `/api`."""
    return url if url.endswith("/") else url + "/"


class SlackClients:
    def __init__(
        self, *, base_url: str, tokens: TokenLookup, session: aiohttp.ClientSession | None = None
    ) -> None:
        self._base_url = api_base_url(base_url)
        self._tokens = tokens
        self._session = session
        # Tokens rotate: the newest clients and identities are kept, not all ever seen.
        self._clients: LRUCache[str, AsyncWebClient] = LRUCache(maxsize=REMEMBERED)
        self._identities: LRUCache[str, BotIdentity] = LRUCache(maxsize=REMEMBERED)
        self._identity_lock = asyncio.Lock()

    def client(self, token: str | None = None) -> AsyncWebClient:
        """A client for `token` (shared per token), or a token-less one (for bolt's app)."""
        key = _fingerprint(token) if token else ""
        client = self._clients.get(key)
        if client is None:
            client = web_client(self._base_url, token=token, session=self._session)
            self._clients[key] = client
        return client

    async def token_for(self, team_id: str | None) -> str | None:
        """The workspace's bot token (refreshed first when it is about to expire)."""
        return await self._tokens.bot_token(team_id=team_id, enterprise_id=None)

    async def client_for(
        self, team_id: str | None, enterprise_id: str | None = None
    ) -> AsyncWebClient | None:
        token = await self._tokens.bot_token(team_id=team_id, enterprise_id=enterprise_id)
        return self.client(token) if token else None

    async def identity(self, token: str) -> BotIdentity:
        """The bot user behind `token`, asked of `auth.test` once and remembered."""
        key = _fingerprint(token)
        known = self._identities.get(key)
        if known is not None:
            return known
        async with self._identity_lock:
            known = self._identities.get(key)
            if known is None:
                answer = await self.client(token).auth_test()
                scopes = str(answer.headers.get("x-oauth-scopes") or "")
                known = BotIdentity(
                    team_id=str(answer.get("team_id") or ""),
                    user_id=str(answer.get("user_id") or ""),
                    bot_id=str(answer.get("bot_id") or ""),
                    scopes=frozenset(s.strip() for s in scopes.split(",") if s.strip()),
                )
                self._identities[key] = known
        return known

    async def authorize(
        self, enterprise_id: str | None, team_id: str | None, user_id: str | None
    ) -> AuthorizeResult | None:
        """bolt's `authorize` seam: the token for the request's workspace and who we are."""
        token = await self._tokens.bot_token(team_id=team_id, enterprise_id=enterprise_id)
        if not token:
            log.warning("no Slack installation for team %s", team_id)
            return None
        me = await self.identity(token)
        return AuthorizeResult(
            enterprise_id=enterprise_id,
            team_id=team_id or me.team_id,
            bot_user_id=me.user_id,
            bot_id=me.bot_id,
            bot_token=token,
            user_id=user_id,
        )


class Authorize(AsyncAuthorize):
    """bolt's `authorize` seam (an `AsyncAuthorize`, so it may sit next to an OAuth flow)."""

    def __init__(self, clients: SlackClients) -> None:
        self._clients = clients

    async def __call__(
        self,
        *,
        context: AsyncBoltContext,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None,
        actor_enterprise_id: str | None = None,
        actor_team_id: str | None = None,
        actor_user_id: str | None = None,
    ) -> AuthorizeResult | None:
        return await self._clients.authorize(enterprise_id, team_id, user_id)


def _fingerprint(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
